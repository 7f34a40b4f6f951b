package localserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/cctoolkit/cloudconvert/localserver/engine"
	"github.com/cctoolkit/cloudconvert/localserver/store"
)

// outcome is what a successful task produced.
type outcome struct {
	files           []fileRef
	metadata        map[string]any
	engine, version string
	credits         int
}

// taskErr is a task failure: code and message land on the task.
type taskErr struct{ code, msg string }

func terr(code, format string, args ...any) *taskErr {
	return &taskErr{code: code, msg: fmt.Sprintf(format, args...)}
}

// engineOps are performed by the engine registry.
var engineOps = map[string]bool{"convert": true, "optimize": true, "thumbnail": true, "merge": true,
	"metadata": true, "archive": true, "capture-website": true}

// SupportedOperations lists what the local server performs.
func SupportedOperations() []string {
	ops := []string{"import/url", "import/upload", "import/base64", "import/raw", "export/url"}
	for op := range engineOps {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	return ops
}

func (s *Server) execute(ctx context.Context, t *Task, inputs []fileRef, progress func(int)) (out outcome, te *taskErr) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("localserver: task panic", "task", t.ID, "operation", t.Operation, "panic", p)
			out, te = outcome{}, terr(CodeInternal, "the task crashed: %v", p)
		}
		if te != nil && errors.Is(context.Cause(ctx), errTaskTimeout) {
			out, te = outcome{}, terr(CodeTimeout, "The task ran out of time: it did not finish within %s, the server's per-task time limit "+
				"(Config.TaskTimeout, cloudconvert serve --task-timeout); split the work (e.g. fewer pages) or raise the limit", s.cfg.TaskTimeout)
		}
	}()
	switch op := t.Operation; {
	case op == "import/url":
		return s.importURL(ctx, t)
	case op == "import/base64", op == "import/raw":
		return s.importInline(ctx, t)
	case op == "export/url":
		return s.exportURL(ctx, t, inputs)
	case engineOps[op]:
		return s.runEngine(ctx, t, inputs, progress)
	default:
		return outcome{}, terr(CodeOperationNotSupported, "The operation %s is not supported by the local CloudConvert server; it supports: %s",
			op, strings.Join(SupportedOperations(), ", "))
	}
}

func payloadString(p map[string]any, key string) string {
	if v, ok := p[key].(string); ok {
		return v
	}
	return ""
}

// saveErr maps a store failure to a task error.
func (s *Server) saveErr(err error) *taskErr {
	if errors.Is(err, store.ErrFileTooLarge) {
		return terr(CodeFileTooLarge, "The file is larger than the limit of %d bytes", s.cfg.MaxFileSize)
	}
	return terr(CodeInternal, "The file could not be stored: %v", err)
}

func (s *Server) ref(f store.FileRecord) fileRef {
	return fileRef{ID: f.ID, Name: f.Name, Size: f.Size, MD5: f.MD5, Expires: f.ExpiresAt}
}

func (s *Server) importURL(ctx context.Context, t *Task) (outcome, *taskErr) {
	raw := payloadString(t.Payload, "url")
	u, err := url.Parse(raw)
	if raw == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return outcome{}, terr(CodeInvalidPayload, "import/url needs an http or https url, got %q", raw)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ImportTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return outcome{}, terr(CodeInvalidPayload, "import/url: bad url %q: %v", raw, err)
	}
	var userHeaders []string
	if h, ok := t.Payload["headers"].(map[string]any); ok {
		for k, v := range h {
			if sv, ok := v.(string); ok {
				req.Header.Set(k, sv)
				userHeaders = append(userHeaders, k)
			}
		}
	}
	req.Header.Set("User-Agent", "cloudconvert-local/1")
	// The client's headers (credentials for this host, often) are dropped
	// when a redirect leads to another origin.
	resp, err := withUserHeaders(s.hc, userHeaders).Do(req)
	if err != nil {
		if ctx.Err() != nil && s.ctx.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return outcome{}, terr(CodeImportFailed, "Could not download %s: no answer within %s", u.Redacted(), s.cfg.ImportTimeout)
		}
		return outcome{}, terr(CodeImportFailed, "%s", fetchFailure(u, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return outcome{}, terr(CodeImportFailed, "Could not download %s: the server answered %s", u.Redacted(), resp.Status)
	}
	if resp.ContentLength > s.cfg.MaxFileSize {
		return outcome{}, terr(CodeFileTooLarge, "The file at %s is %d bytes, larger than the limit of %d bytes", u.Redacted(), resp.ContentLength, s.cfg.MaxFileSize)
	}
	name := payloadString(t.Payload, "filename")
	if name == "" {
		if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil {
			name = params["filename"]
		}
	}
	if name == "" {
		name = path.Base(u.Path)
		if name == "/" || name == "." {
			name = ""
		}
	}
	if name == "" {
		name = "file"
	}
	f, err := s.st.SaveFile(ctx, t.ID, name, resp.Body, s.cfg.MaxFileSize)
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, store.ErrFileTooLarge) {
			return outcome{}, terr(CodeImportFailed, "Could not download %s: %v", u.Redacted(), ctx.Err())
		}
		if !errors.Is(err, store.ErrFileTooLarge) {
			return outcome{}, terr(CodeImportFailed, "Could not download %s: %v", u.Redacted(), err)
		}
		return outcome{}, s.saveErr(err)
	}
	return outcome{files: []fileRef{s.ref(f)}}, nil
}

func (s *Server) importInline(ctx context.Context, t *Task) (outcome, *taskErr) {
	name := payloadString(t.Payload, "filename")
	if name == "" {
		return outcome{}, terr(CodeInvalidPayload, "%s needs a filename", t.Operation)
	}
	var src io.Reader
	if t.local.Inline {
		f, err := os.Open(s.spoolPath(t.ID))
		if err != nil {
			return outcome{}, terr(CodeInvalidPayload, "The file content of this %s task is no longer available (it is kept for %s after the task was created); create the task again", t.Operation, s.cfg.FileTTL)
		}
		defer f.Close()
		src = f
	} else {
		content, ok := t.Payload["file"].(string)
		if !ok {
			return outcome{}, terr(CodeInvalidPayload, "%s needs the file content as the string field \"file\"", t.Operation)
		}
		src = strings.NewReader(content)
	}
	if t.Operation == "import/base64" {
		src = base64.NewDecoder(base64.RawStdEncoding, &base64Text{r: bufio.NewReader(src)})
	}
	f, err := s.st.SaveFile(ctx, t.ID, name, src, s.cfg.MaxFileSize)
	if err != nil {
		var ce base64.CorruptInputError
		if errors.As(err, &ce) {
			return outcome{}, terr(CodeInvalidPayload, "import/base64: file is not valid base64: illegal data at input byte %d", int64(ce))
		}
		return outcome{}, s.saveErr(err)
	}
	return outcome{files: []fileRef{s.ref(f)}}, nil
}

// base64Text passes base64 through without what the decoder must not
// see: an optional "data:...;base64," prefix, whitespace and padding (the
// decoder is the unpadded one, so padded and unpadded input both work).
type base64Text struct {
	r       *bufio.Reader
	started bool
}

func (b *base64Text) Read(p []byte) (int, error) {
	if !b.started {
		b.started = true
		if head, _ := b.r.Peek(512); bytes.HasPrefix(head, []byte("data:")) {
			if i := bytes.Index(head, []byte(";base64,")); i >= 0 {
				b.r.Discard(i + len(";base64,"))
			}
		}
	}
	for {
		n, err := b.r.Read(p)
		w := 0
		for _, c := range p[:n] {
			switch c {
			case '\n', '\r', ' ', '\t', '=':
				continue
			}
			p[w] = c
			w++
		}
		if w > 0 || err != nil || n == 0 {
			return w, err
		}
	}
}

func (s *Server) exportURL(ctx context.Context, t *Task, inputs []fileRef) (outcome, *taskErr) {
	if len(inputs) == 0 {
		return outcome{}, terr(CodeNoInput, "export/url has no input files; give the tasks to export in input")
	}
	if b, _ := t.Payload["archive_multiple_files"].(bool); b && len(inputs) > 1 {
		p := map[string]any{"output_format": "zip"}
		at := &Task{ID: t.ID, Operation: "archive", Payload: p}
		out, te := s.runEngine(ctx, at, inputs, func(int) {})
		out.credits, out.engine, out.version = 0, "", ""
		return out, te
	}
	files := make([]fileRef, len(inputs))
	for i, f := range inputs {
		f.Shared = true
		files[i] = f
	}
	return outcome{files: files}, nil
}

// engineOptions flattens the payload for the engine: top-level fields, and
// the fields of a nested "options" object where the top level has none.
func engineOptions(p map[string]any) map[string]any {
	opts := map[string]any{}
	for k, v := range p {
		switch k {
		case "operation", "input", "input_format", "output_format", "options":
			continue
		}
		opts[k] = v
	}
	if nested, ok := p["options"].(map[string]any); ok {
		for k, v := range nested {
			if _, taken := opts[k]; !taken {
				opts[k] = v
			}
		}
	}
	return opts
}

func (s *Server) runEngine(ctx context.Context, t *Task, inputs []fileRef, progress func(int)) (outcome, *taskErr) {
	if t.Operation != "capture-website" && len(inputs) == 0 {
		return outcome{}, terr(CodeNoInput, "%s has no input files; give the task(s) that produce them in input", t.Operation)
	}
	work, err := os.MkdirTemp(s.workDir(), "task-")
	if err != nil {
		return outcome{}, terr(CodeInternal, "no work directory: %v", err)
	}
	defer os.RemoveAll(work)
	req := engine.Request{Operation: t.Operation, InputFormat: payloadString(t.Payload, "input_format"),
		OutputFormat: payloadString(t.Payload, "output_format"), Options: engineOptions(t.Payload), OutDir: work,
		Limits: engine.Limits{MaxImageMemory: s.cfg.MaxImageMemory, MaxPages: s.cfg.MaxPDFPages}}
	if !s.cfg.AllowPrivateURLs {
		req.Dial = dialFunc(s.dialer)
	}
	for _, in := range inputs {
		rec, err := s.st.GetFile(ctx, in.ID)
		if err != nil {
			return outcome{}, terr(CodeInputTaskFailed, "The input file %s is no longer available (it was deleted or it expired)", in.Name)
		}
		if !rec.ExpiresAt.After(timeNow()) {
			return outcome{}, terr(CodeInputTaskFailed, "The input file %s expired at %s", in.Name, rec.ExpiresAt.Format(timeLayout))
		}
		req.Inputs = append(req.Inputs, engine.File{Name: in.Name, Path: rec.Path, Size: rec.Size})
	}
	res, err := s.eng.Run(ctx, req, progress)
	if err != nil {
		var ee *engine.Error
		if errors.As(err, &ee) {
			return outcome{}, &taskErr{code: ee.Code, msg: ee.Message}
		}
		if ctx.Err() != nil {
			return outcome{}, terr(CodeCancelled, "The task was cancelled")
		}
		return outcome{}, terr(CodeInternal, "%s failed: %v", t.Operation, err)
	}
	out := outcome{engine: res.Engine, version: res.EngineVersion, metadata: res.Metadata, credits: 1}
	for _, f := range res.Files {
		rc, err := os.Open(f.Path)
		if err != nil {
			return outcome{}, terr(CodeInternal, "result %s: %v", f.Name, err)
		}
		rec, err := s.st.SaveFile(ctx, t.ID, f.Name, rc, 0)
		rc.Close()
		if err != nil {
			return outcome{}, s.saveErr(err)
		}
		out.files = append(out.files, s.ref(rec))
	}
	return out, nil
}

func (s *Server) workDir() string {
	d := filepath.Join(s.cfg.DataDir, "work")
	os.MkdirAll(d, 0o700)
	return d
}

// readAllLimit is io.ReadAll with a cap.
func readAllLimit(r io.Reader, n int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, n+1))
	if err == nil && int64(len(b)) > n {
		return nil, fmt.Errorf("more than %d bytes", n)
	}
	return b, err
}
