package integration_test

import (
	"strings"
	"testing"

	cloudconvert "github.com/cctoolkit/cloudconvert/generated/cloudconvert"
	"github.com/cctoolkit/cloudconvert/integration"
)

func args(t *testing.T, js string) any {
	t.Helper()
	v, err := integration.DecodeJSON([]byte(js), integration.JSONLimits{})
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

// TestBuild: arguments become the request the API wants, or an argument
// error that names the parameter, worded for the caller's language.
func TestBuild(t *testing.T) {
	d := cloudconvert.Descriptor()
	tests := []struct {
		name, fn, args string
		dialect        integration.Dialect
		url, body      string // want, on success
		err            string // want, on failure
	}{
		{name: "path value escaped", fn: "get_job", args: `{"job_id":"a b"}`, url: "https://api.cloudconvert.com/v2/jobs/a%20b"},
		{name: "query keys kept readable, in spec order", fn: "list_jobs", args: `{"tag":"x y","status":"finished","per_page":5}`,
			url: "https://api.cloudconvert.com/v2/jobs?per_page=5&filter[status]=finished&filter[tag]=x+y"},
		{name: "send_default: a default the server does not have is sent", fn: "list_operations", args: `{"input_format":"pdf"}`,
			url: "https://api.cloudconvert.com/v2/operations?filter[input_format]=pdf&include=options"},
		{name: "send_default: a given value wins", fn: "list_operations", args: `{"include":"engine_versions","alternatives":true}`,
			url: "https://api.cloudconvert.com/v2/operations?include=engine_versions&alternatives=true"},
		{name: "maximum from the spec", fn: "list_jobs", args: `{"per_page":101}`, err: "cloudconvert.list_jobs: per_page: must be at most 100, got 101"},
		{name: "integer", fn: "list_jobs", args: `{"page":1.5}`, err: "page: must be an integer, got 1.5"},
		{name: "enum with suggestion", fn: "list_jobs", args: `{"status":"finishd"}`, err: `status: "finishd" is not allowed (did you mean "finished"?)`},
		{name: "unknown parameter with suggestion", fn: "get_job", args: `{"jobid":"x"}`, err: `jobid: is not a parameter (did you mean "job_id"?); parameters: job_id`},
		{name: "required", fn: "get_job", args: `{}`, err: "job_id: is required (a string)"},
		{name: "empty string", fn: "get_job", args: `{"job_id":""}`, err: "job_id: must not be empty"},
		{name: "not an object (JSON)", fn: "get_job", args: `["x"]`, err: `expects named arguments, like {"job_id": ...}; got a list`},
		{name: "not an object (Lua)", fn: "get_job", args: `["x"]`, dialect: integration.Lua, err: `expects named arguments, like get_job({job_id = ...}); got a list`},
		{name: "tasks as an array get default names", fn: "create_job",
			args: `{"tasks":[{"operation":"import/url","url":"u"},{"operation":"import/url","url":"v"},{"operation":"merge","input":["import-1","import-2"],"output_format":"pdf"}]}`,
			body: `{"tasks":{"import-1":{"operation":"import/url","url":"u"},"import-2":{"operation":"import/url","url":"v"},"merge":{"operation":"merge","input":["import-1","import-2"],"output_format":"pdf"}}}`},
		{name: "tasks keyed by name, as the API takes them", fn: "create_job",
			args: `{"tasks":{"in":{"operation":"import/base64","file":"eA==","filename":"x.txt"},"out":{"operation":"export/url","input":"in"}},"tag":"t"}`,
			body: `{"tasks":{"in":{"operation":"import/base64","file":"eA==","filename":"x.txt"},"out":{"operation":"export/url","input":"in"}},"tag":"t"}`},
		{name: "both forms give the same request", fn: "create_job",
			args: `{"tasks":[{"name":"in","operation":"import/base64","file":"eA==","filename":"x.txt"},{"name":"out","operation":"export/url","input":"in"}],"tag":"t"}`,
			body: `{"tasks":{"in":{"operation":"import/base64","file":"eA==","filename":"x.txt"},"out":{"operation":"export/url","input":"in"}},"tag":"t"}`},
		{name: "explicit name wins over a default", fn: "create_job",
			args: `{"tasks":[{"name":"import","operation":"export/url","input":"import-1"},{"operation":"import/url","url":"u"}]}`,
			body: `{"tasks":{"import":{"operation":"export/url","input":"import-1"},"import-1":{"operation":"import/url","url":"u"}}}`},
		{name: "input names no task", fn: "create_job", args: `{"tasks":[{"operation":"import/url","url":"u"},{"operation":"convert","input":"imprt"}]}`,
			err: `tasks[1].input: no task is named "imprt" (did you mean "import"?); the task names are: import, convert`},
		{name: "Lua counts items from 1", fn: "create_job", args: `{"tasks":[{"operation":"import/url","url":"u"},{"operation":"convert","input":"imprt"}]}`, dialect: integration.Lua,
			err: `tasks[2].input: no task is named "imprt"`},
		{name: "duplicate name", fn: "create_job", args: `{"tasks":[{"name":"a","operation":"convert"},{"name":"a","operation":"convert"}]}`,
			err: `tasks[1].name: "a" is already the name of tasks[0]; each task needs its own`},
		{name: "bad name", fn: "create_job", args: `{"tasks":[{"name":"a b","operation":"convert"}]}`, err: `"a b" is not a valid task name`},
		{name: "keyed name repeated inside", fn: "create_job", args: `{"tasks":{"a":{"name":"b","operation":"convert"}}}`, err: `tasks.a.name: is a string ("b"), but the task is keyed "a"`},
		{name: "operation from the table", fn: "create_job", args: `{"tasks":[{"operation":"export/aws-s3"}]}`, err: `tasks[0].operation: "export/aws-s3" is not allowed (did you mean "export/s3"?)`},
		{name: "empty tasks", fn: "create_job", args: `{"tasks":[]}`, err: "tasks: must not be empty; give at least 1 task"},
		{name: "create_task fields at the top level", fn: "create_task", args: `{"operation":"convert","input_format":"docx","output_format":"pdf","input":"t1"}`,
			url: "https://api.cloudconvert.com/v2/convert", body: `{"input_format":"docx","output_format":"pdf","input":"t1"}`},
		{name: "create_task payload as the seed writes it", fn: "create_task", args: `{"operation":"import/url","payload":{"url":"u","filename":"a.pdf"}}`,
			url: "https://api.cloudconvert.com/v2/import/url", body: `{"url":"u","filename":"a.pdf"}`},
		{name: "create_task field twice", fn: "create_task", args: `{"operation":"convert","payload":{"output_format":"pdf"},"output_format":"png"}`,
			err: "output_format: is given both at the top level and in payload; give it once"},
		{name: "a misspelt parameter is not taken for a field", fn: "create_task", args: `{"operatoin":"convert"}`, err: `operatoin: is not a parameter (did you mean "operation"?)`},
		{name: "timeout parameter bounds the call, not sent", fn: "wait_job", args: `{"job_id":"j","timeout":5}`, url: "https://sync.api.cloudconvert.com/v2/jobs/j"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fn := d.Function(tt.fn)
			req, err := fn.Build(args(t, tt.args), tt.dialect)
			if tt.err != "" {
				if err == nil {
					t.Fatalf("built %s %s, want error %q", req.URL(fn.Server.Live), req.Body, tt.err)
				}
				if err.Kind != integration.KindArgument || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %q (%s), want it to contain %q", err, err.Kind, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.url != "" {
				if got := req.URL(fn.Server.Live); got != tt.url {
					t.Errorf("URL\n got %s\nwant %s", got, tt.url)
				}
			}
			if tt.body != "" && string(req.Body) != tt.body {
				t.Errorf("body\n got %s\nwant %s", req.Body, tt.body)
			}
		})
	}
}

// TestDecodeJSONLimits: argument JSON keeps field order and refuses what
// would cost more than it is worth.
func TestDecodeJSONLimits(t *testing.T) {
	v, err := integration.DecodeJSON([]byte(`{"b":1,"a":[true,null,"x"],"c":{}}`), integration.JSONLimits{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := v.(*integration.Object).MarshalJSON()
	if string(b) != `{"b":1,"a":[true,null,"x"],"c":{}}` {
		t.Errorf("round trip %s", b)
	}
	for _, tt := range []struct{ in, want string }{
		{strings.Repeat("[", 70) + strings.Repeat("]", 70), "nests deeper than 64 levels"},
		{`{"a":1} x`, "unexpected data after the value"},
		{`{"a":`, "unexpected end of input"},
		{`1e999`, "out of range"},
	} {
		if _, err := integration.DecodeJSON([]byte(tt.in), integration.JSONLimits{}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%.30s: %v, want %q", tt.in, err, tt.want)
		}
	}
	if _, err := integration.DecodeJSON([]byte(`"0123456789"`), integration.JSONLimits{MaxBytes: 5}); err == nil {
		t.Error("MaxBytes not applied")
	}
}

// TestInputSchema: the JSON Schema the MCP tools and metadata show.
func TestInputSchema(t *testing.T) {
	d := cloudconvert.Descriptor()
	b, err := d.Function("list_jobs").InputSchema().MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"type":"object"`, `"per_page":{"type":"integer","description":"Results per page","default":20,"minimum":1,"maximum":100}`, `"additionalProperties":false`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("list_jobs schema lacks %s:\n%s", want, b)
		}
	}
	b, _ = d.Function("create_task").InputSchema().MarshalJSON()
	if !strings.Contains(string(b), `"additionalProperties":true`) || !strings.Contains(string(b), `"required":["operation"]`) {
		t.Errorf("create_task takes fields at the top level: %s", b)
	}
	b, _ = d.Function("create_job").InputSchema().MarshalJSON()
	if !strings.Contains(string(b), `"name":{"type":"string","description":"Name for the task (used to chain tasks)","pattern":"^[A-Za-z0-9_-]+$"}`) {
		t.Errorf("create_job items lack the key field: %s", b)
	}
}
