package docs

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/cctoolkit/cloudconvert/gen/ir"
	"github.com/cctoolkit/cloudconvert/integration"
)

// The view types hold every string the templates print, so the templates
// have no logic beyond range and if.

// View is the whole integration.
type View struct {
	Name, Slug, Summary, Description string
	LuaPath                          string // app.integrations.cloudconvert
	ReadDocCall                      string // lua_read_doc("integrations.cloudconvert")
	CountsLine                       string // 7 functions 5 read 2 write API key auth
	DocsURL                          string
	DerivedExample                   string // Lua calling the first function with fitting values
	MultiAccount                     []string
	Functions                        []FunctionView
	Errors                           ErrorsView
}

// ErrorsView is the errors page.
type ErrorsView struct {
	Page        string // cloudconvert.errors
	ReadDocCall string // lua_read_doc("cloudconvert.errors")
	Fields      []ParamRow
	Kinds       []KindRow
	Codes       []CodeRow
	Example     string // Lua: catch an API error and an argument error; "" when no function fits
}

// KindRow is a row of the kinds table.
type KindRow struct{ Kind, Meaning, Action string }

// CodeRow is a row of the codes table.
type CodeRow struct{ Code, Status, Description string }

// FunctionView is one function.
type FunctionView struct {
	LuaName, Slug, FullName, Operation string
	Summary, Description, Notes        string
	Call                               string // app.integrations.cloudconvert.create_job
	HTTP                               string // POST /v2/jobs; "" for a transfer
	Transfer                           string // what a transfer function does, step by step
	ReturnsText                        string // the Returns section, when not the API's answer
	ReturnsType                        string // JobResponse, "" when the answer has no body
	ReturnsFields                      string // `data`
	Status                             int    // the success status
	Params                             []ParamRow
	Definitions                        []Definition
	CommonOperations                   []OperationRow
	OtherOperations                    string // `import/raw`, `import/s3`, ...
	ExamplesHeading                    string // Example or Examples
	Examples                           []ExampleView
}

// ParamRow is a row of a parameter table.
type ParamRow struct {
	Name, Type, Required, Description string
}

// Definition is the table of an object parameter's fields (Task Definition).
type Definition struct {
	Title, Intro string
	Rows         []ParamRow
}

// OperationRow is a row of the operations table.
type OperationRow struct{ Name, Description string }

// ExampleView is one Lua example.
type ExampleView struct{ Title, Lua string }

type pageView struct {
	View
	Function FunctionView
}

func newView(in *ir.Integration) View {
	d := in.Desc
	all, reads, writes := d.Counts()
	v := View{
		Name: d.Name, Slug: d.Slug, Summary: d.Summary, Description: d.Description,
		LuaPath:     d.LuaPath,
		ReadDocCall: `lua_read_doc("integrations.` + d.Slug + `")`,
		CountsLine:  fmt.Sprintf("%d functions %d read %d write %s", all, reads, writes, d.Auth.Label),
		DocsURL:     d.DocsURL,
	}
	for _, fn := range in.Functions {
		v.Functions = append(v.Functions, functionView(in, fn))
	}
	if len(in.Functions) > 0 {
		v.DerivedExample = derivedExample(d, d.Functions[0])
	}
	v.MultiAccount = multiAccount(d)
	v.Errors = errorsView(in)
	return v
}

func errorsView(in *ir.Integration) ErrorsView {
	ev := ErrorsView{Page: ErrorsPage(in), ReadDocCall: `lua_read_doc("` + ErrorsPage(in) + `")`, Example: errorsExample(in.Desc)}
	for _, f := range integration.ErrorFieldDocs() {
		ev.Fields = append(ev.Fields, ParamRow{Name: "`" + f.Name + "`", Type: f.Type, Description: cell(f.Doc)})
	}
	for _, k := range integration.ErrorKindDocs() {
		ev.Kinds = append(ev.Kinds, KindRow{Kind: "`" + string(k.Kind) + "`", Meaning: cell(k.Doc), Action: cell(k.Action)})
	}
	for _, c := range in.ErrorCodes {
		st := "—"
		if c.Status != 0 {
			st = strconv.Itoa(c.Status)
		}
		ev.Codes = append(ev.Codes, CodeRow{Code: "`" + c.Code + "`", Status: st, Description: cell(c.Description)})
	}
	return ev
}

// errorsExample catches an API error (a get of something that does not
// exist) and an argument error (the same call without its argument), with
// the first read function that takes one required string path parameter.
func errorsExample(in *integration.Integration) string {
	for _, fn := range in.Functions {
		var path *integration.Param
		required := 0
		for _, p := range fn.Params {
			if p.Required {
				required++
				if p.In == integration.InPath && p.Schema.Resolved().Type == integration.TypeString {
					path = p
				}
			}
		}
		if fn.Kind != integration.Read || fn.Wait != nil || required != 1 || path == nil {
			continue
		}
		return fmt.Sprintf(`local %[1]s = %[2]s
local ok, err = pcall(%[1]s.%[3]s, {%[4]s = "does-not-exist"})
if not ok then
  print(err.kind, err.status, err.code)
  print(err.message)
end

-- A wrong argument is caught the same way, before anything is sent:
ok, err = pcall(%[1]s.%[3]s, {})
print(err.kind, err.param)`, in.Slug, in.LuaPath, fn.Name, LuaKey(path.Name))
	}
	return ""
}

func functionView(in *ir.Integration, fn *ir.Function) FunctionView {
	d := fn.Desc
	fv := FunctionView{
		LuaName: d.Name, Slug: d.ToolName, FullName: d.FullName, Operation: d.Kind.String(),
		Summary: d.Summary, Description: d.Description, Notes: fn.Notes,
		Call:   in.Desc.LuaPath + "." + d.Name,
		Status: d.Status,
	}
	if d.Transfer != nil {
		fv.Transfer, fv.ReturnsText = transferText(d)
	} else {
		fv.HTTP = d.Method + " " + serverPath(in, fn)
	}
	if t := d.Response; t != nil {
		fv.ReturnsType = t.Name
		var names []string
		for _, p := range t.Properties {
			names = append(names, "`"+p.Name+"`")
		}
		fv.ReturnsFields = strings.Join(names, ", ")
	}
	for _, p := range d.Params {
		fv.Params = append(fv.Params, paramRow(p.Name, p.Required, p.Schema))
		if def, ok := definition(p); ok {
			fv.Definitions = append(fv.Definitions, def)
		}
	}
	if fn.ShowOperations {
		var other []string
		for _, op := range in.Desc.Operations {
			if op.Common {
				fv.CommonOperations = append(fv.CommonOperations, OperationRow{Name: op.Name, Description: cell(op.Description)})
			} else {
				other = append(other, "`"+op.Name+"`")
			}
		}
		fv.OtherOperations = strings.Join(other, ", ")
	}
	fv.ExamplesHeading = "Example"
	if len(fn.Examples) > 1 {
		fv.ExamplesHeading = "Examples"
	}
	for _, ex := range fn.Examples {
		fv.Examples = append(fv.Examples, ExampleView{Title: ex.Title, Lua: ex.Lua})
	}
	return fv
}

// transferText says what a transfer function does, from its descriptor,
// and what it returns when that is not an answer of the API.
func transferText(d *integration.Function) (steps, returns string) {
	code := func(s string) string { return "`" + s + "`" }
	if u := d.Transfer.Upload; u != nil {
		args := ""
		if u.Args != nil {
			var kv []string
			for _, k := range u.Args.Keys() {
				v, _ := u.Args.Get(k)
				kv = append(kv, LuaKey(k)+" = "+LuaLiteral(v, 0))
			}
			args = " (" + code(strings.Join(kv, ", ")) + ")"
		}
		steps = fmt.Sprintf("reads the file that %s names in the workspace; calls %s%s; sends the file as multipart/form-data (field %s, after the fields at %s) to the URL at %s of its answer, without credentials",
			code(u.FileParam), code(u.Via.Name), args, code(u.FileField), code(u.FormFields), code(u.FormURL))
		if u.Then != nil {
			var kv []string
			for _, a := range u.Then.Args {
				kv = append(kv, a.Param+" = "+a.From)
			}
			steps += fmt.Sprintf("; then answers like %s (%s)", code(u.Then.Via.Name), code(strings.Join(kv, ", ")))
		}
		return steps + ".", ""
	}
	dl := d.Transfer.Download
	var srcs []string
	for _, s := range dl.Sources {
		if s.Via == nil {
			srcs = append(srcs, "the file at the URL "+code(s.Param))
			continue
		}
		srcs = append(srcs, fmt.Sprintf("the files of %s (%s's answer at %s)", code(s.Param), code(s.Via.Name), code(s.Files)))
	}
	dir := "the workspace"
	if dl.DirParam != "" {
		dir = "the folder " + code(dl.DirParam) + " of the workspace (default: the workspace itself)"
	}
	steps = fmt.Sprintf("saves into %s %s; each file goes to a temporary name first and then to its own name, or a free one (name-1.ext, name-2.ext, ...) when that is taken.", dir, orList(srcs))
	returns = "A table `{data = {files = {...}}}` listing the files written, in order: each with `path` (relative to the workspace), `filename` (the name the source gave) and `size` in bytes. Errors are raised; catch them with `pcall`."
	return steps, returns
}

func orList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// serverPath is the path as the API documents it, with the base URL's path
// (/v2) in front; on any server but the first, the whole URL, since the
// same path means something else there.
func serverPath(in *ir.Integration, fn *ir.Function) string {
	live, path := fn.Server.Desc.Live, fn.Desc.Path
	if fn.Server != in.Servers[0] {
		return strings.TrimRight(live, "/") + path
	}
	if i := strings.Index(strings.TrimPrefix(live, "https://"), "/"); i >= 0 {
		return strings.TrimPrefix(live, "https://")[i:] + path
	}
	return path
}

func paramRow(name string, required bool, s *integration.Schema) ParamRow {
	req := "no"
	if required {
		req = "yes"
	}
	return ParamRow{Name: "`" + name + "`", Type: s.TypeLabel(), Required: req, Description: cell(describe(s))}
}

// describe is a schema's description with its default, bounds and short
// enums spelt out, so the text cannot drift from the facts.
func describe(use *integration.Schema) string {
	d := strings.TrimSuffix(use.DescriptionOr(), ".")
	s := use.Resolved()
	var facts []string
	if s.Default != nil {
		facts = append(facts, "default: "+plainValue(s.Default))
	}
	if s.Minimum != nil && *s.Minimum != 1 {
		facts = append(facts, "min: "+strconv.FormatFloat(*s.Minimum, 'g', -1, 64))
	}
	if s.Maximum != nil {
		facts = append(facts, "max: "+strconv.FormatFloat(*s.Maximum, 'g', -1, 64))
	}
	if len(facts) > 0 {
		d += " (" + strings.Join(facts, ", ") + ")"
	}
	if len(s.Enum) > 0 && s.EnumTable == "" {
		quoted := make([]string, len(s.Enum))
		for i, e := range s.Enum {
			quoted[i] = "`" + e + "`"
		}
		d += ": " + strings.Join(quoted, ", ")
	}
	return d
}

func plainValue(v any) string {
	switch x := v.(type) {
	case string:
		return `"` + x + `"`
	case float64:
		return integration.FormatNumber(x)
	}
	return fmt.Sprint(v)
}

// definition is the field table of a parameter whose items (or itself) are
// an object with a title.
func definition(p *integration.Param) (Definition, bool) {
	s := p.Schema.Resolved()
	if s.Items != nil {
		s = s.Items.Resolved()
	}
	if s.Type != integration.TypeObject || s.Title == "" || len(s.Properties) == 0 {
		return Definition{}, false
	}
	d := Definition{Title: s.Title, Intro: s.Description}
	for _, prop := range s.Properties {
		d.Rows = append(d.Rows, paramRow(prop.Name, prop.Required, prop.Schema))
	}
	if s.AdditionalProperties {
		desc := s.AdditionalDescription
		if desc == "" {
			desc = "Any other fields"
		}
		label := s.AdditionalLabel
		if label == "" {
			label = "other fields"
		}
		d.Rows = append(d.Rows, ParamRow{Name: "+ " + label, Type: "varies", Required: "varies", Description: cell(desc)})
	}
	return d, true
}

// cell makes text safe inside a markdown table cell.
func cell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.ReplaceAll(s, "|", `\|`)
}

// derivedExample calls fn with a value for every parameter that fits its
// schema (the spec's example where there is one).
func derivedExample(in *integration.Integration, fn *integration.Function) string {
	var b strings.Builder
	fmt.Fprintf(&b, "local result = %s.%s({", in.LuaPath, fn.Name)
	if len(fn.Params) == 0 {
		b.WriteString("})\n")
	} else {
		b.WriteString("\n")
		for i, p := range fn.Params {
			b.WriteString("  " + LuaKey(p.Name) + " = " + LuaLiteral(exampleValue(p), 1))
			if i < len(fn.Params)-1 {
				b.WriteString(",")
			}
			b.WriteString("\n")
		}
		b.WriteString("})\n")
	}
	b.WriteString("dump(result)")
	return b.String()
}

// multiAccount is the code of the Multi-Account Usage section: one real
// call through each kind of namespace.
func multiAccount(in *integration.Integration) []string {
	fn := in.Functions[0]
	for _, f := range in.Functions {
		if f.Kind == integration.Read && !hasRequired(f) {
			fn = f
			break
		}
	}
	call := fn.Name + "({})"
	lines := []string{
		"-- Default account (always works)",
		in.LuaPath + "." + call,
		"",
		"-- Explicit default (portable across setups)",
		in.LuaPath + ".default." + call,
	}
	if len(in.Accounts) > 0 {
		lines = append(lines, "", "-- Named accounts")
		for _, a := range in.Accounts {
			lines = append(lines, in.LuaPath+"."+a+"."+call)
		}
	}
	return lines
}

func hasRequired(fn *integration.Function) bool {
	for _, p := range fn.Params {
		if p.Required {
			return true
		}
	}
	return false
}
