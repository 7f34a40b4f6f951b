package integration

import (
	"fmt"
	"strings"
)

// Transfer describes a function that moves files between the host's
// workspace (a local folder) and the service instead of making one HTTP
// request of its own. It is made of calls to other functions of the
// integration plus the file transfer itself, which goes to URLs the
// service's answers name (pre-signed: no credentials are sent there).
// Exactly one of Upload and Download is set.
type Transfer struct {
	Upload   *Upload
	Download *Download
}

// Upload sends one local file: Via makes the upload target (with Args),
// its answer holds an HTML-style form (FormURL, FormFields), the file is
// POSTed there as multipart/form-data (the fields in order, the file last
// under FileField), and Then, if set, reads the answer the function returns;
// otherwise it returns Via's answer.
type Upload struct {
	Via  *Function
	Args *Object // Via's fixed arguments
	// FormURL and FormFields are paths (see Path) in Via's answer: the
	// URL to POST to and the object of fields to send before the file.
	FormURL    string
	FormFields string
	FileField  string // the form field that carries the file
	FileParam  string // the parameter that names the local file
	NameParam  string // the parameter that names the file as sent ("": none)
	Then       *Step
}

// Step is a call whose arguments come from a previous answer.
type Step struct {
	Via  *Function
	Args []PathArg
}

// PathArg is an argument of a Step: the parameter Param of the function
// takes the value at the path From of the previous answer.
type PathArg struct {
	Param string
	From  string
}

// Download saves files into a folder of the workspace (the parameter
// DirParam, default the workspace itself). The caller gives exactly one of
// the Sources' parameters.
type Download struct {
	DirParam string
	// URLField and NameField name the fields of a file object (found by a
	// Source's Files path) that hold its download URL and its name.
	URLField  string
	NameField string
	Sources   []*Source
}

// Source is one way to name what to download. With Via, the parameter is
// passed under the same name to Via, and the file objects are the values
// at Files in its answer; without, the parameter is the URL of one file.
type Source struct {
	Param  string
	Via    *Function
	Files  string
	Failed *Failed
	// Hint is added to the error when the answer has no file to download.
	Hint string
}

// Failed says when Via's answer means that there is nothing to download
// because what it names failed: the value at Field is one of Is. Code and
// Message are paths of the reason (all values found are joined).
type Failed struct {
	Field   string
	Is      []string
	Code    string
	Message string
}

// Params lists the parameters of the sources, in order.
func (d *Download) Params() []string {
	out := make([]string, len(d.Sources))
	for i, s := range d.Sources {
		out[i] = s.Param
	}
	return out
}

// DownloadAnswer is the schema of what a download function answers: the
// files it wrote, with their paths relative to the workspace.
func DownloadAnswer() *Schema {
	file := &Schema{Type: TypeObject, Description: "A file written into the workspace.", Properties: []*Property{
		{Name: "path", Required: true, Schema: &Schema{Type: TypeString, Description: "Where it was written, relative to the workspace (a free name such as report-1.pdf when the name was taken)."}},
		{Name: "filename", Required: true, Schema: &Schema{Type: TypeString, Description: "The file's name as the source gave it."}},
		{Name: "size", Required: true, Schema: &Schema{Type: TypeInteger, Description: "Its size in bytes."}},
	}}
	return &Schema{Name: "DownloadedFiles", Type: TypeObject, Description: "The files a download wrote.", Properties: []*Property{
		{Name: "data", Required: true, Schema: &Schema{Type: TypeObject, Properties: []*Property{
			{Name: "files", Required: true, Schema: &Schema{Type: TypeArray, Items: file, Description: "The files written, in the order of the source."}},
		}}},
	}}
}

// check validates a linked transfer; the generator checks the same, so an
// error here is a descriptor written by hand.
func (t *Transfer) check(fn *Function) error {
	switch {
	case (t.Upload == nil) == (t.Download == nil):
		return fmt.Errorf("a transfer needs exactly one of upload and download")
	case t.Upload != nil:
		u := t.Upload
		if u.Via == nil || u.FileField == "" || fn.Param(u.FileParam) == nil {
			return fmt.Errorf("the upload needs via, file_field and a file parameter")
		}
		for _, p := range []string{u.FormURL, u.FormFields} {
			if _, err := ParsePath(p); err != nil {
				return err
			}
		}
		if u.Then != nil {
			for _, a := range u.Then.Args {
				if _, err := ParsePath(a.From); err != nil {
					return err
				}
			}
		}
	default:
		d := t.Download
		if len(d.Sources) == 0 || d.URLField == "" || d.NameField == "" {
			return fmt.Errorf("the download needs sources, url_field and name_field")
		}
		for _, s := range d.Sources {
			if fn.Param(s.Param) == nil {
				return fmt.Errorf("the download's source names no parameter %q", s.Param)
			}
			if s.Via == nil {
				continue
			}
			if _, err := ParsePath(s.Files); err != nil {
				return err
			}
		}
	}
	return nil
}

// Path is a compiled path into a JSON answer: names joined by dots, each
// optionally followed by selectors of array items: [*] for every item,
// [field=value] for the objects whose field has that text value.
//
//	data.result.form.url
//	data.tasks[operation=export/url].result.files[*]
type Path struct {
	text  string
	steps []pathStep
}

type pathStep struct {
	name string
	sel  []selector
}

type selector struct {
	all          bool
	field, value string
}

// ParsePath compiles a path.
func ParsePath(s string) (Path, error) {
	p := Path{text: s}
	if s == "" {
		return p, fmt.Errorf("the path is empty")
	}
	rest := s
	for rest != "" {
		var st pathStep
		i := strings.IndexAny(rest, ".[")
		if i < 0 {
			i = len(rest)
		}
		st.name, rest = rest[:i], rest[i:]
		if st.name == "" {
			return p, fmt.Errorf("path %q: a name is missing before %q", s, rest)
		}
		for strings.HasPrefix(rest, "[") {
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return p, fmt.Errorf("path %q: a [ has no ]", s)
			}
			in := rest[1:end]
			rest = rest[end+1:]
			if in == "*" {
				st.sel = append(st.sel, selector{all: true})
				continue
			}
			f, v, ok := strings.Cut(in, "=")
			if !ok || f == "" {
				return p, fmt.Errorf("path %q: [%s] is neither [*] nor [field=value]", s, in)
			}
			st.sel = append(st.sel, selector{field: f, value: v})
		}
		p.steps = append(p.steps, st)
		if rest == "" {
			break
		}
		if rest[0] != '.' || len(rest) == 1 {
			return p, fmt.Errorf("path %q: expected .name after %q", s, s[:len(s)-len(rest)])
		}
		rest = rest[1:]
	}
	return p, nil
}

// MustPath is ParsePath for paths the generator has checked.
func MustPath(s string) Path {
	p, err := ParsePath(s)
	if err != nil {
		panic("integration: " + err.Error())
	}
	return p
}

func (p Path) String() string { return p.text }

// Eval returns the values at the path in v (a decoded answer: *Object,
// []any and scalars), in document order; missing fields and nulls are left
// out. The work is bounded by the size of v.
func (p Path) Eval(v any) []any {
	cur := []any{v}
	for _, st := range p.steps {
		var next []any
		for _, c := range cur {
			o, ok := c.(*Object)
			if !ok {
				continue
			}
			x, ok := o.Get(st.name)
			if !ok || x == nil {
				continue
			}
			vals := []any{x}
			for _, sel := range st.sel {
				var out []any
				for _, val := range vals {
					items, ok := val.([]any)
					if !ok {
						continue
					}
					for _, it := range items {
						if sel.all {
							out = append(out, it)
							continue
						}
						if io, ok := it.(*Object); ok {
							if fv, _ := io.Get(sel.field); fv == sel.value {
								out = append(out, it)
							}
						}
					}
				}
				vals = out
			}
			for _, val := range vals {
				if val != nil {
					next = append(next, val)
				}
			}
		}
		cur = next
	}
	return cur
}

// Strings returns the text values at the path.
func (p Path) Strings(v any) []string {
	var out []string
	for _, x := range p.Eval(v) {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
