package localserver

import (
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
	if h, ok := t.Payload["headers"].(map[string]any); ok {
		for k, v := range h {
			if sv, ok := v.(string); ok {
				req.Header.Set(k, sv)
			}
		}
	}
	req.Header.Set("User-Agent", "cloudconvert-local/1")
	resp, err := s.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil && s.ctx.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return outcome{}, terr(CodeImportFailed, "Could not download %s: no answer within %s", u.Redacted(), s.cfg.ImportTimeout)
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return outcome{}, terr(CodeImportFailed, "Could not download %s: the host is unreachable (%v)", u.Redacted(), err)
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
	content, ok := t.Payload["file"].(string)
	if !ok {
		return outcome{}, terr(CodeInvalidPayload, "%s needs the file content as the string field \"file\"", t.Operation)
	}
	name := payloadString(t.Payload, "filename")
	if name == "" {
		return outcome{}, terr(CodeInvalidPayload, "%s needs a filename", t.Operation)
	}
	data := []byte(content)
	if t.Operation == "import/base64" {
		var err error
		clean := strings.Map(func(r rune) rune {
			if r == '\n' || r == '\r' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, content)
		if i := strings.Index(clean, ";base64,"); i >= 0 && strings.HasPrefix(clean, "data:") {
			clean = clean[i+len(";base64,"):]
		}
		data, err = base64.StdEncoding.DecodeString(clean)
		if err != nil {
			if data, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(clean, "=")); err != nil {
				return outcome{}, terr(CodeInvalidPayload, "import/base64: file is not valid base64: %v", err)
			}
		}
	}
	f, err := s.st.SaveFile(ctx, t.ID, name, bytes.NewReader(data), s.cfg.MaxFileSize)
	if err != nil {
		return outcome{}, s.saveErr(err)
	}
	return outcome{files: []fileRef{s.ref(f)}}, nil
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
		OutputFormat: payloadString(t.Payload, "output_format"), Options: engineOptions(t.Payload), OutDir: work}
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
