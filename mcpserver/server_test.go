package mcpserver

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cctoolkit/cloudconvert/accounts"
	cloudconvert "github.com/cctoolkit/cloudconvert/generated/cloudconvert"
	"github.com/cctoolkit/cloudconvert/integration"
	"github.com/cctoolkit/cloudconvert/integration/invoke"
	"github.com/cctoolkit/cloudconvert/luaruntime"
)

// deadAPI is a REST base URL where nothing listens, for tests that call no
// function.
const deadAPI = "http://127.0.0.1:1/v2"

var runtimeTools = []string{"execute_lua", "lua_list_docs", "lua_search_docs", "lua_read_doc"}

func TestInitialize(t *testing.T) {
	cs := connect(t, newServer(t, setup{base: deadAPI}))
	init := cs.InitializeResult()
	if init.ServerInfo.Name != "cloudconvert-test" || init.ServerInfo.Version != "test" {
		t.Errorf("server info: %+v", init.ServerInfo)
	}
	if init.Capabilities.Tools == nil || init.Capabilities.Resources == nil {
		t.Errorf("capabilities: %+v", init.Capabilities)
	}
	for _, want := range []string{"execute_lua", "cloudconvert-docs://", "--write=allow"} {
		if !strings.Contains(init.Instructions, want) {
			t.Errorf("instructions lack %q:\n%s", want, init.Instructions)
		}
	}
}

// TestListTools checks the tools against the descriptor: one per function,
// named from it, with its input schema plus account, its description and
// the annotations of its kind; write tools only with writes allowed.
func TestListTools(t *testing.T) {
	in := cloudconvert.Descriptor()
	for _, tc := range []struct {
		name       string
		allowWrite bool
	}{
		{"write=deny", false},
		{"write=allow", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := connect(t, newServer(t, setup{allowWrite: tc.allowWrite, base: deadAPI}))
			res, err := cs.ListTools(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]*mcp.Tool{}
			var names []string
			for _, tool := range res.Tools {
				got[tool.Name] = tool
				names = append(names, tool.Name)
			}
			var want []string
			for _, f := range in.Functions {
				if f.Kind == integration.Write && !tc.allowWrite {
					continue
				}
				want = append(want, f.ToolName)
			}
			want = append(want, runtimeTools...)
			slices.Sort(want) // the SDK lists tools by name
			if !slices.Equal(names, want) {
				t.Fatalf("tools:\n got %v\nwant %v", names, want)
			}
			all, reads, writes := in.Counts()
			if reads == 0 || writes == 0 || len(names) != len(runtimeTools)+map[bool]int{false: reads, true: all}[tc.allowWrite] {
				t.Errorf("%d tools; the descriptor has %d reads and %d writes", len(names), reads, writes)
			}
			for _, f := range in.Functions {
				tool := got[f.ToolName]
				if tool == nil {
					continue
				}
				t.Run(f.ToolName, func(t *testing.T) {
					// Schema: exactly the descriptor's, plus the account property.
					wantSchema := normalize(t, f.InputSchema()).(map[string]any)
					props, _ := wantSchema["properties"].(map[string]any)
					props["account"] = map[string]any{"type": "string", "description": "The named account to call with; the default account when omitted. Configured: staging."}
					if gotSchema := normalize(t, tool.InputSchema); !reflect.DeepEqual(gotSchema, wantSchema) {
						t.Errorf("schema:\n got %s\nwant %s", mustJSON(gotSchema), mustJSON(wantSchema))
					}
					wantDesc := f.Description
					if wantDesc == "" {
						wantDesc = f.Summary
					}
					if tool.Description != wantDesc || wantDesc == "" {
						t.Errorf("description %q, want %q", tool.Description, wantDesc)
					}
					a := tool.Annotations
					if a == nil {
						t.Fatal("no annotations")
					}
					switch f.Kind {
					case integration.Read:
						if !a.ReadOnlyHint || a.DestructiveHint != nil {
							t.Errorf("read annotations: %+v", a)
						}
					case integration.Write:
						if a.ReadOnlyHint || a.DestructiveHint == nil || !*a.DestructiveHint {
							t.Errorf("write annotations: %+v", a)
						}
					default:
						t.Errorf("kind %v", f.Kind)
					}
				})
			}
			// execute_lua says whether it can write.
			el := got["execute_lua"]
			if tc.allowWrite && (el.Annotations.ReadOnlyHint || el.Annotations.DestructiveHint == nil) {
				t.Errorf("execute_lua annotations with writes: %+v", el.Annotations)
			}
			if !tc.allowWrite && !el.Annotations.ReadOnlyHint {
				t.Errorf("execute_lua annotations without writes: %+v", el.Annotations)
			}
			for _, n := range runtimeTools[1:] {
				if !got[n].Annotations.ReadOnlyHint {
					t.Errorf("%s is not read-only", n)
				}
			}
		})
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestReadTools calls each read tool against the local server and checks
// the structured content is the API's JSON (the same GET made beside it)
// and the request was right, with the account's key.
func TestReadTools(t *testing.T) {
	api := newLocalAPI(t)
	job := seedJob(t, api, "read-tools")
	jobID := job["id"].(string)
	taskID := job["tasks"].([]any)[0].(map[string]any)["id"].(string)
	cs := connect(t, newServer(t, setup{base: api.APIURL()}))
	for _, tc := range []struct {
		tool  string
		args  map[string]any
		path  string // of the request, and of the GET that gives the expected JSON
		query string
		auth  string
		check string // in the text
	}{
		{"cloudconvert_get_current_user", nil, "/v2/users/me", "", testKey, `"username": "local"`},
		{"cloudconvert_get_current_user", map[string]any{"account": "staging"}, "/v2/users/me", "", stagingKey, `"username": "staging"`},
		{"cloudconvert_get_job", map[string]any{"job_id": jobID}, "/v2/jobs/" + jobID, "", testKey, `"status": "finished"`},
		{"cloudconvert_list_jobs", map[string]any{"status": "finished", "per_page": 5, "account": "default"}, "/v2/jobs", "filter[status]=finished&per_page=5", testKey, jobID},
		{"cloudconvert_get_task", map[string]any{"task_id": taskID}, "/v2/tasks/" + taskID, "", testKey, taskID},
		{"cloudconvert_list_tasks", map[string]any{"job_id": jobID, "operation": "export/url"}, "/v2/tasks", "filter[operation]=export%2Furl&filter[job_id]=" + jobID, testKey, `"job_id": "` + jobID + `"`},
	} {
		t.Run(tc.tool, func(t *testing.T) {
			api.Reset()
			res := call(t, cs, tc.tool, tc.args)
			if res.IsError {
				t.Fatalf("tool error: %s", text(res))
			}
			reqs := api.Requests()
			if len(reqs) != 1 {
				t.Fatalf("requests: %+v", reqs)
			}
			r := reqs[0]
			if r.Path != tc.path || r.Auth != "Bearer "+tc.auth || r.Status != 200 {
				t.Errorf("request %s (auth %q) -> %d, want %s with %s", r.Path, r.Auth, r.Status, tc.path, tc.auth)
			}
			if tc.query != "" && !sameQuery(r.Query, tc.query) {
				t.Errorf("query %q, want %q", r.Query, tc.query)
			}
			if !strings.Contains(text(res), tc.check) {
				t.Errorf("text lacks %q:\n%s", tc.check, text(res))
			}
			path := tc.path
			if r.Query != "" {
				path += "?" + r.Query
			}
			_, direct := getAs(t, api.URL+path, tc.auth)
			want := normalize(t, direct)
			if !reflect.DeepEqual(normalize(t, res.StructuredContent), want) {
				t.Errorf("structured content is not the API's JSON:\n%s\n%s", mustJSON(res.StructuredContent), mustJSON(want))
			}
			if !reflect.DeepEqual(normalize(t, []byte(text(res))), want) {
				t.Errorf("text is not the API's JSON:\n%s", text(res))
			}
		})
	}
}

// getAs sends a GET with a key, beside the code under test.
func getAs(t *testing.T, url, key string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, m
}

func sameQuery(a, b string) bool {
	as, bs := strings.Split(a, "&"), strings.Split(b, "&")
	for i := range as {
		as[i] = strings.ReplaceAll(strings.ReplaceAll(as[i], "%5B", "["), "%5D", "]")
	}
	slices.Sort(as)
	slices.Sort(bs)
	return slices.Equal(as, bs)
}

// TestAPIErrors: API failures are tool errors with the typed error's
// fields, and never show the key, even when the server echoes it.
func TestAPIErrors(t *testing.T) {
	api := newLocalAPI(t)
	job := seedJob(t, api, "api-errors")
	finished := job["tasks"].([]any)[0].(map[string]any)["id"].(string)
	cs := connect(t, newServer(t, setup{allowWrite: true, base: api.APIURL()}))
	for _, tc := range []struct {
		name   string
		tool   string
		args   map[string]any
		status float64
		code   string
		errors bool
	}{
		{"not found", "cloudconvert_get_job", map[string]any{"job_id": "missing"}, 404, "NOT_FOUND", false},
		// A finished task cannot be cancelled: 422 with a field error.
		{"validation", "cloudconvert_cancel_task", map[string]any{"task_id": finished}, 422, "INVALID_DATA", true},
		{"echoed key", "cloudconvert_get_job", map[string]any{"job_id": "echo-key"}, 500, "SERVER_ERROR", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := call(t, cs, tc.tool, tc.args)
			if !res.IsError {
				t.Fatalf("not a tool error: %s", text(res))
			}
			if errorField(res, "kind") != "api_error" || errorField(res, "status") != tc.status || errorField(res, "code") != tc.code {
				t.Errorf("error fields: %s", mustJSON(res.StructuredContent))
			}
			if fn := errorField(res, "function"); fn != strings.TrimPrefix(tc.tool, "cloudconvert_") {
				t.Errorf("function %v", fn)
			}
			if (errorField(res, "errors") != nil) != tc.errors {
				t.Errorf("errors: %v", errorField(res, "errors"))
			}
			if !strings.Contains(text(res), tc.code) {
				t.Errorf("text: %s", text(res))
			}
		})
	}
	// Unknown account and no API at all are tool errors too.
	res := call(t, cs, "cloudconvert_get_current_user", map[string]any{"account": "nope"})
	if !res.IsError || errorField(res, "kind") != "unknown_account" || !strings.Contains(text(res), "staging") {
		t.Errorf("unknown account: %s", text(res))
	}
}

func TestTransportError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there any more
	cs := connect(t, newServer(t, setup{base: url + "/v2"}))
	res := call(t, cs, "cloudconvert_get_current_user", nil)
	if !res.IsError || errorField(res, "kind") != "transport_error" {
		t.Errorf("transport error: %s", text(res))
	}
}

// TestWritePolicy: with --write=deny a write tool is not listed and a call
// is refused before any request; with --write=allow it goes through.
func TestWritePolicy(t *testing.T) {
	args := map[string]any{"tasks": []any{
		map[string]any{"name": "import-1", "operation": "import/base64", "file": "aGVsbG8=", "filename": "a.txt"},
		map[string]any{"name": "export-1", "operation": "export/url", "input": "import-1"},
	}, "tag": "mcp"}
	for _, tc := range []struct {
		name       string
		allowWrite bool
	}{
		{"deny", false},
		{"allow", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newLocalAPI(t)
			cs := connect(t, newServer(t, setup{allowWrite: tc.allowWrite, base: api.APIURL()}))
			for _, tool := range []string{"cloudconvert_create_job", "cloudconvert_create_task"} {
				a := args
				if tool == "cloudconvert_create_task" {
					a = map[string]any{"operation": "import/base64", "payload": map[string]any{"file": "aGVsbG8=", "filename": "b.txt"}}
				}
				res := call(t, cs, tool, a)
				if tc.allowWrite {
					if res.IsError {
						t.Fatalf("%s refused with --write=allow: %s", tool, text(res))
					}
					if m, _ := res.StructuredContent.(map[string]any); m["data"] == nil {
						t.Errorf("%s: %s", tool, mustJSON(res.StructuredContent))
					}
					continue
				}
				if !res.IsError || errorField(res, "kind") != "permission_denied" || !strings.Contains(text(res), "--write=allow") {
					t.Errorf("%s not refused: %s", tool, text(res))
				}
			}
			posts := 0
			for _, r := range api.Requests() {
				if r.Method == "POST" {
					posts++
					if r.Status != http.StatusCreated {
						t.Errorf("%s -> %d", r.Path, r.Status)
					}
				}
			}
			if want := map[bool]int{false: 0, true: 2}[tc.allowWrite]; posts != want {
				t.Errorf("%d POSTs reached the API, want %d", posts, want)
			}
			// The same through execute_lua.
			res := call(t, cs, "execute_lua", map[string]any{"code": `return app.integrations.cloudconvert.create_job({tasks = {{name = "a", operation = "import/base64", file = "eA==", filename = "x.txt"}}}).data.id`})
			if tc.allowWrite == res.IsError {
				t.Errorf("execute_lua write (allow=%v): %s", tc.allowWrite, text(res))
			}
			if !tc.allowWrite && errorField(res, "kind") != "permission_denied" {
				t.Errorf("execute_lua error: %s", mustJSON(res.StructuredContent))
			}
		})
	}
}

// TestExecuteLuaMultiStep runs a script that creates a job, reads it back
// and lists its tasks against the local server.
func TestExecuteLuaMultiStep(t *testing.T) {
	api := newLocalAPI(t)
	cs := connect(t, newServer(t, setup{allowWrite: true, base: api.APIURL()}))
	script := `
local cc = app.integrations.cloudconvert
local job = cc.create_job({tag = "mcp-test", tasks = {
  {name = "in", operation = "import/base64", file = "aGVsbG8=", filename = "report.txt"},
  {name = "zip", operation = "archive", input = "in", output_format = "zip"},
  {name = "out", operation = "export/url", input = "zip"},
}})
print("created", job.data.id)
local again = cc.get_job({job_id = job.data.id})
local tasks = cc.list_tasks({job_id = job.data.id})
local names = {}
for _, t in ipairs(again.data.tasks) do names[#names + 1] = t.name end
table.sort(names)
return {id = again.data.id, tag = again.data.tag, names = names, listed = #tasks.data}
`
	res := call(t, cs, "execute_lua", map[string]any{"code": script})
	if res.IsError {
		t.Fatalf("script failed: %s", text(res))
	}
	env, _ := res.StructuredContent.(map[string]any)
	result, _ := env["result"].(map[string]any)
	if env["success"] != true || result["tag"] != "mcp-test" || result["listed"] != float64(3) || mustJSON(result["names"]) != `["in","out","zip"]` {
		t.Errorf("envelope: %s", mustJSON(env))
	}
	if !strings.Contains(env["output"].(string), "created\t"+result["id"].(string)) {
		t.Errorf("output: %q", env["output"])
	}
	calls, _ := env["calls"].([]any)
	var fns []string
	for _, c := range calls {
		fns = append(fns, c.(map[string]any)["function"].(string))
	}
	if !slices.Equal(fns, []string{"cloudconvert.create_job", "cloudconvert.get_job", "cloudconvert.list_tasks"}) {
		t.Errorf("calls: %v", fns)
	}
	jobs := 0
	for _, r := range api.Requests() {
		if r.Method == "POST" && r.Path == "/v2/jobs" && r.Status == http.StatusCreated {
			jobs++
		}
	}
	if jobs != 1 {
		t.Errorf("jobs created: %d", jobs)
	}
	if job := api.WaitJob(t, result["id"].(string)); job["status"] != "finished" {
		t.Errorf("the job: %s", mustJSON(job))
	}
	for _, want := range []string{"Output:\ncreated\t", "Result:", `"tag": "mcp-test"`} {
		if !strings.Contains(text(res), want) {
			t.Errorf("text lacks %q:\n%s", want, text(res))
		}
	}
}

func TestExecuteLuaErrors(t *testing.T) {
	api := newLocalAPI(t)
	cs := connect(t, newServer(t, setup{base: api.APIURL()}))
	for _, tc := range []struct {
		name, code, kind, text string
	}{
		{"syntax", "return (", "syntax", "syntax error"},
		{"runtime", "error('boom')", "runtime", "boom"},
		{"api error", "return app.integrations.cloudconvert.get_job({job_id = 'missing'})", "api_error", "404 NOT_FOUND"},
		{"bad argument", "return app.integrations.cloudconvert.get_job({job_id = 5})", "invalid_argument", "<string>:1: cloudconvert.get_job: job_id: must be a string"},
		{"table raised", "error({code = 'E1'})", "runtime", `code = "E1"`},
		{"echoed key printed", "local ok, e = pcall(app.integrations.cloudconvert.get_job, {job_id = 'echo-key'}) print(e.message) error(e.message)", "runtime", "[redacted]"},
		{"sandbox", "return os.execute('true')", "runtime", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := call(t, cs, "execute_lua", map[string]any{"code": tc.code})
			if !res.IsError {
				t.Fatalf("not a tool error: %s", text(res))
			}
			if k := errorField(res, "kind"); k != tc.kind {
				t.Errorf("kind %v, want %s: %s", k, tc.kind, text(res))
			}
			if !strings.Contains(text(res), tc.text) {
				t.Errorf("text lacks %q: %s", tc.text, text(res))
			}
		})
	}
}

// TestInvalidArguments: wrong types, missing required and unknown names
// are tool errors naming the parameter, and the server goes on serving.
func TestInvalidArguments(t *testing.T) {
	api := newLocalAPI(t)
	cs := connect(t, newServer(t, setup{base: api.APIURL()}))
	for _, tc := range []struct {
		name  string
		tool  string
		args  any
		param string
	}{
		{"wrong type", "cloudconvert_get_job", map[string]any{"job_id": 123}, "job_id"},
		{"missing required", "cloudconvert_get_job", map[string]any{}, "job_id"},
		{"unknown name", "cloudconvert_get_job", map[string]any{"job_id": "x", "jobid": "y"}, "jobid"},
		{"out of range", "cloudconvert_list_jobs", map[string]any{"per_page": 500}, "per_page"},
		{"array for a string", "cloudconvert_get_job", map[string]any{"job_id": []any{"x"}}, "job_id"},
		{"not in enum", "cloudconvert_list_tasks", map[string]any{"status": "done"}, "status"},
		{"float for integer", "cloudconvert_list_jobs", map[string]any{"page": 1.5}, "page"},
		{"account not a string", "cloudconvert_get_current_user", map[string]any{"account": 7}, "account"},
		{"no arguments for a required one", "cloudconvert_get_task", nil, "task_id"},
		{"arguments not an object", "cloudconvert_get_task", []any{"x"}, "object"},
		{"lua: missing code", "execute_lua", map[string]any{}, "code"},
		{"lua: code not a string", "execute_lua", map[string]any{"code": 5}, "code"},
		{"lua: unknown name", "execute_lua", map[string]any{"code": "return 1", "timeout": 5}, "timeout"},
		{"docs: unknown name", "lua_read_doc", map[string]any{"name": "cloudconvert", "chapter": 2}, "chapter"},
		{"docs: unknown page", "lua_read_doc", map[string]any{"name": "nope"}, "nope"},
		{"docs: query not a string", "lua_search_docs", map[string]any{"query": []any{"job"}}, "query"},
		{"docs: list takes nothing", "lua_list_docs", map[string]any{"all": true}, "all"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api.Reset()
			res := call(t, cs, tc.tool, tc.args)
			if !res.IsError {
				t.Fatalf("not a tool error: %s", text(res))
			}
			if !strings.Contains(text(res), tc.param) {
				t.Errorf("the error does not name %q: %s", tc.param, text(res))
			}
			if p := errorField(res, "param"); p != nil && p != tc.param {
				t.Errorf("param field %v, want %s", p, tc.param)
			}
			if k := errorField(res, "kind"); k != "invalid_argument" {
				t.Errorf("kind %v", k)
			}
			if n := len(api.Requests()); n != 0 {
				t.Errorf("%d requests were sent", n)
			}
			// The server keeps serving.
			if ok := call(t, cs, "cloudconvert_get_current_user", nil); ok.IsError {
				t.Fatalf("the server stopped serving: %s", text(ok))
			}
		})
	}
	// Unknown tools are protocol errors from the SDK, and the session survives.
	if _, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "cloudconvert_delete_everything"}); err == nil {
		t.Error("unknown tool: no error")
	}
	if err := cs.Ping(context.Background(), nil); err != nil {
		t.Errorf("ping after errors: %v", err)
	}
}

// TestTruncation: past --max-output the text is cut with a note and the
// structured content left out.
func TestTruncation(t *testing.T) {
	api := newLocalAPI(t)
	seedJob(t, api, "truncation")
	cs := connect(t, newServer(t, setup{base: api.APIURL(), maxOutput: 300}))
	for _, tc := range []struct {
		name string
		tool string
		args map[string]any
		cut  bool
	}{
		{"small", "cloudconvert_get_current_user", nil, false},
		{"large", "cloudconvert_list_jobs", nil, true},
		{"large script", "execute_lua", map[string]any{"code": "print(string.rep('x', 1000)) return 1"}, true},
		{"large page", "lua_read_doc", map[string]any{"name": "cloudconvert.create_job"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := call(t, cs, tc.tool, tc.args)
			if res.IsError {
				t.Fatalf("error: %s", text(res))
			}
			body, note, found := strings.Cut(text(res), "\n\n[output truncated:")
			if found != tc.cut {
				t.Fatalf("cut=%v, want %v: %s", found, tc.cut, text(res))
			}
			if !tc.cut {
				if res.StructuredContent == nil && tc.tool != "lua_read_doc" {
					t.Error("no structured content")
				}
				return
			}
			if len(body) > 300 || !strings.Contains(note, "--max-output") {
				t.Errorf("cut to %d bytes, note %q", len(body), note)
			}
			if res.StructuredContent != nil {
				t.Error("a cut result still has structured content")
			}
		})
	}
}

func TestResources(t *testing.T) {
	cs := connect(t, newServer(t, setup{base: deadAPI}))
	ctx := context.Background()
	list, err := cs.ListResources(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	pages := slices.Clone(cloudconvert.Descriptor().Docs)
	slices.SortFunc(pages, func(a, b *integration.DocPage) int {
		return strings.Compare("cloudconvert-docs://"+a.Name, "cloudconvert-docs://"+b.Name)
	})
	if len(list.Resources) != len(pages) || len(pages) < 10 {
		t.Fatalf("%d resources, %d pages", len(list.Resources), len(pages))
	}
	for i, p := range pages {
		r := list.Resources[i]
		uri := "cloudconvert-docs://" + p.Name
		if r.URI != uri || r.Name != p.Name || r.Title != p.Title || r.MIMEType != "text/markdown" || r.Size != int64(len(p.Text)) {
			t.Errorf("resource %d: %+v", i, r)
		}
		got, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: uri})
		if err != nil {
			t.Fatalf("%s: %v", uri, err)
		}
		if len(got.Contents) != 1 || got.Contents[0].Text != p.Text || got.Contents[0].MIMEType != "text/markdown" {
			t.Errorf("%s: contents differ", uri)
		}
	}
	if _, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "cloudconvert-docs://nope"}); err == nil {
		t.Error("unknown resource: no error")
	}
}

func TestDocsTools(t *testing.T) {
	cs := connect(t, newServer(t, setup{base: deadAPI}))
	for _, tc := range []struct {
		tool string
		args map[string]any
		want string
	}{
		{"lua_list_docs", nil, "cloudconvert.create_job"},
		{"lua_search_docs", map[string]any{"query": "export/url"}, "cloudconvert."},
		{"lua_read_doc", map[string]any{"name": "get_job"}, "job_id"},
		{"lua_read_doc", map[string]any{"name": "integrations.cloudconvert"}, "cloudconvert"},
	} {
		t.Run(tc.tool, func(t *testing.T) {
			res := call(t, cs, tc.tool, tc.args)
			if res.IsError || !strings.Contains(text(res), tc.want) {
				t.Errorf("%s: %s", tc.tool, text(res))
			}
		})
	}
}

// TestConcurrentCalls drives one session from many goroutines (run with
// -race).
func TestConcurrentCalls(t *testing.T) {
	api := newLocalAPI(t)
	jobID := seedJob(t, api, "concurrent")["id"].(string)
	cs := connect(t, newServer(t, setup{base: api.APIURL()}))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			var res *mcp.CallToolResult
			switch i % 3 {
			case 0:
				res = call(t, cs, "cloudconvert_get_job", map[string]any{"job_id": jobID})
			case 1:
				res = call(t, cs, "execute_lua", map[string]any{"code": "return app.integrations.cloudconvert.get_current_user({}).data.username"})
			default:
				res = call(t, cs, "cloudconvert_get_job", map[string]any{"job_id": 1})
			}
			if res.IsError != (i%3 == 2) {
				t.Errorf("call %d: %s", i, text(res))
			}
		})
	}
	wg.Wait()
}

func TestNewErrors(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("no runtime: no error")
	}
	// A function with a parameter named like the account argument.
	str := &integration.Schema{Type: integration.TypeString}
	clash := &integration.Function{Name: "f", FullName: "x.f", ToolName: "x_f", Params: []*integration.Param{{Name: "account", In: integration.InQuery, Key: "account", Schema: str}}}
	if _, err := FunctionTool(clash, nil); err == nil || !strings.Contains(err.Error(), `parameter named "account"`) {
		t.Errorf("account clash: %v", err)
	}
	// An integration whose two functions share a tool name.
	srv := &integration.Server{Name: "api", Live: "http://127.0.0.1:1"}
	in := &integration.Integration{Slug: "x", Name: "X", LuaPath: "app.integrations.x", Servers: []*integration.Server{srv}, Functions: []*integration.Function{
		{Name: "a", FullName: "x.a", ToolName: "x_same", Kind: integration.Read, Retry: integration.RetrySafe, Method: "GET", Path: "/a", Server: srv, Status: 200},
		{Name: "b", FullName: "x.b", ToolName: "x_same", Kind: integration.Read, Retry: integration.RetrySafe, Method: "GET", Path: "/b", Server: srv, Status: 200},
	}}
	if err := in.Link(); err != nil {
		t.Fatal(err)
	}
	inv, err := invoke.New(invoke.Options{Integration: in, Accounts: accounts.NewSet(nil)})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := luaruntime.New(luaruntime.Options{Invoker: inv})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Runtime: rt}); err == nil || !strings.Contains(err.Error(), `two functions have the MCP tool name "x_same"`) {
		t.Errorf("tool name clash: %v", err)
	}
}
