package integration_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/cctoolkit/cloudconvert/integration"
)

// TestPath: names, [*] and [field=value] (whose value may hold dots and
// slashes); missing fields, nulls and values of the wrong kind are left
// out.
func TestPath(t *testing.T) {
	doc, err := integration.DecodeJSON([]byte(`{"data": {"id": "j1", "status": "finished", "tasks": [
		{"operation": "import/url", "result": {"files": [{"filename": "in.pdf"}]}},
		{"operation": "export/url", "status": "error", "message": "m1", "result": null},
		{"operation": "export/url", "result": {"files": [{"filename": "a.png", "url": "u1"}, {"filename": "b.png", "url": "u2"}]}},
		{"operation": "export/url.v2", "result": {"files": [{"filename": "c.png"}]}},
		"not an object"
	]}}`), integration.JSONLimits{})
	if err != nil {
		t.Fatal(err)
	}
	names := func(path string) []string {
		var out []string
		for _, v := range integration.MustPath(path).Eval(doc) {
			o, _ := v.(*integration.Object)
			if o == nil {
				out = append(out, "?")
				continue
			}
			n, _ := o.Get("filename")
			out = append(out, n.(string))
		}
		return out
	}
	for path, want := range map[string][]string{
		"data.tasks[operation=export/url].result.files[*]":    {"a.png", "b.png"},
		"data.tasks[*].result.files[*]":                       {"in.pdf", "a.png", "b.png", "c.png"},
		"data.tasks[operation=export/url.v2].result.files[*]": {"c.png"},
		"data.tasks[operation=none].result.files[*]":          nil,
		"data.missing[*]": nil,
	} {
		if got := names(path); !slices.Equal(got, want) {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	if got := integration.MustPath("data.id").Strings(doc); !slices.Equal(got, []string{"j1"}) {
		t.Errorf("data.id = %v", got)
	}
	if got := integration.MustPath("data.tasks[status=error].message").Strings(doc); !slices.Equal(got, []string{"m1"}) {
		t.Errorf("messages = %v", got)
	}
	for _, bad := range []string{"", "a..b", ".a", "a.", "a[", "a[x]", "[*]", "a[=v]", "a[*]b"} {
		if _, err := integration.ParsePath(bad); err == nil {
			t.Errorf("ParsePath(%q) succeeded", bad)
		} else if !strings.Contains(err.Error(), "path") {
			t.Errorf("ParsePath(%q): %v does not name the path", bad, err)
		}
	}
}
