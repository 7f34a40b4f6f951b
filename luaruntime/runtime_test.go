package luaruntime

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cloudconvert "github.com/cctoolkit/cloudconvert/generated/cloudconvert"
	"github.com/cctoolkit/cloudconvert/integration"
	"github.com/cctoolkit/cloudconvert/integration/invoke"
)

func TestMultiAccountPattern(t *testing.T) {
	api := newLocalAPI(t)
	rt := newTestRuntime(t, api.URL, rtOptions{})
	res := rt.Execute(context.Background(), `
local a = app.integrations.cloudconvert.get_current_user({})
local b = app.integrations.cloudconvert.default.get_current_user({})
local c = app.integrations.cloudconvert.staging.get_current_user({})
return a.data.id, b.data.id, c.data.id`)
	if res.Error != nil {
		t.Fatal(res.Error)
	}
	if got := mustJSON(res.Values); got != "[1,1,1]" {
		t.Fatalf("values %s", got)
	}
	accts := []string{res.Calls[0].Account, res.Calls[1].Account, res.Calls[2].Account}
	if !reflect.DeepEqual(accts, []string{"default", "default", "staging"}) {
		t.Fatalf("accounts %v", accts)
	}
}

// The seed's three create_job examples must send the bodies the API
// expects: tasks keyed by name, in order, with the fields as given. The
// local server takes each (201).
func TestCreateJobBodies(t *testing.T) {
	api := newLocalAPI(t)
	rt := newTestRuntime(t, api.URL, rtOptions{})
	want := []string{
		`{"tasks":{"import":{"operation":"import/url","url":"https://example.com/document.pdf","filename":"document.pdf"},"convert":{"operation":"convert","input":"import","output_format":"png"},"export":{"operation":"export/url","input":"convert"}}}`,
		`{"tasks":{"capture-website":{"operation":"capture-website","url":"https://example.com","output_format":"png","screen_width":1280,"screen_height":800},"export":{"operation":"export/url","input":"capture-website"}}}`,
		`{"tasks":{"import-1":{"operation":"import/url","url":"https://example.com/page1.pdf","filename":"page1.pdf"},"import-2":{"operation":"import/url","url":"https://example.com/page2.pdf","filename":"page2.pdf"},"merge":{"operation":"merge","input":["import-1","import-2"],"output_format":"pdf"},"export":{"operation":"export/url","input":"merge"}}}`,
	}
	exs := cloudconvert.Descriptor().Function("create_job").Examples
	if len(exs) != 3 {
		t.Fatalf("create_job has %d examples, want the seed's 3", len(exs))
	}
	for i, ex := range exs {
		api.Reset()
		if res := rt.Execute(context.Background(), ex.Lua); res.Error != nil {
			t.Fatalf("%s: %v", ex.Title, res.Error)
		}
		reqs := api.Requests()
		if len(reqs) != 1 || reqs[0].Method != "POST" || reqs[0].Path != "/v2/jobs" || reqs[0].Status != http.StatusCreated {
			t.Fatalf("%s: requests %+v", ex.Title, reqs)
		}
		if got := string(reqs[0].Body); got != want[i] {
			t.Errorf("%s:\n got %s\nwant %s", ex.Title, got, want[i])
		}
	}
}

// TestRequestShapes: each call's method, path, query and body on the wire,
// and the local server's status for it. A prelude makes what a call needs
// (its IDs replace %[1]s, %[2]s in the code and the expected request).
func TestRequestShapes(t *testing.T) {
	api := newLocalAPI(t)
	rt := newTestRuntime(t, api.URL, rtOptions{})
	const twoTasks = `local a = cc.create_task({operation = "import/base64", file = "eA==", filename = "a.txt"}).data.id
local b = cc.create_task({operation = "import/base64", file = "eQ==", filename = "b.txt"}).data.id
return a, b`
	const oneJob = `return cc.create_job({tasks = {{operation = "import/base64", file = "eA==", filename = "a.txt"}}}).data.id`
	cases := []struct {
		prelude, code   string
		method, path, q string
		body            string
		status          int
	}{
		{"", `cc.list_tasks({job_id = "j1", status = "error", operation = "import/url", per_page = 100, page = 2})`,
			"GET", "/v2/tasks", "per_page=100&page=2&filter[status]=error&filter[operation]=import%2Furl&filter[job_id]=j1", "", 200},
		{"", `cc.list_jobs({tag = "a b&c"})`, "GET", "/v2/jobs", "filter[tag]=a+b%26c", "", 200},
		{"", `cc.create_task({operation = "import/url", payload = {url = "https://x/y.pdf"}})`, "POST", "/v2/import/url", "", `{"url":"https://x/y.pdf"}`, 201},
		// The API's own form: operation fields at the top level.
		{"", `cc.create_task({operation = "import/url", url = "https://x/y.pdf", filename = "y.pdf"})`, "POST", "/v2/import/url", "", `{"url":"https://x/y.pdf","filename":"y.pdf"}`, 201},
		{twoTasks, `cc.create_task({operation = "convert", input = {"%[1]s", "%[2]s"}, payload = {output_format = "pdf", options = {quality = 90, flags = {}}}})`,
			"POST", "/v2/convert", "", `{"output_format":"pdf","options":{"quality":90,"flags":{}},"input":["%[1]s","%[2]s"]}`, 201},
		// A "/" in an ID is escaped: the server looks for job "a/b".
		{"", `cc.get_job({job_id = "a/b"})`, "GET", "/v2/jobs/a%2Fb", "", "", 404},
		{oneJob, `cc.wait_job({job_id = "%[1]s", timeout = 30})`, "GET", "/sync/v2/jobs/%[1]s", "", "", 200},
		{"", `cc.create_job({tasks = {{operation = "import/url", name = "import", url = "https://x/a.pdf"}, {operation = "import/base64", file = "eA==", filename = "x.txt"}, {operation = "merge", input = {"import", "import-1"}, output_format = "pdf"}}, tag = "t"})`,
			"POST", "/v2/jobs", "", `{"tasks":{"import":{"operation":"import/url","url":"https://x/a.pdf"},"import-1":{"operation":"import/base64","file":"eA==","filename":"x.txt"},"merge":{"operation":"merge","input":["import","import-1"],"output_format":"pdf"}},"tag":"t"}`, 201},
		// Tasks keyed by name, as the API takes them, give the same body.
		{"", `cc.create_job({tasks = {import = {operation = "import/url", url = "https://x/a.pdf"}}, tag = "t"})`,
			"POST", "/v2/jobs", "", `{"tasks":{"import":{"operation":"import/url","url":"https://x/a.pdf"}},"tag":"t"}`, 201},
	}
	for _, c := range cases {
		var ids []any
		if c.prelude != "" {
			pre := rt.Execute(context.Background(), "local cc = app.integrations.cloudconvert\n"+c.prelude)
			if pre.Error != nil {
				t.Fatalf("prelude of %s: %v", c.code, pre.Error)
			}
			ids = pre.Values
		}
		fill := func(s string) string {
			for i, id := range ids {
				s = strings.ReplaceAll(s, fmt.Sprintf("%%[%d]s", i+1), fmt.Sprint(id))
			}
			return s
		}
		code := fill(c.code)
		api.Reset()
		res := rt.Execute(context.Background(), "local cc = app.integrations.cloudconvert\n"+code)
		if c.status < 300 && res.Error != nil {
			t.Errorf("%s: %v", code, res.Error)
			continue
		}
		if e, ok := integration.AsError(res.Error); c.status >= 300 && (!ok || e.Status != c.status) {
			t.Errorf("%s: want the server's %d, got %v", code, c.status, res.Error)
			continue
		}
		reqs := api.Requests()
		if len(reqs) != 1 {
			t.Fatalf("%s: %d requests: %+v", code, len(reqs), reqs)
		}
		r := reqs[0]
		path, body := fill(c.path), fill(c.body)
		if r.Method != c.method || r.Path != path || r.Query != c.q || r.Status != c.status || (body != "" && string(r.Body) != body) {
			t.Errorf("%s:\n got %s %s ?%s %s -> %d\nwant %s %s ?%s %s -> %d", code, r.Method, r.Path, r.Query, r.Body, r.Status, c.method, path, c.q, body, c.status)
		}
		if body == "" && len(r.Body) != 0 {
			t.Errorf("%s: a body was sent: %s", code, r.Body)
		}
	}
}

// badCalls: each gives one clear message naming the function and the
// parameter, and sends nothing.
var badCalls = []struct {
	code string
	want []string
}{
	{`cc.list_jobs({per_page = 500})`, []string{"cloudconvert.list_jobs", "per_page", "at most 100", "500"}},
	{`cc.list_jobs({per_page = 0})`, []string{"list_jobs", "per_page", "at least 1"}},
	{`cc.list_jobs({per_page = 10.5})`, []string{"list_jobs", "per_page", "must be an integer"}},
	{`cc.list_jobs({per_page = "10"})`, []string{"list_jobs", "per_page", "must be an integer", `"10"`}},
	{`cc.list_jobs({status = "done"})`, []string{"list_jobs", "status", `"done" is not allowed`, "waiting, processing, finished, error"}},
	{`cc.list_jobs({status = "finised"})`, []string{"list_jobs", "status", `did you mean "finished"`}},
	{`cc.list_jobs({statuss = "finished"})`, []string{"list_jobs", "statuss", "not a parameter", `did you mean "status"`}},
	{`cc.list_jobs({page = -1})`, []string{"list_jobs", "page", "at least 1"}},
	{`cc.list_tasks({operation = "export/aws-s3"})`, []string{"list_tasks", "operation", `"export/aws-s3" is not allowed`}},
	{`cc.get_job({})`, []string{"cloudconvert.get_job", "job_id", "is required"}},
	{`cc.get_job({job_id = ""})`, []string{"get_job", "job_id", "must not be empty"}},
	{`cc.get_job({job_id = 42})`, []string{"get_job", "job_id", "must be a string", "42"}},
	{`cc.get_job({id = "x"})`, []string{"get_job", "id", "not a parameter", "job_id"}},
	{`cc.get_job("6559c281")`, []string{"get_job", "expects one table of named arguments", "job_id = ..."}},
	{`cc.get_job({"6559c281"})`, []string{"get_job", "expects named arguments"}},
	{`cc.get_job({job_id = "a"}, {job_id = "b"})`, []string{"get_job", "takes one table"}},
	{`cc.get_task({task_id = {}})`, []string{"get_task", "task_id", "must be a string", "a table"}},
	{`cc.get_current_user({verbose = true})`, []string{"get_current_user", "verbose", "takes no parameters"}},
	{`cc.wait_job({job_id = "x", timeout = 0})`, []string{"wait_job", "timeout", "must be at least 1, got 0"}},
	{`cc.create_job({})`, []string{"create_job", "tasks", "is required"}},
	{`cc.create_job({tasks = {}})`, []string{"create_job", "tasks", "must not be empty"}},
	// A table of named fields is the API's form (tasks keyed by name):
	// each field must then be a task.
	{`cc.create_job({tasks = {operation = "convert"}})`, []string{"create_job", "tasks.operation", "must be a table of named fields", `"convert"`}},
	{`cc.create_job({tasks = "convert"})`, []string{"create_job", "tasks", "must be an array", `"convert"`}},
	{`cc.create_job({tasks = {{input = "x"}}})`, []string{"create_job", "tasks[1].operation", "is required"}},
	{`cc.create_job({tasks = {{opration = "convert"}}})`, []string{"create_job", "tasks[1].operation", "is required", `"opration"`}},
	{`cc.create_job({tasks = {{operation = "export/google-drive"}}})`, []string{"create_job", "tasks[1].operation", "not allowed"}},
	{`cc.create_job({tasks = {{operation = "import/url", name = "a"}, {operation = "convert", name = "a"}}})`, []string{"create_job", "tasks[2].name", `"a" is already the name of tasks[1]`}},
	{`cc.create_job({tasks = {{operation = "import/url", name = "my task"}}})`, []string{"create_job", "tasks[1].name", `"my task" is not a valid task name`}},
	{`cc.create_job({tasks = {my_task = {operation = "import/url", name = "other"}}})`, []string{"create_job", "tasks.my_task.name", `keyed "my_task"`}},
	{`cc.create_job({tasks = {{operation = "import/url"}, {operation = "convert", input = "imprt"}}})`, []string{"create_job", "tasks[2].input", `no task is named "imprt"`, `did you mean "import"`, "import, convert"}},
	{`cc.create_job({tasks = {{operation = "import/url"}, {operation = "import/url"}, {operation = "merge", input = {"import-1", "import-3"}}}})`, []string{"create_job", "tasks[3].input", `"import-3"`, "import-1, import-2, merge"}},
	{`cc.create_job({tasks = {{operation = "convert", input = "convert"}}})`, []string{"create_job", "tasks[1].input", "cannot use itself"}},
	{`cc.create_job({tasks = {{operation = "convert", input = 3}}})`, []string{"create_job", "tasks[1].input", "must be a string or an array of strings"}},
	{`cc.create_job({tasks = {{operation = "convert", input = {"a", 2}}}})`, []string{"create_job", "tasks[1].input[2]", "must be a string"}},
	{`cc.create_job({tasks = {{operation = "convert"}}, tag = 5})`, []string{"create_job", "tag", "must be a string"}},
	{`cc.create_job({tasks = {{operation = "convert", options = function() end}}})`, []string{"create_job", "tasks[1].options", "cannot be sent", "function"}},
	{`local t = {operation = "convert"}; t.self = t; cc.create_job({tasks = {t}})`, []string{"create_job", "tasks[1].self", "nests deeper"}},
	{`cc.create_job({tasks = {{operation = "convert", n = 0/0}}})`, []string{"create_job", "tasks[1].n", "finite number"}},
	{`cc.create_job({tasks = {{operation = "convert", [true] = 1}}})`, []string{"create_job", "tasks[1]", "key of a boolean (true)", "only string keys"}},
	{`cc.create_job({tasks = {{operation = "convert"}, name = "x"}})`, []string{"create_job", "tasks", "mixes list items and named fields"}},
	{`cc.create_task({payload = {}})`, []string{"create_task", "operation", "is required"}},
	{`cc.create_task({operation = "convert", payload = {input = "x"}, input = "y"})`, []string{"create_task", "payload.input", "repeats the parameter input"}},
	{`cc.create_task({operation = "convert", payload = {"a"}})`, []string{"create_task", "payload", "named fields", "got a list"}},
	{`cc.create_task({operation = "import/url", payload = {url = "x"}, url = "y"})`, []string{"create_task", "url", "both at the top level and in payload"}},
	{`app.integrations.cloudconvert.prod.get_job({job_id = "x"})`, []string{"cloudconvert", `"prod"`, "configured accounts: default, production, staging"}},
	{`app.integrations.cloudconvert.get_jobs({})`, []string{"cloudconvert", `"get_jobs"`, `did you mean "get_job"`}},
	{`app.integrations.cloudconvert.staging.list_jbos({})`, []string{"cloudconvert.staging", "list_jbos", `did you mean "list_jobs"`}},
}

func TestBadCallsSendNothing(t *testing.T) {
	if len(badCalls) < 25 {
		t.Fatalf("only %d bad calls", len(badCalls))
	}
	api := newLocalAPI(t)
	rt := newTestRuntime(t, api.URL, rtOptions{})
	for _, c := range badCalls {
		api.Reset()
		res := rt.Execute(context.Background(), "local cc = app.integrations.cloudconvert\n"+c.code)
		if res.Error == nil {
			t.Errorf("%s: no error", c.code)
			continue
		}
		msg := res.Error.Error()
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s:\n  message %q\n  lacks %q", c.code, msg, w)
			}
		}
		if strings.Count(msg, "\n") > 0 {
			t.Errorf("%s: message spans lines: %q", c.code, msg)
		}
		// Argument errors name the calling line (the code is on line 2).
		if e, ok := integration.AsError(res.Error); ok && (e.Kind != integration.KindArgument || e.Where != "<string>:2:" || !strings.HasPrefix(msg, "<string>:2: ")) {
			t.Errorf("%s: kind %s, where %q: %q", c.code, e.Kind, e.Where, msg)
		}
		if n := len(api.Requests()); n != 0 {
			t.Errorf("%s: sent %d requests", c.code, n)
		}
	}
}

func TestPermissions(t *testing.T) {
	api := newLocalAPI(t)
	job := `{tasks = {{operation = "import/base64", file = "eA==", filename = "a.txt"}}}`
	t.Run("headless denies writes", func(t *testing.T) {
		rt := newTestRuntime(t, api.URL, rtOptions{policy: invoke.Headless(false), denyHint: "run with --allow-write to allow it"})
		api.Reset()
		for _, code := range []string{
			`app.integrations.cloudconvert.create_job(` + job + `)`,
			`app.integrations.cloudconvert.default.create_job(` + job + `)`,
			`app.integrations.cloudconvert.staging.create_job(` + job + `)`,
			`local f = app.integrations.cloudconvert.create_job; local g = f; g(` + job + `)`,
			`local ok, err = pcall(app.integrations.cloudconvert.create_task, {operation = "import/upload"}); error(err)`,
			`app.integrations.cloudconvert.delete_job({job_id = "x"})`,
		} {
			res := rt.Execute(context.Background(), code)
			be, ok := integration.AsError(res.Error)
			if !ok || be.Kind != integration.KindPermission || !strings.Contains(be.Error(), "write operations are not allowed; run with --allow-write") {
				t.Errorf("%s: %v", code, res.Error)
			}
		}
		if res := rt.Execute(context.Background(), `return app.integrations.cloudconvert.get_current_user({}).data.id`); res.Error != nil {
			t.Errorf("read denied: %v", res.Error)
		}
		reqs := api.Requests()
		if len(reqs) != 1 {
			t.Errorf("%d requests, want the one read", len(reqs))
		}
		for _, r := range reqs {
			if r.Method != "GET" {
				t.Errorf("a denied write was sent: %+v", r)
			}
		}
	})
	t.Run("ask", func(t *testing.T) {
		var asked []invoke.ApprovalRequest
		answer := false
		rt := newTestRuntime(t, api.URL, rtOptions{policy: invoke.Policy{Read: invoke.Allow, Write: invoke.Ask}, approver: func(_ context.Context, r invoke.ApprovalRequest) (bool, error) {
			asked = append(asked, r)
			return answer, nil
		}})
		api.Reset()
		res := rt.Execute(context.Background(), `app.integrations.cloudconvert.create_job(`+job+`)`)
		if be, ok := integration.AsError(res.Error); !ok || be.Kind != integration.KindPermission || !strings.Contains(be.Message, "refused") {
			t.Fatalf("refused ask: %v", res.Error)
		}
		answer = true
		if res := rt.Execute(context.Background(), `return app.integrations.cloudconvert.create_job(`+job+`).data.id`); res.Error != nil {
			t.Fatalf("approved ask: %v", res.Error)
		}
		if len(asked) != 2 || asked[0].Function != "cloudconvert.create_job" || asked[0].Kind != integration.Write ||
			!strings.Contains(asked[0].Body, `"import"`) || strings.Contains(mustJSON(asked), testKey) {
			t.Fatalf("asked %+v", asked)
		}
		if reqs := api.Requests(); len(reqs) != 1 || reqs[0].Status != http.StatusCreated {
			t.Fatalf("requests %+v", reqs)
		}
	})
	t.Run("policy change reaches cached functions", func(t *testing.T) {
		// Reads ask; the approver (Go code running while the script is
		// suspended in a call) turns writes off and allows the read. The
		// create_job the script fetched before must obey the new policy.
		var rt *Runtime
		rt = newTestRuntime(t, api.URL, rtOptions{policy: invoke.Policy{Read: invoke.Ask, Write: invoke.Allow}, approver: func(context.Context, invoke.ApprovalRequest) (bool, error) {
			rt.SetPolicy(invoke.Headless(false))
			return true, nil
		}})
		api.Reset()
		res := rt.Execute(context.Background(), `
local create = app.integrations.cloudconvert.create_job
local first = create(`+job+`).data.id
app.integrations.cloudconvert.get_current_user({})
local ok, err = pcall(create, `+job+`)
return first ~= nil, ok, err.kind`)
		if res.Error != nil {
			t.Fatal(res.Error)
		}
		if got := mustJSON(res.Values); got != `[true,false,"permission_denied"]` {
			t.Fatalf("values %s", got)
		}
		if rt.Policy() != invoke.Headless(false) {
			t.Errorf("policy %+v", rt.Policy())
		}
		if n := len(api.Requests()); n != 2 {
			t.Errorf("%d requests, want the first write and the read", n)
		}
	})
}

// TestErrorsAreCatchableValues: a caught error is a plain table with the
// documented fields; uncaught, the host gets the *integration.Error.
func TestErrorsAreCatchableValues(t *testing.T) {
	api := newLocalAPI(t)
	rt := newTestRuntime(t, api.URL, rtOptions{fastRetry: true})
	// A finished task cannot be cancelled: the local server answers 422
	// INVALID_DATA with a field error, as the API does.
	res := rt.Execute(context.Background(), `
local cc = app.integrations.cloudconvert
local task = cc.create_task({operation = "import/base64", file = "eA==", filename = "a.txt"})
cc.wait_task({task_id = task.data.id, timeout = 60})
local ok, err = pcall(cc.cancel_task, {task_id = task.data.id})
assert(not ok)
local s = tostring(err)
local errs = err.errors
return err.kind, err["function"], err.status, err.code, err.message, errs.status[1], s, "x: " .. tostring(err), type(err), getmetatable(err)`)
	if res.Error != nil {
		t.Fatal(res.Error)
	}
	text := "<string>:5: cloudconvert.cancel_task: 422 INVALID_DATA: The given data was invalid. (status: Cannot cancel: task already completed.)"
	want := []any{"api_error", "cancel_task", int64(422), "INVALID_DATA", "The given data was invalid.", "Cannot cancel: task already completed.",
		text, "x: " + text, "table", "error"}
	if !reflect.DeepEqual(res.Values, want) {
		t.Fatalf("got  %#v\nwant %#v", res.Values, want)
	}
	res = rt.Execute(context.Background(), `
local ok, err = pcall(app.integrations.cloudconvert.list_jobs, {per_page = 500})
return err.kind, err.param, err.status, tostring(err)`)
	if got := mustJSON(res.Values); got != `["invalid_argument","per_page",null,"\u003cstring\u003e:2: cloudconvert.list_jobs: per_page: must be at most 100, got 500"]` {
		t.Fatalf("argument error fields: %s (%v)", got, res.Error)
	}
	// Uncaught, the host gets the structured error.
	res = rt.Execute(context.Background(), `app.integrations.cloudconvert.get_job({job_id = "missing"})`)
	be, ok := integration.AsError(res.Error)
	if !ok || be.Status != 404 || be.Code != "NOT_FOUND" || be.Function != "get_job" || be.Kind != integration.KindAPI {
		t.Fatalf("uncaught: %#v", res.Error)
	}
	// A gateway's HTML error page is an API error with its status.
	api.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, "/html") {
			return false
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprint(w, "<html><head><title>502 Bad Gateway</title></head></html>")
		return true
	})
	defer api.SetFault(nil)
	res = rt.Execute(context.Background(), `app.integrations.cloudconvert.get_job({job_id = "html"})`)
	if be, ok := integration.AsError(res.Error); !ok || be.Status != 502 || !strings.Contains(be.Error(), "502 Bad Gateway") || be.Attempts < 2 {
		t.Fatalf("html error: %#v", res.Error)
	}
}

// TestResponsesBecomeLuaTables: the local server's JSON as Lua values:
// integers stay integers, null is nil, empty arrays encode back as [],
// objects keep their fields in order.
func TestResponsesBecomeLuaTables(t *testing.T) {
	api := newLocalAPI(t)
	rt := newTestRuntime(t, api.URL, rtOptions{})
	res := rt.Execute(context.Background(), `
local cc = app.integrations.cloudconvert
local created = cc.create_job({tasks = {
  {operation = "import/base64", file = "aGVsbG8=", filename = "hello.txt"},
  {operation = "export/url", input = "import"},
}})
local j = cc.wait_job({job_id = created.data.id, timeout = 60})
local u = cc.get_current_user({})
local imp
for _, task in ipairs(j.data.tasks) do if task.name == "import" then imp = task end end
local t = cc.get_task({task_id = imp.id})
local l = cc.list_tasks({job_id = created.data.id})
return tostring(u.data.id), tostring(u.data.credits), #j.data.tasks, j.data.tag == nil, t.data.retry_of_task_id == nil,
  json.encode(t.data.depends_on_task_ids), json.encode(t.data.payload), l.links.prev == nil, #l.data, math.type == nil, t.data.id
`)
	if res.Error != nil {
		t.Fatal(res.Error)
	}
	if len(res.Values) != 11 {
		t.Fatalf("values %s", mustJSON(res.Values))
	}
	id, _ := res.Values[10].(string)
	// The payload as the server wrote it (encoding/json: sorted keys).
	_, task := api.Get(t, "/v2/tasks/"+id)
	payload, _ := json.Marshal(task["data"].(map[string]any)["payload"])
	want := []any{"1", "1000", int64(2), true, true, "[]", string(payload), true, int64(2), true}
	if !reflect.DeepEqual(res.Values[:10], want) {
		t.Fatalf("got  %s\nwant %s", mustJSON(res.Values[:10]), mustJSON(want))
	}
}

func TestDocsAtRuntime(t *testing.T) {
	rt := newTestRuntime(t, "http://127.0.0.1:1", rtOptions{})
	res := rt.Execute(context.Background(), `
local pages = docs.list()
local names = {}
for _, p in ipairs(pages) do names[#names+1] = p.name end
local hits = docs.search("import-1")
local ref = lua_read_doc("integrations.cloudconvert")
local page = docs.read("cloudconvert.create_job")
local short = docs.read("create_job")
local ok, err = pcall(docs.read, "cloudconvert.create_jbo")
return table.concat(names, ","), hits[1].name, ref:sub(1, 40), page == short, tostring(err), lua_list_docs():sub(1, 11), lua_search_docs("credits") ~= ""
`)
	if res.Error != nil {
		t.Fatal(res.Error)
	}
	v := res.Values
	var want []string
	for _, p := range cloudconvert.Descriptor().Docs {
		want = append(want, p.Name)
	}
	if v[0] != strings.Join(want, ",") || !strings.HasPrefix(v[0].(string), "cloudconvert,integrations.cloudconvert,cloudconvert.errors,cloudconvert.create_job") ||
		!strings.Contains(v[2].(string), "CloudConvert — Lua API Reference") || v[3] != true ||
		!strings.Contains(v[4].(string), `did you mean "cloudconvert.create_job"`) || v[5] != "Docs pages " || v[6] != true {
		t.Fatalf("%#v", v)
	}
	if hit, _ := v[1].(string); rt.Integration().Doc(hit) == nil || !strings.Contains(rt.Integration().Doc(hit).Text, "import-1") {
		t.Errorf("search hit %q does not mention import-1", hit)
	}
	tools := rt.Tools()
	if len(tools) != 4 || tools[0].Name != "execute_lua" {
		t.Fatalf("tools %v", tools)
	}
	out, err := tools[0].Handle(context.Background(), json.RawMessage(`{"code":"print('hi') return 1"}`))
	if err != nil || out != "Output:\nhi\nResult:\n1\n" {
		t.Fatalf("execute_lua: %q %v", out, err)
	}
}

// TestExtraDocs: pages given at run time, as a list (Options.ExtraDocs)
// or made on first use (Options.ExtraDocsFunc), follow the descriptor's
// in docs.list, and docs.read, docs.search, lua_read_doc and
// lua_search_docs find them. A name taken twice is refused in the list and
// left out of the made pages; pages are made once, and not before a
// script asks for docs.
func TestExtraDocs(t *testing.T) {
	inv, err := invoke.New(invoke.Options{Integration: cloudconvert.Descriptor()})
	if err != nil {
		t.Fatal(err)
	}
	page := func() *integration.DocPage {
		return &integration.DocPage{Name: "cloudconvert.operations.convert", Title: "Operations: convert",
			Text: "# Operations: convert\n\n| `pixel_density` | integer | `150` | Resolution |\n"}
	}
	made := 0
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"list", Options{Invoker: inv, ExtraDocs: []*integration.DocPage{page()}}},
		{"made on first use", Options{Invoker: inv, ExtraDocsFunc: func() []*integration.DocPage {
			made++
			return []*integration.DocPage{page(), {Name: "cloudconvert.create_job", Title: "taken"}, nil}
		}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			made = 0
			rt, err := New(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if res := rt.Execute(context.Background(), `return 1`); res.Error != nil || made != 0 {
				t.Fatalf("a script without docs: %v, pages made %d times", res.Error, made)
			}
			res := rt.Execute(context.Background(), `
local pages = docs.list()
local hits = docs.search("pixel_density")
return pages[#pages].name, #pages, hits[1].name, docs.read("operations.convert"):sub(1, 21), lua_read_doc("cloudconvert.operations.convert") == docs.read("cloudconvert.operations.convert"),
  lua_search_docs("pixel_density"):find("cloudconvert.operations.convert", 1, true) ~= nil, lua_list_docs():find("Operations: convert", 1, true) ~= nil,
  docs.read("create_job") ~= "taken"
`)
			if res.Error != nil {
				t.Fatal(res.Error)
			}
			want := []any{"cloudconvert.operations.convert", int64(len(cloudconvert.Descriptor().Docs) + 1), "cloudconvert.operations.convert", "# Operations: convert", true, true, true, true}
			if !reflect.DeepEqual(res.Values, want) {
				t.Fatalf("got %#v\nwant %#v", res.Values, want)
			}
			if got := rt.ListDocs(); len(got) != len(cloudconvert.Descriptor().Docs)+1 {
				t.Fatalf("ListDocs: %d pages", len(got))
			}
			if tc.opts.ExtraDocsFunc != nil && made != 1 {
				t.Errorf("the pages were made %d times, want once", made)
			}
		})
	}
	if _, err := New(Options{Invoker: inv, ExtraDocs: []*integration.DocPage{{Name: "cloudconvert.create_job"}}}); err == nil || !strings.Contains(err.Error(), `"cloudconvert.create_job" is there twice`) {
		t.Fatalf("a page named twice: %v", err)
	}
}

// TestWaitJobTimeout: wait_job's timeout parameter bounds the blocking
// request, and the failure says so. The job waits for an upload that never
// comes, so the local server's sync API blocks.
func TestWaitJobTimeout(t *testing.T) {
	api := newLocalAPI(t)
	rt := newTestRuntime(t, api.URL, rtOptions{})
	res := rt.Execute(context.Background(), `
local cc = app.integrations.cloudconvert
local job = cc.create_job({tasks = {{operation = "import/upload"}}})
return cc.wait_job({job_id = job.data.id, timeout = 1})`)
	if res.Error == nil {
		t.Fatal("wait_job returned although the job never finished")
	}
	if !strings.Contains(res.Error.Error(), "timeout of 1s") {
		t.Errorf("the error does not name the timeout: %v", res.Error)
	}
	if !slices.ContainsFunc(api.Requests(), func(r localRequest) bool { return strings.HasPrefix(r.Path, "/sync/v2/jobs/") }) {
		t.Errorf("the sync API was not asked: %+v", api.Requests())
	}
}

// TestWaitJobFallsBackToPolling: where the sync host is unavailable,
// wait_job polls get_job until the job ends, and a failed job is an
// answer, as from get_job. The job imports from a loopback URL that the
// test holds until get_job was polled twice.
func TestWaitJobFallsBackToPolling(t *testing.T) {
	for _, final := range []string{"finished", "error"} {
		t.Run(final, func(t *testing.T) {
			api := newLocalAPI(t)
			release := make(chan struct{})
			var once sync.Once
			files := newFileServer(t, func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-release:
				case <-r.Context().Done():
					return
				}
				if final == "error" {
					http.NotFound(w, r)
					return
				}
				fmt.Fprint(w, "hello")
			})
			var polls atomic.Int32
			api.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
				switch {
				case strings.HasPrefix(r.URL.Path, "/sync/"):
					w.Header().Set("Content-Type", "text/html")
					w.WriteHeader(http.StatusServiceUnavailable)
					fmt.Fprint(w, `<html><title>503</title></html>`)
					return true
				case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v2/jobs/"):
					if polls.Add(1) == 2 {
						once.Do(func() { close(release) })
					}
				}
				return false
			})
			rt := newTestRuntime(t, api.URL, rtOptions{})
			res := rt.Execute(context.Background(), fmt.Sprintf(`
local cc = app.integrations.cloudconvert
local job = cc.create_job({tasks = {
  {operation = "import/url", url = %q, filename = "a.txt"},
  {operation = "export/url", input = "import"},
}})
return cc.wait_job({job_id = job.data.id, timeout = 120}).data.status`, files.URL+"/a.txt"))
			once.Do(func() { close(release) })
			if res.Error != nil {
				t.Fatal(res.Error)
			}
			if len(res.Values) != 1 || res.Values[0] != final {
				t.Errorf("wait_job returned %v, want the status %q", res.Values, final)
			}
			if polls.Load() < 2 {
				t.Errorf("get_job was polled %d times; the job could only end after the second", polls.Load())
			}
		})
	}
}

func TestTimeoutStopsLoopsAndHostGoesOn(t *testing.T) {
	rt := newTestRuntime(t, "http://127.0.0.1:1", rtOptions{limits: Limits{Timeout: 200 * time.Millisecond}})
	done := make(chan *Result, 1)
	go func() { done <- rt.Execute(context.Background(), `while true do end`) }()
	var res *Result
	select {
	case res = <-done:
	case <-time.After(time.Minute): // catches a hang only
		t.Fatal("the time limit did not stop the loop")
	}
	if se, ok := res.Error.(*ScriptError); !ok || se.Kind != "timeout" || !strings.Contains(se.Message, "time limit of 200ms exceeded") {
		t.Fatalf("%#v", res.Error)
	}
	if res := rt.Execute(context.Background(), `return 1 + 1`); res.Error != nil || res.Values[0] != int64(2) {
		t.Fatalf("next script: %v %v", res.Values, res.Error)
	}
}

// TestHugeSparseKeyIsQuick: a table with a huge integer key is not walked
// up to that key. Walking 2e9 slots takes minutes; the deadline only
// catches that.
func TestHugeSparseKeyIsQuick(t *testing.T) {
	rt := newTestRuntime(t, "http://127.0.0.1:1", rtOptions{limits: Limits{Timeout: time.Minute}})
	for _, c := range []struct{ code, want string }{
		{`return json.encode({[2000000000] = 1, [1] = 2})`, "json.encode: value: is a list with a hole: item [2] is nil"},
		{`app.integrations.cloudconvert.create_job({tasks = {[1] = {operation = "convert"}, [1000000000] = {operation = "convert"}}})`,
			"cloudconvert.create_job: tasks: is a list with a hole: item [2] is nil"},
	} {
		done := make(chan *Result, 1)
		go func() { done <- rt.Execute(context.Background(), c.code) }()
		select {
		case res := <-done:
			if res.Error == nil || !strings.Contains(res.Error.Error(), c.want) {
				t.Errorf("%s: %v, want %q", c.code, res.Error, c.want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s walks the table up to its largest key", c.code)
		}
	}
}
