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
	"slices"
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

// SupportedOperations lists what the local server performs: its imports
// and export, and the operations of the engines' catalogue.
func (s *Server) SupportedOperations() []string {
	ops := []string{"import/url", "import/upload", "import/base64", "import/raw", "export/url"}
	ops = append(ops, s.eng.Operations()...)
	sort.Strings(ops)
	return ops
}

// engineOp reports whether the engines perform op.
func (s *Server) engineOp(op string) bool {
	return slices.Contains(s.eng.Operations(), op)
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
	case s.engineOp(op):
		return s.runEngine(ctx, t, inputs, progress)
	default:
		if why, ok := engine.RealServiceOnly()[op]; ok {
			return outcome{}, terr(CodeOperationNotSupported, "The operation %s runs on the real CloudConvert service only (%s); set an API key to use it. "+
				"The local server performs: %s", op, why, strings.Join(s.SupportedOperations(), ", "))
		}
		return outcome{}, terr(CodeOperationNotSupported, "The operation %s is not supported by the local CloudConvert server; it supports: %s",
			op, strings.Join(s.SupportedOperations(), ", "))
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
	if t.Operation == "watermark" && payloadString(t.Payload, "image") != "" {
		img, te := s.watermarkImage(ctx, t, inputs, work, &req)
		if te != nil {
			return outcome{}, te
		}
		req.Image = img
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
		ref := s.ref(rec)
		ref.Dir = f.Dir
		out.files = append(out.files, ref)
	}
	return out, nil
}

// watermarkImage resolves a watermark task's image option: an http(s)
// URL is downloaded like import/url does (same guard, limits and
// timeout); otherwise it names a task (by name in a job, by ID for a
// standalone task) whose first file is the image. That task's files are
// taken out of req.Inputs: they are the watermark, not a document.
func (s *Server) watermarkImage(ctx context.Context, t *Task, inputs []fileRef, work string, req *engine.Request) (*engine.File, *taskErr) {
	ref := payloadString(t.Payload, "image")
	if u, err := url.Parse(ref); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		return s.fetchImage(ctx, u, work)
	}
	var files []fileRef
	found := false
	s.rlocked(func() {
		var it *Task
		if jid := t.jobID(); jid != "" {
			if j := s.jobs[jid]; j != nil {
				for _, jt := range j.Tasks {
					if jt.Name != nil && *jt.Name == ref {
						it = jt
					}
				}
			}
		} else if st := s.tasks[ref]; st != nil && st.local.UserID == t.local.UserID {
			it = st
		}
		if it != nil {
			found, files = true, append([]fileRef(nil), it.local.Files...)
		}
	})
	if !found {
		return nil, terr(CodeInvalidPayload, "The image %q of this watermark task is neither a task of its job (by name), a task ID nor an http(s) URL", short(ref))
	}
	if len(files) == 0 {
		return nil, terr(CodeInputTaskFailed, "The image task %s produced no file", short(ref))
	}
	skip := map[string]bool{}
	for _, f := range files {
		skip[f.ID] = true
	}
	req.Inputs = req.Inputs[:0]
	for _, in := range inputs {
		if skip[in.ID] {
			continue
		}
		rec, err := s.st.GetFile(ctx, in.ID)
		if err != nil {
			return nil, terr(CodeInputTaskFailed, "The input file %s is no longer available (it was deleted or it expired)", in.Name)
		}
		req.Inputs = append(req.Inputs, engine.File{Name: in.Name, Path: rec.Path, Size: rec.Size})
	}
	if len(req.Inputs) == 0 {
		return nil, terr(CodeNoInput, "watermark has no file to watermark besides its image; give the document's task in input")
	}
	rec, err := s.st.GetFile(ctx, files[0].ID)
	if err != nil {
		return nil, terr(CodeInputTaskFailed, "The image file %s is no longer available (it was deleted or it expired)", files[0].Name)
	}
	return &engine.File{Name: files[0].Name, Path: rec.Path, Size: rec.Size}, nil
}

// fetchImage downloads a watermark image into the task's work directory.
func (s *Server) fetchImage(ctx context.Context, u *url.URL, work string) (*engine.File, *taskErr) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ImportTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, terr(CodeInvalidPayload, "watermark: bad image url %q: %v", u.Redacted(), err)
	}
	req.Header.Set("User-Agent", "cloudconvert-local/1")
	resp, err := s.hc.Do(req)
	if err != nil {
		return nil, terr(CodeImportFailed, "The watermark image: %s", fetchFailure(u, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, terr(CodeImportFailed, "Could not download the watermark image %s: the server answered %s", u.Redacted(), resp.Status)
	}
	f, err := os.CreateTemp(work, "watermark-")
	if err != nil {
		return nil, terr(CodeInternal, "no work file: %v", err)
	}
	n, err := io.Copy(f, io.LimitReader(resp.Body, s.cfg.MaxFileSize+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		return nil, terr(CodeImportFailed, "Could not download the watermark image %s: %v", u.Redacted(), err)
	case n > s.cfg.MaxFileSize:
		return nil, terr(CodeFileTooLarge, "The watermark image at %s is larger than the limit of %d bytes", u.Redacted(), s.cfg.MaxFileSize)
	}
	name := path.Base(u.Path)
	if name == "/" || name == "." {
		name = "watermark"
	}
	return &engine.File{Name: name, Path: f.Name(), Size: n}, nil
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
