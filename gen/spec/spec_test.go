package spec

import (
	"errors"
	"strings"
	"testing"
)

// TestParse: the loader keeps every value with its position, keeps the
// order of ordered mappings, reads the compact forms (additional_properties
// true or a schema; a block scalar's Lua) and refuses what a spec may not
// hold, naming file:line:col.
func TestParse(t *testing.T) {
	src := `integration:
  slug: s
  name: S
types:
  B: {type: string}
  A:
    type: object
    additional_properties: {type: integer}
    properties:
      z: {type: string}
      y: {type: string, required: true}
functions:
  - name: f
    operation: read
    summary: F.
    http: {method: GET, path: /f}
    response: {status: 200, ref: A}
    examples:
      - title: One
        lua: |
          print(1)
`
	f, err := Parse("s.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if got := []string{f.Types[0].Key, f.Types[1].Key}; got[0] != "B" || got[1] != "A" {
		t.Errorf("types lost their order: %v", got)
	}
	a := f.Types[1].Value
	if a.Properties[0].Key != "z" || a.Properties[1].Key != "y" || !a.Properties[1].Value.Required {
		t.Errorf("properties: %+v", a.Properties)
	}
	if a.AdditionalProperties == nil || a.AdditionalProperties.Schema == nil || a.AdditionalProperties.Schema.Type != "integer" {
		t.Errorf("additional_properties schema: %+v", a.AdditionalProperties)
	}
	if p := f.Types[1].KeyPos; p.String() != "s.yaml:6:3" {
		t.Errorf("key position %s", p)
	}
	fn := f.Functions[0]
	if fn.Pos.String() != "s.yaml:13:5" || fn.HTTP.Pos.Line != 16 {
		t.Errorf("function positions %s / %d", fn.Pos, fn.HTTP.Pos.Line)
	}
	if ex := fn.Examples[0]; ex.Lua != "print(1)\n" || ex.LuaPos.Line != 21 {
		t.Errorf("example %q at %s", ex.Lua, ex.LuaPos)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"unknown key with a suggestion", "integration:\n  slugg: x\n", `s.yaml:2:3: unknown key "slugg" (did you mean "slug"?); allowed here: auth,`},
		{"scalar where a list is", "functions: f\n", "s.yaml:1:12:"},
		{"alias", "integration: &a\n  slug: x\nfunctions: *a\n", "YAML aliases (*a) are not supported"},
		{"boolean as text", "operations:\n  - {name: a, common: yes}\n", `expected true or false, got the text "yes"`},
		{"not YAML", "integration: [\n", "s.yaml:"},
		{"empty", "", "s.yaml:1:1: the spec is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("s.yaml", []byte(tt.src))
			if err == nil {
				t.Fatalf("no error for:\n%s", tt.src)
			}
			var list ErrorList
			var one *Error
			if !errors.As(err, &list) && !errors.As(err, &one) {
				t.Fatalf("error %v (%T) is not a spec error", err, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error:\n  %v\nwant it to contain:\n  %s", err, tt.want)
			}
		})
	}
}
