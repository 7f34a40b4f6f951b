package ir_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/cctoolkit/cloudconvert/gen/ir"
	"github.com/cctoolkit/cloudconvert/gen/spec"
	"github.com/cctoolkit/cloudconvert/integration"
)

func build(t *testing.T, name string, src []byte) (*ir.Integration, error) {
	t.Helper()
	f, err := spec.Parse(name, src)
	if err != nil {
		t.Fatal(err)
	}
	return ir.Build(f)
}

func golden(t *testing.T) *ir.Integration {
	t.Helper()
	src, err := os.ReadFile("../testdata/golden/printshop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	in, err := build(t, "printshop.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// TestResolved: the IR is resolved once: names computed, refs are
// pointers to the one named schema, kinds typed, servers and waits are
// pointers, and the generator-only facts sit beside the descriptor.
func TestResolved(t *testing.T) {
	in := golden(t)
	d := in.Desc
	if d.LuaPath != "app.integrations.printshop" || in.GoName != "Printshop" {
		t.Errorf("names: %q %q", d.LuaPath, in.GoName)
	}
	if d.Auth.Scheme != "header" || d.Auth.Header != "X-Api-Key" {
		t.Errorf("auth: %+v", d.Auth)
	}
	create := in.Function("create_job")
	cd := create.Desc
	if cd.FullName != "printshop.create_job" || cd.ToolName != "printshop_create_job" || cd.DocPage != "printshop.create_job" || create.GoName != "CreateJob" || create.OperationID != "CreateJob" {
		t.Errorf("function names: %+v / %+v", cd, create)
	}
	if cd.Kind != integration.Write || cd.Retry != integration.RetryUnsent || cd.Server != d.Servers[0] || create.Server != in.Servers[0] {
		t.Errorf("kind/retry/server: %v %v %v", cd.Kind, cd.Retry, cd.Server)
	}
	get, wait := in.Function("get_job").Desc, in.Function("wait_job").Desc
	if get.Response != d.Type("JobResponse") || wait.Response != get.Response {
		t.Error("responses must point at the one named type")
	}
	if wait.Server != d.Server("wait") || wait.Wait == nil || wait.Wait.Poll != get || wait.Wait.Field != "data.state" {
		t.Errorf("wait: %+v", wait.Wait)
	}
	if p := wait.Param("timeout"); p == nil || p.In != integration.InTimeout {
		t.Errorf("timeout param: %+v", p)
	}
	// keyed_by: the caller sees the key field after the first property;
	// the wire schema is the named type, unchanged.
	steps := create.Params[0]
	items := steps.Desc.Schema.Items
	if got := strings.Join(items.PropertyNames(), ","); got != "action,name,after" {
		t.Errorf("caller-facing item fields: %s", got)
	}
	if steps.WireSchema.Items.Ref != d.Type("Step") || d.Type("Step").Property("name") != nil {
		t.Error("the wire schema must keep the named type without the key field")
	}
	if k := steps.Desc.KeyedBy; k.Noun != "step" || k.DefaultCut != "/" || k.References != "after" {
		t.Errorf("keyed_by: %+v", k)
	}
	if enum := d.Type("Step").Property("action").Schema; enum.EnumTable != "operations" || len(enum.Enum) != 3 {
		t.Errorf("enum_from: %+v", enum)
	}
	run := in.Function("run_step")
	if run.Expand == nil || !run.Expand.Desc.Expands || !run.Desc.Param("options").Spread {
		t.Errorf("run_step: expand %v", run.Expand)
	}
	if del := in.Function("delete_job").Desc; del.Status != 204 || del.Response != nil {
		t.Errorf("delete_job answer: %d %v", del.Status, del.Response)
	}
	if served := in.ServedServers(); len(served) != 2 || served[1].ClientPackage != "waitclient" || served[1].OpenAPIFile != "openapi-wait.yaml" {
		t.Errorf("served servers: %+v", served)
	}
	if ex := create.Examples[0]; ex.Title != "Print a PDF" || ex.Pos.Line == 0 || cd.Examples[0].Lua != ex.Lua {
		t.Errorf("examples: %+v", create.Examples)
	}
	if def := d.Function("create_job").Param("priority").Schema.Default; def != 5.0 {
		t.Errorf("default %v (%T), want the number 5", def, def)
	}
}

// TestBuildErrors: each mistake in the newer keywords gives one error at
// its place; the older ones are covered by package gen's TestBadSpecs.
func TestBuildErrors(t *testing.T) {
	base, err := os.ReadFile("../testdata/golden/printshop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, old, new, want string
	}{
		{"wait polls an unknown function", "poll: get_job", "poll: get_jobs", `wait.poll: no function is called "get_jobs" (did you mean "get_job"?)`},
		{"wait polls a write", "poll: get_job", "poll: create_job", "create_job is a write; polling must only read"},
		{"wait without field", "field: data.state, ", "", "needs field"},
		{"header scheme without header", "    header: X-Api-Key\n", "", "auth.scheme header needs auth.header"},
		{"unknown retry class", "    operation: write\n    summary: Delete a print job.", "    operation: write\n    retry: often\n    summary: Delete a print job.", `retry "often" must be safe`},
		{"default_cut without default_from", "default_from: action, ", "", "keyed_by.default_cut needs default_from"},
		{"204 with a body", "{status: 204}", "{status: 204, ref: Job}", "a 204 response has no body"},
		{"min_length on an integer", "maximum: 9\n", "maximum: 9\n        min_length: 2\n", "min_length and max_length are only for strings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.Replace(string(base), tt.old, tt.new, 1)
			if src == string(base) {
				t.Fatalf("the edit %q did not apply", tt.old)
			}
			_, err := build(t, "printshop.yaml", []byte(src))
			var list spec.ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("got %v, want a spec.ErrorList", err)
			}
			if len(list) != 1 || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "printshop.yaml:") {
				t.Errorf("got %d errors:\n%v\nwant one containing %q", len(list), err, tt.want)
			}
		})
	}
}
