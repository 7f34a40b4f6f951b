package invoke

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/cctoolkit/cloudconvert/integration"
	"github.com/cctoolkit/cloudconvert/integration/files"
	"github.com/cctoolkit/cloudconvert/integration/transport"
)

// Transfer functions (the descriptor's Transfer) move files between the
// workspace (Options.Workspace) and the service. Every local path is
// checked against the workspace before anything is sent; the calls they
// are made of go through the same account, policy decision and transport
// as any call, and the file bytes go to the URLs the service's answers name,
// without credentials (they are pre-signed).

// Bounds of a download call.
const (
	defaultMaxDownload = 4 << 30 // bytes per file
	maxDownloadFiles   = 1000
	downloadParallel   = 4
	maxUploadAnswer    = 1 << 20
)

// transfer performs a transfer function: the local checks, then the
// policy, then the calls and the transfer itself.
func (v *Invoker) transfer(ctx context.Context, p *Prepared, res *Result) (*Result, *integration.Error) {
	fn := p.Function
	ws, err := v.workspace(fn)
	if err != nil {
		return res, err
	}
	var run func(context.Context) ([]byte, int, int, *integration.Error)
	if u := fn.Transfer.Upload; u != nil {
		f, name, err := v.openUpload(ws, p)
		if err != nil {
			return res, err
		}
		defer f.Close()
		run = func(ctx context.Context) ([]byte, int, int, *integration.Error) { return v.upload(ctx, p, f, name) }
	} else {
		plan, err := v.planDownload(ws, p)
		if err != nil {
			return res, err
		}
		run = func(ctx context.Context) ([]byte, int, int, *integration.Error) { return v.download(ctx, p, ws, plan) }
	}
	if err := v.Authorize(ctx, p); err != nil {
		return res, err
	}
	if t := p.Request.Timeout; t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, t, fmt.Errorf("%s took longer than its timeout of %s", fn.FullName, t))
		defer cancel()
	}
	res.Body, res.Status, res.Attempts, err = run(ctx)
	return res, err
}

// workspace is the folder local paths are confined to.
func (v *Invoker) workspace(fn *integration.Function) (*files.Workspace, *integration.Error) {
	if v.opts.Workspace == "" {
		msg := "local files cannot be used here: no workspace folder is set"
		if v.opts.WorkspaceHint != "" {
			msg += "; " + v.opts.WorkspaceHint
		}
		return nil, &integration.Error{Kind: integration.KindPermission, Function: fn.Name, FullName: fn.FullName, Message: msg}
	}
	ws, err := files.NewWorkspace(v.opts.Workspace)
	if err != nil {
		return nil, &integration.Error{Kind: integration.KindLocal, Function: fn.Name, FullName: fn.FullName, Message: err.Error(), Err: err}
	}
	return ws, nil
}

// pathError is a local path the workspace refuses: an argument error, so
// nothing is sent.
func pathError(fn *integration.Function, param string, err error) *integration.Error {
	var pe *files.PathError
	if errors.As(err, &pe) {
		return &integration.Error{Kind: integration.KindArgument, Function: fn.Name, FullName: fn.FullName, Param: param, Message: pe.Error(), Err: err}
	}
	return &integration.Error{Kind: integration.KindLocal, Function: fn.Name, FullName: fn.FullName, Param: param, Message: err.Error(), Err: err}
}

// openUpload opens the file an upload sends and names it.
func (v *Invoker) openUpload(ws *files.Workspace, p *Prepared) (*os.File, string, *integration.Error) {
	u := p.Function.Transfer.Upload
	path, _ := p.Request.LocalValue(u.FileParam)
	f, rel, err := ws.OpenFile(path)
	if err != nil {
		return nil, "", pathError(p.Function, u.FileParam, err)
	}
	name := filepath.Base(rel)
	if u.NameParam != "" {
		if n, ok := p.Request.LocalValue(u.NameParam); ok && n != "" {
			name = n
		}
	}
	return f, name, nil
}

// sub performs one call a transfer is made of, with the transfer's account,
// without asking the policy again (the transfer was allowed as a whole).
// Its errors name the transfer function and say which step failed.
func (v *Invoker) sub(ctx context.Context, outer *Prepared, fn *integration.Function, args any) ([]byte, int, int, *integration.Error) {
	sp, err := v.Prepare(Call{Function: fn, Account: outer.Account.Name, Args: args, Dialect: integration.JSON})
	if err != nil {
		return nil, 0, 0, v.inStep(outer.Function, fn, err)
	}
	var body []byte
	var status, attempts int
	if fn.Wait != nil {
		body, status, attempts, err = v.wait(ctx, sp)
	} else {
		body, status, attempts, err = v.send(ctx, fn, sp.Account, sp.URL(), sp.Request.Body, false)
	}
	if err != nil {
		return nil, status, attempts, v.inStep(outer.Function, fn, err)
	}
	return body, status, attempts, nil
}

func (v *Invoker) inStep(outer, step *integration.Function, e *integration.Error) *integration.Error {
	c := *e
	c.Function, c.FullName = outer.Name, outer.FullName
	c.Message = step.Name + ": " + c.Message
	if c.Param != "" {
		c.Message = step.Name + ": " + c.Param + ": " + e.Message
		c.Param = ""
	}
	return &c
}

// decodeAnswer decodes a JSON answer of a step.
func decodeAnswer(outer, step *integration.Function, body []byte, status int) (any, *integration.Error) {
	doc, err := integration.DecodeJSON(body, integration.JSONLimits{})
	if err != nil {
		return nil, &integration.Error{Kind: integration.KindResponse, Function: outer.Name, FullName: outer.FullName, Status: status,
			Message: step.Name + ": the answer is not valid JSON: " + err.Error()}
	}
	return doc, nil
}

// upload makes the upload target, sends the file to its form and returns
// the answer of Then (or of Via).
func (v *Invoker) upload(ctx context.Context, p *Prepared, f *os.File, name string) ([]byte, int, int, *integration.Error) {
	fn, u := p.Function, p.Function.Transfer.Upload
	body, status, attempts, err := v.sub(ctx, p, u.Via, u.Args)
	if err != nil {
		return nil, status, attempts, err
	}
	doc, err := decodeAnswer(fn, u.Via, body, status)
	if err != nil {
		return nil, status, attempts, err
	}
	bad := func(msg string) *integration.Error {
		return &integration.Error{Kind: integration.KindResponse, Function: fn.Name, FullName: fn.FullName, Status: status, Attempts: attempts, Message: u.Via.Name + ": " + msg}
	}
	urls := integration.MustPath(u.FormURL).Strings(doc)
	if len(urls) != 1 || urls[0] == "" {
		return nil, status, attempts, bad("the answer has no upload URL at " + u.FormURL)
	}
	var fields []files.Field
	for _, x := range integration.MustPath(u.FormFields).Eval(doc) {
		o, ok := x.(*integration.Object)
		if !ok {
			return nil, status, attempts, bad("the upload fields at " + u.FormFields + " are not an object")
		}
		for _, k := range o.Keys() {
			val, _ := o.Get(k)
			fields = append(fields, files.Field{Name: k, Value: formValue(val)})
		}
	}
	st, serr := f.Stat()
	if serr != nil {
		return nil, status, attempts, &integration.Error{Kind: integration.KindLocal, Function: fn.Name, FullName: fn.FullName, Message: serr.Error(), Err: serr}
	}
	var stats transport.Stats
	tctx := transport.WithClass(ctx, transport.Class{Retry: integration.RetryUnsent, Long: true, Function: fn.FullName, Stats: &stats})
	req, rerr := files.UploadRequest(tctx, urls[0], fields, u.FileField, name, f, st.Size(), nil)
	if rerr != nil {
		return nil, status, attempts, bad(rerr.Error())
	}
	resp, herr := v.hc.Do(req)
	attempts += max(stats.Attempts, 1)
	if herr != nil {
		e := v.transportError(ctx, fn, herr, stats)
		e.Message = "uploading " + name + ": " + e.Message
		return nil, 0, attempts, e
	}
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxUploadAnswer))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := v.apiError(fn, resp, answer, attempts)
		e.Message = "uploading " + name + ": " + e.Message
		return nil, resp.StatusCode, attempts, e
	}
	if u.Then == nil {
		return body, status, attempts, nil
	}
	args := integration.NewObject(len(u.Then.Args))
	for _, a := range u.Then.Args {
		vals := integration.MustPath(a.From).Eval(doc)
		if len(vals) != 1 {
			return nil, status, attempts, bad(fmt.Sprintf("the answer has no single value at %s for %s", a.From, u.Then.Via.Name))
		}
		args.Set(a.Param, vals[0])
	}
	body, status, n, err := v.sub(ctx, p, u.Then.Via, args)
	return body, status, attempts + n, err
}

// formValue is a form field's text: strings as they are, numbers and
// booleans as JSON writes them, null as "".
func formValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return integration.FormatNumber(x)
	case bool:
		if x {
			return "true"
		}
		return "false"
	}
	b, _ := integration.EncodeJSON(v, integration.JSON)
	return string(b)
}

// downloadPlan is a checked download: where to, and from what.
type downloadPlan struct {
	src    *integration.Source
	value  string // the source parameter's value
	dirArg string // the folder as given
	dir    string // the folder, relative to the workspace
}

func (v *Invoker) planDownload(ws *files.Workspace, p *Prepared) (*downloadPlan, *integration.Error) {
	fn, d := p.Function, p.Function.Transfer.Download
	plan := &downloadPlan{dirArg: "."}
	var given []string
	for _, s := range d.Sources {
		if val, ok := p.Request.LocalValue(s.Param); ok {
			given = append(given, s.Param)
			plan.src, plan.value = s, val
		}
	}
	names := d.Params()
	switch {
	case len(given) == 0:
		return nil, fn.ArgError("", "give one of "+orList(names)+": what to download")
	case len(given) > 1:
		return nil, fn.ArgError(given[1], "give only one of "+orList(names)+", not "+strings.Join(given, " and "))
	}
	if plan.src.Via == nil {
		u, err := url.Parse(plan.value)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fn.ArgError(plan.src.Param, fmt.Sprintf("%q is not an http(s) URL", files.RedactQuery(plan.value)))
		}
	}
	if d.DirParam != "" {
		if dir, ok := p.Request.LocalValue(d.DirParam); ok {
			plan.dirArg = dir
		}
	}
	rel, err := ws.Folder(plan.dirArg)
	if err != nil {
		return nil, pathError(fn, d.DirParam, err)
	}
	plan.dir = rel
	return plan, nil
}

func orList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// remoteFile is one file to download.
type remoteFile struct{ url, name string }

// savedFile is one file written, as the answer lists it.
type savedFile struct {
	Path     string `json:"path"`
	Filename string `json:"filename"`
	Size     int64  `json:"size"`
}

// download finds the files, then saves them into the folder, a few at a
// time, each under a free name.
func (v *Invoker) download(ctx context.Context, p *Prepared, ws *files.Workspace, plan *downloadPlan) ([]byte, int, int, *integration.Error) {
	fn, d := p.Function, p.Function.Transfer.Download
	attempts := 0
	list := []remoteFile{{url: plan.value}}
	if plan.src.Via != nil {
		var err *integration.Error
		list, attempts, err = v.findFiles(ctx, p, plan)
		if err != nil {
			return nil, 0, attempts, err
		}
	}
	root, rerr := ws.Root()
	if rerr != nil {
		return nil, 0, attempts, &integration.Error{Kind: integration.KindLocal, Function: fn.Name, FullName: fn.FullName, Message: rerr.Error(), Err: rerr}
	}
	defer root.Close()
	if err := ws.MkdirAll(root, plan.dirArg, plan.dir); err != nil {
		return nil, 0, attempts, pathError(fn, d.DirParam, err)
	}
	saved := make([]savedFile, len(list))
	errs := make([]*integration.Error, len(list))
	tries := make([]int, len(list))
	var wg sync.WaitGroup
	sem := make(chan struct{}, downloadParallel)
	for i, rf := range list {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = v.stopped(fn, context.Cause(ctx))
				return
			}
			defer func() { <-sem }()
			saved[i], tries[i], errs[i] = v.fetch(ctx, fn, root, plan.dir, rf)
		})
	}
	wg.Wait()
	var written []string
	var first *integration.Error
	for i := range list {
		attempts += tries[i]
		if errs[i] != nil {
			if first == nil {
				first = errs[i]
			}
			continue
		}
		written = append(written, saved[i].Path)
	}
	if first != nil {
		if len(written) > 0 {
			e := *first
			e.Message = fmt.Sprintf("%s (%d of %d files were written: %s)", e.Message, len(written), len(list), strings.Join(written, ", "))
			first = &e
		}
		first.Attempts = attempts
		return nil, first.Status, attempts, first
	}
	var out struct {
		Data struct {
			Files []savedFile `json:"files"`
		} `json:"data"`
	}
	out.Data.Files = saved
	body, _ := json.Marshal(out)
	return body, http.StatusOK, attempts, nil
}

// findFiles asks the source's function and picks the files out of its
// answer.
func (v *Invoker) findFiles(ctx context.Context, p *Prepared, plan *downloadPlan) ([]remoteFile, int, *integration.Error) {
	fn, d, src := p.Function, p.Function.Transfer.Download, plan.src
	body, status, attempts, err := v.sub(ctx, p, src.Via, integration.ObjectOf(src.Param, plan.value))
	if err != nil {
		return nil, attempts, err
	}
	doc, err := decodeAnswer(fn, src.Via, body, status)
	if err != nil {
		return nil, attempts, err
	}
	if f := src.Failed; f != nil {
		if st := integration.MustPath(f.Field).Strings(doc); len(st) == 1 && contains(f.Is, st[0]) {
			e := &integration.Error{Kind: integration.KindFailed, Function: fn.Name, FullName: fn.FullName, Param: src.Param, Status: status}
			if f.Code != "" {
				if codes := integration.MustPath(f.Code).Strings(doc); len(codes) > 0 {
					e.Code = codes[0]
				}
			}
			e.Message = fmt.Sprintf("%s ended with %s %q, so there is nothing to download", plan.value, lastName(f.Field), st[0])
			if f.Message != "" {
				if msgs := integration.MustPath(f.Message).Strings(doc); len(msgs) > 0 {
					e.Message += " (" + strings.Join(uniq(msgs), "; ") + ")"
				}
			}
			return nil, attempts, e
		}
	}
	var list []remoteFile
	without := 0
	for _, x := range integration.MustPath(src.Files).Eval(doc) {
		o, ok := x.(*integration.Object)
		if !ok {
			continue
		}
		u, _ := o.Get(d.URLField)
		us, _ := u.(string)
		if us == "" {
			without++
			continue
		}
		n, _ := o.Get(d.NameField)
		ns, _ := n.(string)
		list = append(list, remoteFile{url: us, name: ns})
	}
	if len(list) == 0 {
		msg := fmt.Sprintf("%s has no file to download", plan.value)
		if without > 0 {
			msg += fmt.Sprintf(" (%d without a download URL)", without)
		}
		if src.Hint != "" {
			msg += "; " + src.Hint
		}
		return nil, attempts, fn.ArgError(src.Param, msg)
	}
	if len(list) > maxDownloadFiles {
		return nil, attempts, fn.ArgError(src.Param, fmt.Sprintf("has %d files, more than the %d one call downloads", len(list), maxDownloadFiles))
	}
	return list, attempts, nil
}

// lastName is the last name of a path: data.status -> status.
func lastName(path string) string {
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[i+1:]
	}
	return path
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func uniq(list []string) []string {
	var out []string
	for _, s := range list {
		if s != "" && !contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// fetch downloads one file into dir under a free name.
func (v *Invoker) fetch(ctx context.Context, fn *integration.Function, root *os.Root, dir string, rf remoteFile) (savedFile, int, *integration.Error) {
	var stats transport.Stats
	tctx := transport.WithClass(ctx, transport.Class{Retry: integration.RetrySafe, Long: true, Function: fn.FullName, Stats: &stats})
	req, err := http.NewRequestWithContext(tctx, http.MethodGet, rf.url, nil)
	if err != nil {
		return savedFile{}, 0, &integration.Error{Kind: integration.KindResponse, Function: fn.Name, FullName: fn.FullName, Message: fmt.Sprintf("bad download URL %q", files.RedactQuery(rf.url))}
	}
	resp, err := v.hc.Do(req)
	attempts := max(stats.Attempts, 1)
	if err != nil {
		return savedFile{}, attempts, v.transportError(ctx, fn, err, stats)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxUploadAnswer))
		e := v.apiError(fn, resp, answer, attempts)
		e.OutcomeUnknown = false
		e.Message = "downloading " + files.RedactQuery(rf.url) + ": " + e.Message
		return savedFile{}, attempts, e
	}
	orig := rf.name
	if orig == "" {
		orig = files.NameFromResponse(resp)
	}
	limit := v.opts.MaxDownload
	if limit <= 0 {
		limit = defaultMaxDownload
	}
	if resp.ContentLength > limit {
		return savedFile{}, attempts, &integration.Error{Kind: integration.KindResponse, Function: fn.Name, FullName: fn.FullName, Status: resp.StatusCode,
			Message: fmt.Sprintf("%s is %d bytes, more than the limit of %d", orig, resp.ContentLength, limit)}
	}
	name := files.SanitizeName(orig, "download")
	var tooBig, short bool
	var readErr error
	rel, size, err := files.Save(root, dir, name, files.SaveOptions{}, func(w io.Writer) error {
		rw := &recWriter{w: w}
		n, err := io.Copy(rw, io.LimitReader(resp.Body, limit+1))
		switch {
		case err != nil:
			if rw.err == nil {
				readErr = err
			}
			return err
		case n > limit:
			tooBig = true
			return errors.New("too large")
		case resp.ContentLength >= 0 && n != resp.ContentLength:
			short = true
			return fmt.Errorf("got %d of %d bytes", n, resp.ContentLength)
		}
		return nil
	})
	switch {
	case tooBig:
		return savedFile{}, attempts, &integration.Error{Kind: integration.KindResponse, Function: fn.Name, FullName: fn.FullName, Status: resp.StatusCode,
			Message: fmt.Sprintf("%s is larger than the limit of %d bytes; nothing was kept", orig, limit)}
	case readErr != nil || short:
		msg := "the download of " + orig + " was cut short"
		if readErr != nil {
			msg += ": " + v.Redact(readErr.Error())
			if ctx.Err() != nil {
				msg = "the download of " + orig + " was stopped: " + context.Cause(ctx).Error()
			}
		}
		return savedFile{}, attempts, &integration.Error{Kind: integration.KindTransport, Function: fn.Name, FullName: fn.FullName, Status: resp.StatusCode,
			Message: msg + "; nothing was kept", Err: err}
	case err != nil:
		return savedFile{}, attempts, &integration.Error{Kind: integration.KindLocal, Function: fn.Name, FullName: fn.FullName,
			Message: "writing " + filepath.ToSlash(filepath.Join(dir, name)) + ": " + err.Error(), Err: err}
	}
	return savedFile{Path: filepath.ToSlash(rel), Filename: orig, Size: size}, attempts, nil
}

// recWriter remembers a write error, to tell it from a read error.
type recWriter struct {
	w   io.Writer
	err error
}

func (r *recWriter) Write(p []byte) (int, error) {
	n, err := r.w.Write(p)
	if err != nil {
		r.err = err
	}
	return n, err
}

// dryRunTransfer checks a transfer (its arguments and local paths) and
// shows its first request.
func (v *Invoker) dryRunTransfer(c Call, req *integration.Request) (*Result, *integration.Error) {
	fn := c.Function
	ws, err := v.workspace(fn)
	if err != nil {
		return nil, err
	}
	p := &Prepared{Function: fn, Request: req}
	if u := fn.Transfer.Upload; u != nil {
		f, _, err := v.openUpload(ws, p)
		if err != nil {
			return nil, err
		}
		f.Close()
		res, err := v.DryRun(Call{Function: u.Via, Account: c.Account, Args: u.Args, Dialect: integration.JSON})
		if err != nil {
			return nil, v.inStep(fn, u.Via, err)
		}
		return res, nil
	}
	plan, err := v.planDownload(ws, p)
	if err != nil {
		return nil, err
	}
	if plan.src.Via == nil {
		return &Result{Account: accountName(c.Account), Method: http.MethodGet, URL: plan.value}, nil
	}
	res, err := v.DryRun(Call{Function: plan.src.Via, Account: c.Account, Args: integration.ObjectOf(plan.src.Param, plan.value), Dialect: integration.JSON})
	if err != nil {
		return nil, v.inStep(fn, plan.src.Via, err)
	}
	return res, nil
}
