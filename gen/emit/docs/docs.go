// Package docs renders an integration's agent-facing markdown from the
// text/template files in templates/: the Lua API reference, the integration
// page and one page per function, plus a Go package that embeds them.
package docs

import (
	"bytes"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
	"text/template"

	"github.com/cctoolkit/cloudconvert/gen/ir"
)

// Template file names in the templates folder.
const (
	ReferenceTemplate   = "reference.md.tmpl"
	IntegrationTemplate = "integration.md.tmpl"
	FunctionTemplate    = "function.md.tmpl"
	ErrorsTemplate      = "errors.md.tmpl"
)

// Page is one generated markdown page.
type Page struct {
	Name  string // how the runtime asks for it: "cloudconvert.create_job"
	Title string
	File  string // path relative to the docs folder
}

// Pages lists the pages of an integration, in the order docs.list shows
// them.
func Pages(in *ir.Integration) []Page {
	d := in.Desc
	pages := []Page{
		{Name: d.Slug, Title: d.Name + " integration", File: d.Slug + ".md"},
		{Name: "integrations." + d.Slug, Title: d.Name + " — Lua API Reference", File: "reference.md"},
		{Name: ErrorsPage(in), Title: d.Name + " errors: the fields of a caught error, its kinds and the API's codes", File: "errors.md"},
	}
	for _, fn := range d.Functions {
		pages = append(pages, Page{Name: fn.DocPage, Title: fn.FullName + ": " + fn.Summary, File: "functions/" + fn.Name + ".md"})
	}
	return pages
}

// Emit renders every page with the templates in tmpls, under docs/ (the
// descriptor embeds them). Every ```lua block of the output must parse.
func Emit(in *ir.Integration, tmpls fs.FS) (map[string][]byte, error) {
	t, err := template.New("docs").Option("missingkey=error").ParseFS(tmpls, "*.md.tmpl")
	if err != nil {
		return nil, fmt.Errorf("parsing templates: %w", err)
	}
	v := newView(in)
	out := map[string][]byte{}
	render := func(file, tmpl string, data any) error {
		var b bytes.Buffer
		if err := t.ExecuteTemplate(&b, tmpl, data); err != nil {
			return fmt.Errorf("rendering %s with %s: %w", file, tmpl, err)
		}
		text := tidy(b.String())
		if err := checkLuaBlocks(text); err != nil {
			return fmt.Errorf("rendering %s with %s: %w", file, tmpl, err)
		}
		out["docs/"+file] = []byte(text)
		return nil
	}
	pages := Pages(in)
	for _, fn := range in.Desc.Functions {
		if fn.DocPage == ErrorsPage(in) {
			return nil, fmt.Errorf("the function %s has the docs page name of the errors page (%s); rename the function", fn.FullName, ErrorsPage(in))
		}
	}
	if err := render(pages[0].File, IntegrationTemplate, v); err != nil {
		return nil, err
	}
	if err := render(pages[1].File, ReferenceTemplate, v); err != nil {
		return nil, err
	}
	if err := render(pages[2].File, ErrorsTemplate, v); err != nil {
		return nil, err
	}
	for i, fv := range v.Functions {
		if err := render(pages[i+3].File, FunctionTemplate, pageView{View: v, Function: fv}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ErrorsPage is the name of the page about errors: <slug>.errors, so that
// docs.read("errors") finds it as it finds a function's page.
func ErrorsPage(in *ir.Integration) string { return in.Desc.Slug + ".errors" }

var blankRuns = regexp.MustCompile(`\n{3,}`)

// tidy folds the blank lines that template actions leave behind, so the
// templates can stay readable.
func tidy(s string) string {
	return strings.TrimSpace(blankRuns.ReplaceAllString(s, "\n\n")) + "\n"
}

var luaBlock = regexp.MustCompile("(?s)```lua\n(.*?)```")

// checkLuaBlocks parses every Lua code block of a rendered page.
func checkLuaBlocks(text string) error {
	for _, m := range luaBlock.FindAllStringSubmatchIndex(text, -1) {
		src := text[m[2]:m[3]]
		if err := ir.CheckLua(src); err != nil {
			line := strings.Count(text[:m[2]], "\n") + 1
			var le *ir.LuaError
			if e, ok := err.(*ir.LuaError); ok {
				le = e
				line += le.Line - 1
			}
			return fmt.Errorf("line %d: a Lua block does not parse: %w", line, err)
		}
	}
	return nil
}
