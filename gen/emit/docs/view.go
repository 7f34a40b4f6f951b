package docs

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/cctoolkit/cloudconvert/gen/ir"
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
}

// FunctionView is one function.
type FunctionView struct {
	LuaName, Slug, FullName, Operation string
	Summary, Description, Notes        string
	Call                               string // app.integrations.cloudconvert.create_job
	HTTP                               string // POST /v2/jobs
	ReturnsType                        string // JobResponse
	ReturnsFields                      string // `data`
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
	v := View{
		Name: in.Name, Slug: in.Slug, Summary: in.Summary, Description: in.Description,
		LuaPath:     in.LuaPath,
		ReadDocCall: `lua_read_doc("integrations.` + in.Slug + `")`,
		CountsLine:  fmt.Sprintf("%d functions %d read %d write %s", len(in.Functions), in.ReadCount, in.WriteCount, in.Auth.Label),
		DocsURL:     in.DocsURL,
	}
	for _, fn := range in.Functions {
		v.Functions = append(v.Functions, functionView(in, fn))
	}
	if len(in.Functions) > 0 {
		v.DerivedExample = derivedExample(in, in.Functions[0])
	}
	v.MultiAccount = multiAccount(in)
	return v
}

func functionView(in *ir.Integration, fn *ir.Function) FunctionView {
	fv := FunctionView{
		LuaName: fn.LuaName, Slug: fn.Slug, FullName: fn.FullName, Operation: fn.Operation,
		Summary: fn.Summary, Description: fn.Description, Notes: fn.Notes,
		Call: in.LuaPath + "." + fn.LuaName,
		HTTP: fn.Method + " " + serverPath(in, fn),
	}
	fv.ReturnsType = fn.Response.Ref
	if t := in.Lookup(fn.Response.Ref); t != nil {
		var names []string
		for _, p := range t.Schema.Properties {
			names = append(names, "`"+p.Name+"`")
		}
		fv.ReturnsFields = strings.Join(names, ", ")
	}
	for _, p := range fn.Params {
		fv.Params = append(fv.Params, paramRow(p.Name, p.Required, p.Schema))
		if d, ok := definition(p); ok {
			fv.Definitions = append(fv.Definitions, d)
		}
	}
	if fn.ShowOperations {
		var other []string
		for _, op := range in.Operations {
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

// serverPath is the path as the API documents it, with the base URL's path
// (/v2) in front; on any server but the first, the whole URL, since the
// same path means something else there.
func serverPath(in *ir.Integration, fn *ir.Function) string {
	for i, s := range in.Servers {
		if s.Name == fn.Server && i > 0 {
			return strings.TrimRight(s.Live, "/") + fn.Path
		}
		if s.Name == fn.Server {
			if i := strings.Index(strings.TrimPrefix(s.Live, "https://"), "/"); i >= 0 {
				return strings.TrimPrefix(s.Live, "https://")[i:] + fn.Path
			}
		}
	}
	return fn.Path
}

func paramRow(name string, required bool, s *ir.Schema) ParamRow {
	req := "no"
	if required {
		req = "yes"
	}
	return ParamRow{Name: "`" + name + "`", Type: s.TypeLabel(), Required: req, Description: cell(describe(s))}
}

// describe is a schema's description with its default, bounds and short
// enums spelt out, so the text cannot drift from the facts.
func describe(s *ir.Schema) string {
	d := strings.TrimSuffix(s.Description, ".")
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
	if len(s.Enum) > 0 && s.EnumFrom == "" {
		quoted := make([]string, len(s.Enum))
		for i, e := range s.Enum {
			quoted[i] = "`" + e + "`"
		}
		d += ": " + strings.Join(quoted, ", ")
	}
	return d
}

func plainValue(v any) string {
	if s, ok := v.(string); ok {
		return `"` + s + `"`
	}
	return fmt.Sprint(v)
}

// definition is the field table of a parameter whose items (or itself) are
// an object with a title.
func definition(p *ir.Param) (Definition, bool) {
	s := p.Schema
	if s.Items != nil {
		s = s.Items
	}
	if s.Type != "object" || s.Title == "" || len(s.Properties) == 0 {
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
		d.Rows = append(d.Rows, ParamRow{Name: "+ operation-specific fields", Type: "varies", Required: "varies", Description: cell(desc)})
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
func derivedExample(in *ir.Integration, fn *ir.Function) string {
	var b strings.Builder
	fmt.Fprintf(&b, "local result = %s.%s({", in.LuaPath, fn.LuaName)
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
func multiAccount(in *ir.Integration) []string {
	fn := in.Functions[0]
	for _, f := range in.Functions {
		if f.Operation == ir.Read && !hasRequired(f) {
			fn = f
			break
		}
	}
	call := fn.LuaName + "({})"
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

func hasRequired(fn *ir.Function) bool {
	for _, p := range fn.Params {
		if p.Required {
			return true
		}
	}
	return false
}
