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
	if enum := d.Type("Step").Property("action").Schema; enum.EnumTable != "operations" || len(enum.Enum) != 4 {
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
	// Transfers: steps are pointers to the functions they call, the
	// parameters are the host's (a timeout stays a timeout), the answer is
	// derived, and no server gets them as an HTTP operation.
	send := in.Function("send_file").Desc
	up := send.Transfer.Upload
	if up == nil || up.Via != run.Desc || up.Then.Via != get || up.Then.Args[0] != (integration.PathArg{Param: "job_id", From: "data.id"}) {
		t.Errorf("upload: %+v", up)
	}
	if a, _ := up.Args.Get("action"); a != "fetch/upload" || up.FileField != "document" || up.FileParam != "path" {
		t.Errorf("upload args: %v %q %q", a, up.FileField, up.FileParam)
	}
	if send.Response != get.Response || send.Status != 200 || send.Method != "" || send.Param("path").In != integration.InLocal {
		t.Errorf("send_file: answer %v %d, method %q, path in %v", send.Response, send.Status, send.Method, send.Param("path").In)
	}
	save := in.Function("save_scans").Desc
	dl := save.Transfer.Download
	if dl == nil || len(dl.Sources) != 2 || dl.Sources[0].Via != wait || dl.Sources[1].Via != nil || dl.Sources[0].Failed.Is[0] != "failed" || dl.URLField != "href" {
		t.Errorf("download: %+v", dl)
	}
	if save.Response == nil || save.Response.Name != "DownloadedFiles" || save.Param("timeout").In != integration.InTimeout || save.Param("dir").In != integration.InLocal {
		t.Errorf("save_scans: %+v", save)
	}
	for _, srv := range in.Servers {
		for _, f := range srv.Functions {
			if f.Desc.Transfer != nil {
				t.Errorf("server %s serves the transfer %s", srv.Desc.Name, f.Desc.Name)
			}
		}
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
		{"transfer via an unknown function", "via: run_step", "via: run_steps", `transfer.upload.via: no function is called "run_steps" (did you mean "run_step"?)`},
		{"transfer via itself", "via: run_step", "via: send_file", "transfer.upload.via names the function itself"},
		{"transfer via another transfer", "via: run_step", "via: save_scans", "save_scans is a transfer function"},
		{"transfer names no parameter", "file_param: path", "file_param: file", `transfer.upload.file_param: send_file has no parameter "file"`},
		{"transfer arguments without a required one", "args: {action: fetch/upload}", "args: {}", "transfer.upload.args: printshop.run_step: action: is required"},
		{"transfer argument outside the enum", "args: {action: fetch/upload}", "args: {action: fax}", "transfer.upload.args: printshop.run_step: action: "},
		{"then writes", "then: {via: get_job,", "then: {via: delete_job,", "delete_job writes; the step after an upload must only read"},
		{"then lacks a required parameter", "args: {job_id: data.id}", "args: {}", "get_job requires job_id"},
		{"bad path", "form_url: data.form.url", "form_url: data..url", "transfer.upload.form_url: path \"data..url\""},
		{"source via a write", "{param: job_id, via: wait_job,", "{param: job_id, via: delete_job,", "delete_job writes; finding the files must only read"},
		{"source twice", "- {param: url}", "- {param: job_id}", "parameter job_id is a source twice"},
		{"required source", "{name: job_id, type: string, description: The job whose scans to save}", "{name: job_id, type: string, required: true, description: The job whose scans to save}", "parameter job_id must be optional"},
		{"transfer with http", "    transfer:\n      download:", "    http: {method: GET, path: /scans}\n    transfer:\n      download:", "a transfer function makes no HTTP request of its own"},
		{"transfer that reads", "    operation: write\n    summary: Save the scans", "    operation: read\n    summary: Save the scans", "its operation must be write"},
		{"transfer with a response", "    summary: Send a local file to be printed.\n", "    summary: Send a local file to be printed.\n    response: {status: 200, ref: JobResponse}\n", "leave out response"},
		{"transfer parameter that is an object", "{name: dir, type: string,", "{name: dir, type: object,", "must be strings, numbers or booleans"},
		{"transfer parameter sent in the body", "{name: url, type: string, description: The URL", "{name: url, type: string, http: {in: query}, description: The URL", "http may only be {in: timeout}"},
		{"upload and download at once", "    transfer:\n      upload:", "    transfer:\n      download: {url_field: u, name_field: n, sources: [{param: path}]}\n      upload:", "needs exactly one of upload and download"},
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
