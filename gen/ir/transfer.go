package ir

import (
	"fmt"
	"slices"

	"github.com/cctoolkit/cloudconvert/gen/spec"
	"github.com/cctoolkit/cloudconvert/integration"
	"github.com/cctoolkit/cloudconvert/internal/suggest"
)

// transfer resolves a function's transfer: every function it names must
// exist (and not be a transfer itself), every parameter it names must be
// one of the function's, every path must parse. The function's answer is
// derived here: an upload answers like its last step, a download with the
// list of files written.
func (b *builder) transfer(in *Integration, fn *Function, t *spec.TransferDecl) {
	where := "function " + fn.Desc.Name + ": transfer"
	switch {
	case (t.Upload == nil) == (t.Download == nil):
		b.errorf(t.Pos, "%s needs exactly one of upload and download", where)
	case t.Upload != nil:
		fn.Desc.Transfer = &integration.Transfer{Upload: b.upload(in, fn, t.Upload, where+".upload")}
	default:
		fn.Desc.Transfer = &integration.Transfer{Download: b.download(in, fn, t.Download, where+".download")}
		fn.Desc.Response = integration.DownloadAnswer()
	}
}

// via resolves the name of a function a transfer calls.
func (b *builder) via(in *Integration, self *Function, p spec.Pos, name, where string) *Function {
	f := in.Function(name)
	switch {
	case name == "":
		b.errorf(p, "%s.via is missing; name the function to call", where)
	case f == nil:
		b.errorf(p, "%s.via: no function is called %q%s", where, name, suggest.DidYouMean(name, in.Desc.FunctionNames()))
	case f == self:
		b.errorf(p, "%s.via names the function itself", where)
	case f.Desc.Transfer != nil || f.Desc.Method == "":
		b.errorf(p, "%s.via: %s is a transfer function; name a function with an HTTP request", where, name)
	default:
		return f
	}
	return nil
}

func (b *builder) path(p spec.Pos, path, where string) {
	if _, err := integration.ParsePath(path); err != nil {
		b.errorf(p, "%s: %v (a path is names joined by dots, with [*] or [field=value] after a name for the items of a list)", where, err)
	}
}

// localParam checks that a transfer names one of its function's text
// parameters.
func (b *builder) localParam(fn *Function, p spec.Pos, name, where string) *integration.Param {
	var prm *integration.Param
	for _, x := range fn.Desc.Params {
		if x.Name == name {
			prm = x
		}
	}
	switch {
	case name == "":
		b.errorf(p, "%s is missing; name a parameter of %s", where, fn.Desc.Name)
	case prm == nil:
		b.errorf(p, "%s: %s has no parameter %q%s", where, fn.Desc.Name, name, suggest.DidYouMean(name, paramNames(fn)))
	case prm.Schema.Resolved().Type == integration.TypeObject || prm.Schema.Resolved().Type == integration.TypeArray:
		prm = nil // reported with the parameter
	case prm.In != integration.InLocal || prm.Schema.Resolved().Type != integration.TypeString:
		b.errorf(p, "%s: parameter %s must be a string the host uses (not a timeout)", where, name)
		prm = nil
	}
	return prm
}

func (b *builder) upload(in *Integration, fn *Function, u *spec.UploadDecl, where string) *integration.Upload {
	out := &integration.Upload{FormURL: u.FormURL, FormFields: u.FormFields, FileField: u.FileField, FileParam: u.FileParam, NameParam: u.NameParam}
	if via := b.via(in, fn, u.Pos, u.Via, where); via != nil {
		out.Via = via.Desc
		if via.Desc.Kind != integration.Write {
			b.errorf(u.Pos, "%s.via: %s reads; making an upload target is a write", where, u.Via)
		}
	}
	if u.Args != nil {
		v, err := valueOf(u.Args)
		o, ok := v.(*integration.Object)
		switch {
		case err != nil:
			b.errorf(u.Pos, "%s.args: %v", where, err)
		case !ok:
			b.errorf(u.Pos, "%s.args must be a mapping of %s's parameters to fixed values", where, u.Via)
		default:
			out.Args = o
		}
	}
	for _, x := range []struct{ path, key string }{{u.FormURL, "form_url"}, {u.FormFields, "form_fields"}} {
		if x.path == "" {
			b.errorf(u.Pos, "%s.%s is missing; give the path of the form's %s in %s's answer", where, x.key, map[string]string{"form_url": "URL", "form_fields": "fields"}[x.key], u.Via)
			continue
		}
		b.path(u.Pos, x.path, where+"."+x.key)
	}
	if u.FileField == "" {
		b.errorf(u.Pos, "%s.file_field is missing; give the form field that carries the file (e.g. file)", where)
	}
	if prm := b.localParam(fn, u.Pos, u.FileParam, where+".file_param"); prm != nil && !prm.Required {
		b.errorf(u.Pos, "%s.file_param: parameter %s must be required", where, u.FileParam)
	}
	if u.NameParam != "" {
		b.localParam(fn, u.Pos, u.NameParam, where+".name_param")
	}
	answer := out.Via
	if u.Then != nil {
		out.Then = b.step(in, fn, u.Then, where+".then")
		if out.Then != nil {
			answer = out.Then.Via
		}
	}
	if answer != nil {
		fn.Desc.Response = answer.Response
		fn.Desc.Status = answer.Status
		if answer.Response == nil {
			b.errorf(u.Pos, "%s: %s answers with no body, so the upload would return nothing", where, answer.Name)
		}
	}
	return out
}

// step resolves a then: a read whose every required parameter comes from
// the previous answer.
func (b *builder) step(in *Integration, fn *Function, s *spec.StepDecl, where string) *integration.Step {
	via := b.via(in, fn, s.Pos, s.Via, where)
	if via == nil {
		return nil
	}
	out := &integration.Step{Via: via.Desc}
	if via.Desc.Kind != integration.Read {
		b.errorf(s.Pos, "%s.via: %s writes; the step after an upload must only read", where, s.Via)
		return nil
	}
	for _, a := range s.Args {
		if !hasParam(via, a.Key) {
			b.errorf(a.KeyPos, "%s.args: %s has no parameter %q%s", where, s.Via, a.Key, suggest.DidYouMean(a.Key, paramNames(via)))
		}
		b.path(a.KeyPos, a.Value, where+".args."+a.Key)
		out.Args = append(out.Args, integration.PathArg{Param: a.Key, From: a.Value})
	}
	for _, p := range via.Desc.Params {
		if p.Required && !slices.ContainsFunc(out.Args, func(a integration.PathArg) bool { return a.Param == p.Name }) {
			b.errorf(s.Pos, "%s.args: %s requires %s; give it as a path in the previous answer", where, s.Via, p.Name)
		}
	}
	return out
}

func (b *builder) download(in *Integration, fn *Function, d *spec.DownloadDecl, where string) *integration.Download {
	out := &integration.Download{DirParam: d.DirParam, URLField: d.URLField, NameField: d.NameField}
	if d.DirParam != "" {
		if prm := b.localParam(fn, d.Pos, d.DirParam, where+".dir_param"); prm != nil && prm.Required {
			b.errorf(d.Pos, "%s.dir_param: parameter %s must be optional (the workspace itself when left out)", where, d.DirParam)
		}
	}
	if d.URLField == "" || d.NameField == "" {
		b.errorf(d.Pos, "%s needs url_field and name_field: the fields of a file object with its download URL and its name", where)
	}
	if len(d.Sources) == 0 {
		b.errorf(d.Pos, "%s.sources is empty; give at least one parameter naming what to download", where)
	}
	seen := map[string]bool{}
	plain := 0
	for i := range d.Sources {
		s := &d.Sources[i]
		sw := fmt.Sprintf("%s.sources[%d]", where, i)
		if seen[s.Param] {
			b.errorf(s.Pos, "%s: parameter %s is a source twice", sw, s.Param)
		}
		seen[s.Param] = true
		prm := b.localParam(fn, s.Pos, s.Param, sw+".param")
		if prm != nil && prm.Required {
			b.errorf(s.Pos, "%s: parameter %s must be optional: the caller gives one of the sources", sw, s.Param)
		}
		src := &integration.Source{Param: s.Param, Files: s.Files, Hint: s.Hint}
		out.Sources = append(out.Sources, src)
		if s.Via == "" {
			plain++
			if s.Files != "" || s.Failed != nil {
				b.errorf(s.Pos, "%s: without via the parameter is the URL of one file; files and failed need via", sw)
			}
			continue
		}
		via := b.via(in, fn, s.Pos, s.Via, sw)
		if via == nil {
			continue
		}
		src.Via = via.Desc
		if via.Desc.Kind != integration.Read {
			b.errorf(s.Pos, "%s.via: %s writes; finding the files must only read", sw, s.Via)
		}
		if !hasParam(via, s.Param) {
			b.errorf(s.Pos, "%s.via: %s has no parameter %s to pass the source to", sw, s.Via, s.Param)
		}
		for _, p := range via.Desc.Params {
			if p.Required && p.Name != s.Param {
				b.errorf(s.Pos, "%s.via: %s also requires %s, which the source cannot give", sw, s.Via, p.Name)
			}
		}
		if s.Files == "" {
			b.errorf(s.Pos, "%s.files is missing; give the path of the file objects in %s's answer", sw, s.Via)
		} else {
			b.path(s.Pos, s.Files, sw+".files")
		}
		if f := s.Failed; f != nil {
			if f.Field == "" || len(f.Is) == 0 {
				b.errorf(f.Pos, "%s.failed needs field (a path) and is (the values that mean failure)", sw)
			}
			for _, x := range []string{f.Field, f.Code, f.Message} {
				if x != "" {
					b.path(f.Pos, x, sw+".failed")
				}
			}
			src.Failed = &integration.Failed{Field: f.Field, Is: f.Is, Code: f.Code, Message: f.Message}
		}
	}
	if plain > 1 {
		b.errorf(d.Pos, "%s: only one source may be a plain URL", where)
	}
	return out
}

// checkTransferArgs builds each upload's fixed arguments against its via
// function, once the descriptor is linked: a misspelt or missing argument
// is an error of the spec, not of the first call.
func (b *builder) checkTransferArgs(in *Integration) {
	for _, sf := range b.file.Functions {
		fn := in.Function(sf.Name)
		if fn == nil || sf.Transfer == nil || sf.Transfer.Upload == nil {
			continue
		}
		u := fn.Desc.Transfer.Upload
		if _, err := u.Via.Build(u.Args, integration.JSON); err != nil {
			b.errorf(sf.Transfer.Upload.Pos, "function %s: transfer.upload.args: %s", fn.Desc.Name, err.Error())
		}
	}
}

func paramNames(fn *Function) []string {
	names := make([]string, len(fn.Desc.Params))
	for i, x := range fn.Desc.Params {
		names[i] = x.Name
	}
	return names
}
