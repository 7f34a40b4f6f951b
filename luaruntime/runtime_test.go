package luaruntime

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cctoolkit/cloudconvert/gen"
	ccdocs "github.com/cctoolkit/cloudconvert/generated/cloudconvert/docs"
	"github.com/cctoolkit/cloudconvert/luaruntime/bind"
)

type example struct{ where, code string }

// examples gathers every Lua example of the spec and of the generated docs.
func examples(t *testing.T) []example {
	t.Helper()
	in, err := gen.Load("../spec/cloudconvert.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var out []example
	for _, fn := range in.Functions {
		for i, ex := range fn.Examples {
			out = append(out, example{where: "spec " + fn.Name + " example " + ex.Title + string(rune('1'+i)), code: ex.Lua})
		}
	}
	block := regexp.MustCompile("(?s)```lua\n(.*?)```")
	err = fs.WalkDir(ccdocs.Files(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(ccdocs.Files(), path)
		if err != nil {
			return err
		}
		for i, m := range block.FindAllStringSubmatch(string(b), -1) {
			out = append(out, example{where: "docs " + path + " block " + string(rune('1'+i)), code: m[1]})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 10 {
		t.Fatalf("found only %d examples", len(out))
	}
	return out
}

// The multi-account snippet calls a placeholder function_name; it is a
// pattern, not a runnable example.
func isPattern(code string) bool { return strings.Contains(code, "function_name(") }

func TestEveryExampleRuns(t *testing.T) {
	f := newFakeAPI(t)
	rt := newTestRuntime(t, f, Options{})
	ran := 0
	for _, ex := range examples(t) {
		if isPattern(ex.code) {
			continue
		}
		ran++
		f.reset()
		res := rt.Execute(context.Background(), ex.code)
		if res.Error != nil {
			t.Errorf("%s: %v\n%s", ex.where, res.Error, ex.code)
			continue
		}
		if len(f.requests()) == 0 {
			t.Errorf("%s: sent no request", ex.where)
		}
		if fails := f.failures(); len(fails) > 0 {
			t.Errorf("%s: requests do not fit the OpenAPI document: %v", ex.where, fails)
		}
	}
	t.Logf("%d examples ran", ran)
}

func TestMultiAccountPattern(t *testing.T) {
	f := newFakeAPI(t)
	rt := newTestRuntime(t, f, Options{})
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

// The seed's three create_job examples must produce the bodies the API
// expects: tasks keyed by name, in order, with the fields as given.
func TestCreateJobBodies(t *testing.T) {
	f := newFakeAPI(t)
	rt := newTestRuntime(t, f, Options{})
	in, err := gen.Load("../spec/cloudconvert.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`{"tasks":{"import":{"operation":"import/url","url":"https://example.com/document.pdf","filename":"document.pdf"},"convert":{"operation":"convert","input":"import","output_format":"png"},"export":{"operation":"export/url","input":"convert"}}}`,
		`{"tasks":{"capture-website":{"operation":"capture-website","url":"https://example.com","output_format":"png","screen_width":1280,"screen_height":800},"export":{"operation":"export/url","input":"capture-website"}}}`,
		`{"tasks":{"import-1":{"operation":"import/url","url":"https://example.com/page1.pdf","filename":"page1.pdf"},"import-2":{"operation":"import/url","url":"https://example.com/page2.pdf","filename":"page2.pdf"},"merge":{"operation":"merge","input":["import-1","import-2"],"output_format":"pdf"},"export":{"operation":"export/url","input":"merge"}}}`,
	}
	exs := in.Function("create_job").Examples
	if len(exs) != 3 {
		t.Fatalf("create_job has %d examples, want the seed's 3", len(exs))
	}
	for i, ex := range exs {
		f.reset()
		if res := rt.Execute(context.Background(), ex.Lua); res.Error != nil {
			t.Fatalf("%s: %v", ex.Title, res.Error)
		}
		reqs := f.requests()
		if len(reqs) != 1 || reqs[0].Method != "POST" || reqs[0].Path != "/v2/jobs" {
			t.Fatalf("%s: requests %+v", ex.Title, reqs)
		}
		if got := string(reqs[0].Body); got != want[i] {
			t.Errorf("%s:\n got %s\nwant %s", ex.Title, got, want[i])
		}
		if fails := f.failures(); len(fails) > 0 {
			t.Errorf("%s: %v", ex.Title, fails)
		}
	}
}

func TestRequestShapes(t *testing.T) {
	f := newFakeAPI(t)
	rt := newTestRuntime(t, f, Options{})
	cases := []struct {
		code            string
		method, path, q string
		body            string
	}{
		{`cc.list_tasks({job_id = "j1", status = "error", operation = "import/url", per_page = 100, page = 2})`, "GET", "/v2/tasks", "per_page=100&page=2&filter[status]=error&filter[operation]=import%2Furl&filter[job_id]=j1", ""},
		{`cc.list_jobs({tag = "a b&c"})`, "GET", "/v2/jobs", "filter[tag]=a+b%26c", ""},
		{`cc.create_task({operation = "import/url", payload = {url = "https://x/y.pdf"}})`, "POST", "/v2/import/url", "", `{"url":"https://x/y.pdf"}`},
		{`cc.create_task({operation = "convert", input = {"a", "b"}, payload = {output_format = "pdf", options = {quality = 90, flags = {}}}})`, "POST", "/v2/convert", "", `{"output_format":"pdf","options":{"quality":90,"flags":{}},"input":["a","b"]}`},
		{`cc.get_job({job_id = "a/b"})`, "GET", "/v2/jobs/a%2Fb", "", ""},
		{`cc.wait_job({job_id = "j1", timeout = 5})`, "GET", "/sync/v2/jobs/j1", "", ""},
		{`cc.create_job({tasks = {{operation = "import/url", name = "import"}, {operation = "import/base64", file = "eA=="}, {operation = "merge", input = {"import", "import-1"}}}, tag = "t"})`, "POST", "/v2/jobs", "", `{"tasks":{"import":{"operation":"import/url"},"import-1":{"operation":"import/base64","file":"eA=="},"merge":{"operation":"merge","input":["import","import-1"]}},"tag":"t"}`},
	}
	for _, c := range cases {
		f.reset()
		res := rt.Execute(context.Background(), "local cc = app.integrations.cloudconvert\n"+c.code)
		if res.Error != nil {
			t.Errorf("%s: %v", c.code, res.Error)
			continue
		}
		reqs := f.requests()
		if len(reqs) != 1 {
			t.Fatalf("%s: %d requests", c.code, len(reqs))
		}
		r := reqs[0]
		if r.Method != c.method || (r.Path != c.path && r.Path != strings.ReplaceAll(c.path, "%2F", "/")) || r.Query != c.q || string(r.Body) != c.body && c.body != "" {
			t.Errorf("%s:\n got %s %s ?%s %s\nwant %s %s ?%s %s", c.code, r.Method, r.Path, r.Query, r.Body, c.method, c.path, c.q, c.body)
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
	{`cc.create_job({})`, []string{"create_job", "tasks", "is required"}},
	{`cc.create_job({tasks = {}})`, []string{"create_job", "tasks", "must not be empty"}},
	{`cc.create_job({tasks = {operation = "convert"}})`, []string{"create_job", "tasks", "array"}},
	{`cc.create_job({tasks = "convert"})`, []string{"create_job", "tasks", "must be an array", `"convert"`}},
	{`cc.create_job({tasks = {{input = "x"}}})`, []string{"create_job", "tasks[1].operation", "is required"}},
	{`cc.create_job({tasks = {{opration = "convert"}}})`, []string{"create_job", "tasks[1].operation", "is required", `"opration"`}},
	{`cc.create_job({tasks = {{operation = "export/google-drive"}}})`, []string{"create_job", "tasks[1].operation", "not allowed"}},
	{`cc.create_job({tasks = {{operation = "import/url", name = "a"}, {operation = "convert", name = "a"}}})`, []string{"create_job", "tasks[2].name", `"a" is already the name of tasks[1]`}},
	{`cc.create_job({tasks = {{operation = "import/url", name = "my task"}}})`, []string{"create_job", "tasks[1].name", `"my task" is not a valid task name`}},
	{`cc.create_job({tasks = {{operation = "import/url"}, {operation = "convert", input = "imprt"}}})`, []string{"create_job", "tasks[2].input", `no task is named "imprt"`, `did you mean "import"`, "import, convert"}},
	{`cc.create_job({tasks = {{operation = "import/url"}, {operation = "import/url"}, {operation = "merge", input = {"import-1", "import-3"}}}})`, []string{"create_job", "tasks[3].input", `"import-3"`, "import-1, import-2, merge"}},
	{`cc.create_job({tasks = {{operation = "convert", input = "convert"}}})`, []string{"create_job", "tasks[1].input", "cannot use itself"}},
	{`cc.create_job({tasks = {{operation = "convert", input = 3}}})`, []string{"create_job", "tasks[1].input", "must be a string or an array of strings"}},
	{`cc.create_job({tasks = {{operation = "convert", input = {"a", 2}}}})`, []string{"create_job", "tasks[1].input[2]", "must be a string"}},
	{`cc.create_job({tasks = {{operation = "convert"}}, tag = 5})`, []string{"create_job", "tag", "must be a string"}},
	{`cc.create_job({tasks = {{operation = "convert", options = function() end}}})`, []string{"create_job", "tasks[1].options", "cannot be sent", "function"}},
	{`local t = {operation = "convert"}; t.self = t; cc.create_job({tasks = {t}})`, []string{"create_job", "tasks[1].self", "nests deeper"}},
	{`cc.create_job({tasks = {{operation = "convert", n = 0/0}}})`, []string{"create_job", "tasks[1].n", "finite number"}},
	{`cc.create_task({payload = {}})`, []string{"create_task", "operation", "is required"}},
	{`cc.create_task({operation = "convert", payload = {input = "x"}, input = "y"})`, []string{"create_task", "payload.input", "repeats the parameter input"}},
	{`cc.create_task({operation = "convert", payload = {"a"}})`, []string{"create_task", "payload", "named fields", "got a list"}},
	{`app.integrations.cloudconvert.prod.get_job({job_id = "x"})`, []string{"cloudconvert", `"prod"`, "configured accounts: default, production, staging"}},
	{`app.integrations.cloudconvert.get_jobs({})`, []string{"cloudconvert", `"get_jobs"`, `did you mean "get_job"`}},
	{`app.integrations.cloudconvert.staging.list_jbos({})`, []string{"cloudconvert.staging", "list_jbos", `did you mean "list_jobs"`}},
}

func TestBadCallsSendNothing(t *testing.T) {
	if len(badCalls) < 25 {
		t.Fatalf("only %d bad calls", len(badCalls))
	}
	f := newFakeAPI(t)
	rt := newTestRuntime(t, f, Options{})
	for _, c := range badCalls {
		f.reset()
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
		if n := len(f.requests()); n != 0 {
			t.Errorf("%s: sent %d requests", c.code, n)
		}
	}
}

func TestPermissions(t *testing.T) {
	f := newFakeAPI(t)
	job := `{tasks = {{operation = "import/url", url = "https://x/a.pdf"}}}`
	t.Run("headless denies writes", func(t *testing.T) {
		rt := newTestRuntime(t, f, Options{Policy: Headless(false), DenyHint: "run with --allow-write to allow it"})
		f.reset()
		for _, code := range []string{
			`app.integrations.cloudconvert.create_job(` + job + `)`,
			`app.integrations.cloudconvert.default.create_job(` + job + `)`,
			`app.integrations.cloudconvert.staging.create_job(` + job + `)`,
			`local f = app.integrations.cloudconvert.create_job; local g = f; g(` + job + `)`,
			`local ok, err = pcall(app.integrations.cloudconvert.create_task, {operation = "convert"}); error(err)`,
		} {
			res := rt.Execute(context.Background(), code)
			be, ok := bind.AsError(res.Error)
			if !ok || be.Kind != bind.KindPermission || !strings.Contains(be.Error(), "write operations are not allowed; run with --allow-write") {
				t.Errorf("%s: %v", code, res.Error)
			}
		}
		if res := rt.Execute(context.Background(), `return app.integrations.cloudconvert.get_current_user({}).data.id`); res.Error != nil {
			t.Errorf("read denied: %v", res.Error)
		}
		for _, r := range f.requests() {
			if r.Method != "GET" {
				t.Errorf("a denied write was sent: %+v", r)
			}
		}
	})
	t.Run("ask", func(t *testing.T) {
		var asked []ApprovalRequest
		answer := false
		rt := newTestRuntime(t, f, Options{Policy: Policy{Read: Allow, Write: Ask}, Approver: func(_ context.Context, r ApprovalRequest) (bool, error) {
			asked = append(asked, r)
			return answer, nil
		}})
		f.reset()
		res := rt.Execute(context.Background(), `app.integrations.cloudconvert.create_job(`+job+`)`)
		if be, ok := bind.AsError(res.Error); !ok || be.Kind != bind.KindPermission {
			t.Fatalf("refused ask: %v", res.Error)
		}
		answer = true
		if res := rt.Execute(context.Background(), `return app.integrations.cloudconvert.create_job(`+job+`).data.id`); res.Error != nil {
			t.Fatalf("approved ask: %v", res.Error)
		}
		if len(asked) != 2 || asked[0].Function != "cloudconvert.create_job" || !strings.Contains(asked[0].Body, `"import"`) || strings.Contains(mustJSON(asked), testKey) {
			t.Fatalf("asked %+v", asked)
		}
		if n := len(f.requests()); n != 1 {
			t.Fatalf("%d requests", n)
		}
	})
	t.Run("policy change reaches cached functions", func(t *testing.T) {
		rt := newTestRuntime(t, f, Options{Policy: Headless(true)})
		// The Go side changes the policy while the script runs (an
		// approver callback is a convenient hook for that).
		f.reset()
		rt2 := newTestRuntime(t, f, Options{Policy: Policy{Read: Ask, Write: Allow}, Approver: func(context.Context, ApprovalRequest) (bool, error) {
			rt.SetPolicy(Headless(false))
			return true, nil
		}})
		_ = rt2
		res := rt.Execute(context.Background(), `
local create = app.integrations.cloudconvert.create_job
create(`+job+`)
error("unreachable")`)
		if res.Error == nil || !strings.Contains(res.Error.Error(), "unreachable") {
			t.Fatalf("first write: %v", res.Error)
		}
		rt.SetPolicy(Headless(false))
		res = rt.Execute(context.Background(), `
local create = app.integrations.cloudconvert.create_job
local mt = getmetatable(app)
return create(`+job+`)`)
		if be, ok := bind.AsError(res.Error); !ok || be.Kind != bind.KindPermission {
			t.Fatalf("after SetPolicy: %v", res.Error)
		}
	})
}

func TestErrorsAreCatchableValues(t *testing.T) {
	f := newFakeAPI(t)
	rt := newTestRuntime(t, f, Options{})
	res := rt.Execute(context.Background(), `
local cc = app.integrations.cloudconvert
local ok, err = pcall(cc.get_job, {job_id = "invalid"})
assert(not ok)
local s = tostring(err)
local errs = err.errors
return err.kind, err["function"], err.status, err.code, err.message, errs.status[1], s, "x: " .. err
`)
	if res.Error != nil {
		t.Fatal(res.Error)
	}
	want := []any{"api_error", "get_job", int64(422), "INVALID_DATA", "The given data was invalid.", "Cannot change status: task already completed.",
		"cloudconvert.get_job: 422 INVALID_DATA: The given data was invalid. (status: Cannot change status: task already completed.)",
		"x: cloudconvert.get_job: 422 INVALID_DATA: The given data was invalid. (status: Cannot change status: task already completed.)"}
	if !reflect.DeepEqual(res.Values, want) {
		t.Fatalf("got  %#v\nwant %#v", res.Values, want)
	}
	res = rt.Execute(context.Background(), `
local ok, err = pcall(app.integrations.cloudconvert.list_jobs, {per_page = 500})
return err.kind, err.param, err.status, tostring(err)`)
	if got := mustJSON(res.Values); got != `["invalid_argument","per_page",null,"cloudconvert.list_jobs: per_page: must be at most 100, got 500"]` {
		t.Fatalf("argument error fields: %s (%v)", got, res.Error)
	}
	// Uncaught, the host gets the structured error.
	res = rt.Execute(context.Background(), `app.integrations.cloudconvert.get_job({job_id = "missing"})`)
	be, ok := bind.AsError(res.Error)
	if !ok || be.Status != 404 || be.Code != "NOT_FOUND" || be.Function != "get_job" {
		t.Fatalf("uncaught: %#v", res.Error)
	}
	res = rt.Execute(context.Background(), `app.integrations.cloudconvert.get_job({job_id = "html"})`)
	if res.Error == nil || !strings.Contains(res.Error.Error(), "502") || !strings.Contains(res.Error.Error(), "502 Bad Gateway") {
		t.Fatalf("html error: %v", res.Error)
	}
}

func TestResponsesBecomeLuaTables(t *testing.T) {
	f := newFakeAPI(t)
	rt := newTestRuntime(t, f, Options{})
	res := rt.Execute(context.Background(), `
local cc = app.integrations.cloudconvert
local u = cc.get_current_user({})
local j = cc.get_job({job_id = "x"})
local t = cc.get_task({task_id = "x"})
local l = cc.list_tasks({})
return tostring(u.data.id), tostring(u.data.credits), math.type and "" or "",
  #j.data.tasks, j.data.tasks[1].started_at == nil, j.data.tasks[1].result == nil,
  json.encode(t.data.retries), json.encode(l.data[1].payload), l.links.last == nil, l.meta.per_page
`)
	if res.Error != nil {
		t.Fatal(res.Error)
	}
	want := `["1","4434","",3,true,true,"[]","{\"operation\":\"export/url\",\"input\":[\"task-1\"]}",true,100]`
	if got := mustJSON(res.Values); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// The schema, not the JSON, decides what an empty [] or {} is: PHP sends
// [] for empty objects.
func TestEmptiesFollowTheSchema(t *testing.T) {
	f := newFakeAPI(t)
	rt := newTestRuntime(t, f, Options{})
	x := &exec{r: rt}
	x.L = rt.newState()
	defer x.L.Close()
	x.install()
	d := bind.Decoder{L: x.L, ArrayMeta: x.arrayMT}
	in := `{"data":{"id":"x","status":"waiting","operation":"convert","payload":[],"depends_on_task_ids":{},"result":{"files":[],"metadata":[],"form":{"url":"u","parameters":[]}},"extra":[],"other":{}}}`
	v, err := d.Decode([]byte(in), rt.in.Types["TaskResponse"])
	if err != nil {
		t.Fatal(err)
	}
	out, err := bind.EncodeJSON(v, "test")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"data":{"id":"x","status":"waiting","operation":"convert","payload":{},"depends_on_task_ids":[],"result":{"files":[],"metadata":{},"form":{"url":"u","parameters":{}}},"extra":[],"other":{}}}`
	if string(out) != want {
		t.Fatalf("got  %s\nwant %s", out, want)
	}
}

// Every recorded response decodes into Lua and encodes back without losing
// a field.
func TestFixturesRoundTrip(t *testing.T) {
	f := newFakeAPI(t)
	rt := newTestRuntime(t, f, Options{})
	for name, ref := range map[string]string{"job.json": "JobResponse", "job_created.json": "JobResponse", "jobs.json": "JobList", "task.json": "TaskResponse", "task_created.json": "TaskResponse", "tasks.json": "TaskList", "user.json": "UserResponse", "upload_task_created.json": "TaskResponse", "job_export_urls.json": "JobResponse"} {
		data := fixture(t, name)
		x := &exec{r: rt}
		x.L = rt.newState()
		x.install()
		d := bind.Decoder{L: x.L, ArrayMeta: x.arrayMT}
		v, err := d.Decode(data, rt.in.Types[ref])
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		back, err := bind.EncodeJSON(v, "test")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var a, b any
		json.Unmarshal(data, &a)
		json.Unmarshal(back, &b)
		stripNulls(&a)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s changed in the round trip:\n%s\n%s", name, mustJSON(a), back)
		}
		x.L.Close()
	}
}

// stripNulls removes null object fields (Lua has no null) and null array
// items are kept as they are not in the fixtures.
func stripNulls(v *any) {
	switch t := (*v).(type) {
	case map[string]any:
		for k, x := range t {
			if x == nil {
				delete(t, k)
				continue
			}
			stripNulls(&x)
			t[k] = x
		}
	case []any:
		for i := range t {
			stripNulls(&t[i])
		}
	}
}

func TestDocsAtRuntime(t *testing.T) {
	f := newFakeAPI(t)
	rt := newTestRuntime(t, f, Options{})
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
	if !strings.HasPrefix(v[0].(string), "cloudconvert,integrations.cloudconvert,cloudconvert.create_job") ||
		!strings.Contains(v[2].(string), "CloudConvert — Lua API Reference") || v[3] != true ||
		!strings.Contains(v[4].(string), `did you mean "cloudconvert.create_job"`) || v[5] != "Docs pages " || v[6] != true {
		t.Fatalf("%#v", v)
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

// TestWaitJobTimeout: wait_job's timeout parameter bounds the blocking
// request, and the failure says so.
func TestWaitJobTimeout(t *testing.T) {
	f := newFakeAPI(t)
	block := make(chan struct{})
	defer close(block)
	inner := f.Config.Handler
	f.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/sync/") {
			select {
			case <-block:
			case <-r.Context().Done():
			}
			return
		}
		inner.ServeHTTP(w, r)
	})
	rt := newTestRuntime(t, f, Options{})
	start := time.Now()
	res := rt.Execute(context.Background(), `return app.integrations.cloudconvert.wait_job({job_id = "j1", timeout = 1})`)
	if res.Error == nil {
		t.Fatal("wait_job returned although the job never finished")
	}
	if !strings.Contains(res.Error.Error(), "timeout of 1s") {
		t.Errorf("the error does not name the timeout: %v", res.Error)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("wait_job took %s with a 1 s timeout", d)
	}
	bad := rt.Execute(context.Background(), `return app.integrations.cloudconvert.wait_job({job_id = "j1", timeout = 0})`)
	if bad.Error == nil || !strings.Contains(bad.Error.Error(), "timeout") {
		t.Errorf("timeout = 0 was accepted: %v", bad.Error)
	}
}

// TestWaitJobFallsBackToPolling: wait_job takes the Go client's waiting
// path, so where the sync host is unavailable it polls get_job until the
// job ends, and a failed job is an answer, as from get_job.
func TestWaitJobFallsBackToPolling(t *testing.T) {
	for _, final := range []string{"finished", "error"} {
		t.Run(final, func(t *testing.T) {
			f := newFakeAPI(t)
			var polls atomic.Int32
			f.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				switch {
				case strings.HasPrefix(r.URL.Path, "/sync/"):
					w.WriteHeader(http.StatusServiceUnavailable)
					io.WriteString(w, `<html><title>503</title></html>`)
				case r.URL.Path == "/v2/jobs/j1":
					status := "processing"
					if polls.Add(1) >= 2 {
						status = final
					}
					fmt.Fprintf(w, `{"data":{"id":"j1","status":%q,"tag":null,"tasks":[],"links":{"self":"x"}}}`, status)
				default:
					w.WriteHeader(http.StatusNotFound)
					io.WriteString(w, `{"message":"no","code":"NOT_FOUND"}`)
				}
			})
			rt := newTestRuntime(t, f, Options{})
			res := rt.Execute(context.Background(), `return app.integrations.cloudconvert.wait_job({job_id = "j1", timeout = 20}).data.status`)
			if res.Error != nil {
				t.Fatal(res.Error)
			}
			if len(res.Values) != 1 || res.Values[0] != final {
				t.Errorf("wait_job returned %v, want the status %q", res.Values, final)
			}
			if polls.Load() < 2 {
				t.Errorf("get_job was polled %d times; the job only ended on the second", polls.Load())
			}
		})
	}
}

func TestTimeoutStopsLoopsAndHostGoesOn(t *testing.T) {
	f := newFakeAPI(t)
	rt := newTestRuntime(t, f, Options{Limits: Limits{Timeout: 200 * time.Millisecond}})
	start := time.Now()
	res := rt.Execute(context.Background(), `while true do end`)
	if se, ok := res.Error.(*ScriptError); !ok || se.Kind != "timeout" || !strings.Contains(se.Message, "time limit of 200ms exceeded") {
		t.Fatalf("%#v", res.Error)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatalf("took %s", time.Since(start))
	}
	if res := rt.Execute(context.Background(), `return 1 + 1`); res.Error != nil || res.Values[0] != int64(2) {
		t.Fatalf("next script: %v %v", res.Values, res.Error)
	}
}

func TestHugeSparseKeyIsQuick(t *testing.T) {
	f := newFakeAPI(t)
	rt := newTestRuntime(t, f, Options{Limits: Limits{Timeout: 2 * time.Second}})
	start := time.Now()
	res := rt.Execute(context.Background(), `return json.encode({[2000000000] = 1, [1] = 2})`)
	if res.Error == nil || !strings.Contains(res.Error.Error(), "hole") || time.Since(start) > time.Second {
		t.Fatalf("%v after %s", res.Error, time.Since(start))
	}
	res = rt.Execute(context.Background(), `app.integrations.cloudconvert.create_job({tasks = {[1] = {operation = "convert"}, [1000000000] = {operation = "convert"}}})`)
	if res.Error == nil || !strings.Contains(res.Error.Error(), "tasks: must be an array without holes, but item [2] is nil") || time.Since(start) > time.Second {
		t.Fatalf("%v after %s", res.Error, time.Since(start))
	}
}
