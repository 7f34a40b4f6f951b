package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"sync"
	"time"
)

// stdioTracker sits between the MCP server and stdin/stdout. It notes the
// JSON-RPC requests read and the replies written, and holds back the end
// of stdin until every request read has its reply, so that a client that
// sends its requests and closes its end still gets all the answers. MCP's
// stdio messages are one JSON value per line.
type stdioTracker struct {
	ctx     context.Context
	maxWait time.Duration

	mu      sync.Mutex
	pending map[string]bool // request IDs (raw JSON) without a reply
	changed chan struct{}   // closed at each reply
}

// maxTrackedLine bounds the bytes kept to find a message's ID; longer
// lines (big tool arguments) are passed on untracked.
const maxTrackedLine = 16 << 20

func newStdioTracker(ctx context.Context, maxWait time.Duration) *stdioTracker {
	return &stdioTracker{ctx: ctx, maxWait: maxWait, pending: map[string]bool{}, changed: make(chan struct{})}
}

func (t *stdioTracker) reader(r io.Reader) io.ReadCloser {
	return &trackedReader{t: t, r: r, lines: lineSplitter{fn: t.incoming}}
}

func (t *stdioTracker) writer(w io.Writer) io.WriteCloser {
	return &trackedWriter{w: w, lines: lineSplitter{fn: t.outgoing}}
}

// rpcMessage is what the tracker reads of a JSON-RPC message.
type rpcMessage struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params struct {
		RequestID json.RawMessage `json:"requestId"`
	} `json:"params"`
}

// messages decodes a line: one message or a batch.
func messages(line []byte) []rpcMessage {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return nil
	}
	if line[0] == '[' {
		var batch []rpcMessage
		if json.Unmarshal(line, &batch) != nil {
			return nil
		}
		return batch
	}
	var m rpcMessage
	if json.Unmarshal(line, &m) != nil {
		return nil
	}
	return []rpcMessage{m}
}

func idKey(raw json.RawMessage) string {
	var b bytes.Buffer
	if len(raw) == 0 || json.Compact(&b, raw) != nil || b.String() == "null" {
		return ""
	}
	return b.String()
}

// incoming notes requests; a cancelled request needs no reply.
func (t *stdioTracker) incoming(line []byte) {
	for _, m := range messages(line) {
		switch {
		case m.Method == "notifications/cancelled":
			t.done(idKey(m.Params.RequestID))
		case m.Method != "" && idKey(m.ID) != "":
			t.mu.Lock()
			t.pending[idKey(m.ID)] = true
			t.mu.Unlock()
		}
	}
}

// outgoing notes replies (messages with an ID and no method).
func (t *stdioTracker) outgoing(line []byte) {
	for _, m := range messages(line) {
		if m.Method == "" {
			t.done(idKey(m.ID))
		}
	}
}

func (t *stdioTracker) done(id string) {
	if id == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pending[id] {
		delete(t.pending, id)
		close(t.changed)
		t.changed = make(chan struct{})
	}
}

// drain waits until every request has its reply, or maxWait, or ctx.
func (t *stdioTracker) drain() {
	deadline := time.NewTimer(t.maxWait)
	defer deadline.Stop()
	for {
		t.mu.Lock()
		n, ch := len(t.pending), t.changed
		t.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			return
		case <-t.ctx.Done():
			return
		}
	}
}

// lineSplitter calls fn with each complete line written to it.
type lineSplitter struct {
	fn   func([]byte)
	buf  []byte
	skip bool // the current line is too long to track
}

func (l *lineSplitter) write(p []byte) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		if !l.skip {
			if len(l.buf)+len(chunk) > maxTrackedLine {
				l.skip, l.buf = true, nil
			} else {
				l.buf = append(l.buf, chunk...)
			}
		}
		if i < 0 {
			return
		}
		if !l.skip {
			l.fn(l.buf)
		}
		l.buf, l.skip = l.buf[:0], false
		p = p[i+1:]
	}
}

type trackedReader struct {
	t     *stdioTracker
	r     io.Reader
	lines lineSplitter
	eof   bool
}

func (r *trackedReader) Read(p []byte) (int, error) {
	if r.eof {
		r.t.drain()
		return 0, io.EOF
	}
	n, err := r.r.Read(p)
	r.lines.write(p[:n])
	if err == io.EOF {
		r.lines.write([]byte{'\n'}) // a last line without its newline
		r.eof = true
		if n > 0 {
			// The server has not seen these bytes yet: EOF comes next.
			return n, nil
		}
		r.t.drain()
	}
	return n, err
}

func (r *trackedReader) Close() error { return nil }

type trackedWriter struct {
	mu    sync.Mutex
	w     io.Writer
	lines lineSplitter
}

func (w *trackedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.w.Write(p)
	w.lines.write(p[:n])
	return n, err
}

func (w *trackedWriter) Close() error { return nil }
