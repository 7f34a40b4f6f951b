package gen

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cctoolkit/cloudconvert/gen/ir"
	"github.com/cctoolkit/cloudconvert/gen/spec"
)

// TestBadSpecs loads each broken spec under testdata/badspecs: each must
// give exactly one error, at the right place, saying what is wrong.
func TestBadSpecs(t *testing.T) {
	tests := []struct {
		file string
		want string // position and message, as the user sees it
	}{
		{"bad_yaml", "bad_yaml.yaml:5:1: invalid YAML: mapping values are not allowed in this context"},
		{"unknown_key", `unknown_key.yaml:47:5: unknown key "summery" (did you mean "summary"?); allowed here: description, examples,`},
		{"duplicate_function", `duplicate_function.yaml:61:5: function "get_note" is defined twice (first at duplicate_function.yaml:44:5)`},
		{"unknown_type", `unknown_type.yaml:49:9: function get_note: parameter "note_id": unknown type "integr" (did you mean "integer"?)`},
		{"required_with_default", `required_with_default.yaml:75:9: function create_note: parameter "folder" is required and has a default`},
		{"path_param_not_in_path", `path_param_not_in_path.yaml:47:11: function get_note: path parameter "note_id" (wire name "id") does not appear in http.path "/notes"`},
		{"placeholder_without_param", `placeholder_without_param.yaml:47:11: function get_note: http.path "/notes/{id}/{rev}" has {rev} but no parameter`},
		{"invalid_lua", `invalid_lua.yaml:58:68: function get_note example does not parse as Lua: syntax error near '['`},
		{"unknown_ref", `unknown_ref.yaml:55:15: function get_note: response: unknown type "NoteResponce" (did you mean "NoteResponse"?)`},
		{"bad_operation_type", `bad_operation_type.yaml:61:5: function create_note: operation "delete" must be read or write`},
		{"duplicate_param", `duplicate_param.yaml:71:9: function create_note: parameter "title" is defined twice`},
		{"wrong_scalar", `wrong_scalar.yaml:68:19: expected true or false, got the text "yes"`},
		{"default_wrong_type", `default_wrong_type.yaml:75:9: function create_note: parameter "folder": default 5 is not of type string`},
		{"min_greater_than_max", `min_greater_than_max.yaml:49:9: function get_note: parameter "note_id": minimum 10 is greater than maximum 2`},
		{"bad_method", `bad_method.yaml:64:11: function create_note: http.method "FETCH" is not one of GET, POST, PUT, PATCH, DELETE`},
		{"unknown_enum_from", `unknown_enum_from.yaml:75:9: function create_note: parameter "folder": enum_from "folders" is not known`},
		{"array_without_items", `array_without_items.yaml:71:9: function create_note: parameter "tags": an array needs items`},
		{"invalid_slug", `invalid_slug.yaml:4:3: integration.slug "Notes-App" must be lower-case letters, digits and _`},
		{"function_not_snake_case", `function_not_snake_case.yaml:61:5: function createNote: the name must be snake_case`},
		{"duplicate_type", `duplicate_type.yaml:33:3: "Note" is defined twice`},
		{"query_param_object", `query_param_object.yaml:75:9: function create_note: parameter "folder": query parameters must be strings, numbers or booleans`},
		{"empty", "empty.yaml:1:1: the spec is empty; it needs at least integration and functions"},
		{"missing_response", `missing_response.yaml:61:5: function create_note: response.ref is missing`},
		{"yaml_alias", `yaml_alias.yaml:3:9: YAML aliases (*top) are not supported in a spec; write the value out`},
		{"error_code_status", `error_code_status.yaml:44:7: errors.codes: CONFLICT has status 409, which errors.statuses does not list`},
		{"send_default_without_default", `send_default_without_default.yaml:80:15: function create_note: parameter "folder": http.send_default needs a query parameter with a default`},
		{"default_not_in_enum", `default_not_in_enum.yaml:75:9: function create_note: parameter "folder": default trash is not one of the enum values`},
	}
	entries, err := os.ReadDir("testdata/badspecs")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(tests) {
		t.Errorf("testdata/badspecs has %d files and the table %d cases: keep them together", len(entries), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			name := tt.file + ".yaml"
			data, err := os.ReadFile(filepath.Join("testdata/badspecs", name))
			if err != nil {
				t.Fatal(err)
			}
			err = buildSpec(name, data)
			var list spec.ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("got %v (%T), want a spec.ErrorList", err, err)
			}
			if len(list) != 1 {
				t.Errorf("got %d errors, want exactly one:\n%v", len(list), err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error:\n  %v\nwant it to contain:\n  %s", err, tt.want)
			}
		})
	}
}

// buildSpec loads and validates spec text, as the generator does.
func buildSpec(name string, data []byte) error {
	f, err := spec.Parse(name, data)
	if err != nil {
		return err
	}
	_, err = ir.Build(f)
	return err
}

// FuzzLoadSpec feeds arbitrary text to the loader and validator: they may
// refuse it, but must never panic, and every refusal carries a position.
func FuzzLoadSpec(f *testing.F) {
	for _, dir := range []string{"testdata/badspecs", "testdata/second", "../spec"} {
		matches, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, m := range matches {
			if data, err := os.ReadFile(m); err == nil {
				f.Add(data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := buildSpec("fuzz.yaml", data)
		if err == nil {
			return
		}
		var list spec.ErrorList
		if !errors.As(err, &list) {
			t.Fatalf("error without a position: %v", err)
		}
		for _, e := range list {
			if !strings.HasPrefix(e.Error(), "fuzz.yaml") {
				t.Fatalf("error does not name the file: %v", e)
			}
		}
	})
}
