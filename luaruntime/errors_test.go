package luaruntime

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	cloudconvert "github.com/cctoolkit/cloudconvert/generated/cloudconvert"
	"github.com/cctoolkit/cloudconvert/integration"
)

// documentedErrorFields are the fields a caught error table may have:
// those the errors docs page lists (issue 12).
func documentedErrorFields() []string {
	var out []string
	for _, f := range integration.ErrorFieldDocs() {
		out = append(out, f.Name)
	}
	return out
}

// TestErrorsPageListsEveryField: the errors page (generated from
// integration.ErrorFieldDocs) names each field an error table can have,
// and every field of a fully set error is documented.
func TestErrorsPageListsEveryField(t *testing.T) {
	page := cloudconvert.Descriptor().Doc("cloudconvert.errors")
	if page == nil {
		t.Fatal("no cloudconvert.errors page")
	}
	want := []string{"kind", "function", "param", "status", "code", "message", "errors", "retry_after", "request_id", "outcome_unknown", "attempts", "where"}
	if got := documentedErrorFields(); !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
		t.Errorf("documented fields %v, want %v", got, want)
	}
	for _, f := range want {
		if !strings.Contains(page.Text, "| `"+f+"` |") {
			t.Errorf("the errors page has no row for %q", f)
		}
	}
	full := &integration.Error{Kind: integration.KindAPI, Function: "f", Param: "p", Status: 429, Code: "C", Message: "m",
		Errors: map[string][]string{"a": {"b"}}, RetryAfter: time.Second, RequestID: "r", OutcomeUnknown: true, Attempts: 2, Where: "x:1:"}
	for k := range full.Fields() {
		if !slices.Contains(want, k) {
			t.Errorf("Fields has %q, which the errors page does not document", k)
		}
	}
}

// TestErrorTableFromLocalServer is issue 12's check, against the local
// server: a caught error is a plain table that pairs() walks.
func TestErrorTableFromLocalServer(t *testing.T) {
	api := newLocalAPI(t)
	rt := newTestRuntime(t, api.URL, rtOptions{})
	res := rt.Execute(context.Background(), `local ok, e = pcall(app.integrations.cloudconvert.get_job, {job_id = "nope"}) local n = 0 for _ in pairs(e) do n = n + 1 end print(n, e.status, e.code)`)
	if res.Error != nil {
		t.Fatal(res.Error)
	}
	f := strings.Split(strings.TrimSuffix(res.Output, "\n"), "\t")
	if len(f) != 3 {
		t.Fatalf("output %q", res.Output)
	}
	if n, err := strconv.Atoi(f[0]); err != nil || n < 3 || f[1] != "404" || f[2] != "NOT_FOUND" {
		t.Fatalf("printed %q, want at least 3 fields, 404, NOT_FOUND", res.Output)
	}

	// Every field is documented, none is a function or userdata, and
	// tostring reads like the Go error, naming the calling line.
	res = rt.Execute(context.Background(), `
local ok, e = pcall(app.integrations.cloudconvert.get_job, {job_id = "nope"})
local fields = {}
for k, v in pairs(e) do
  assert(type(k) == "string", "key " .. tostring(k))
  assert(type(v) ~= "function" and type(v) ~= "userdata", k)
  fields[#fields + 1] = k
end
table.sort(fields)
return table.concat(fields, ","), tostring(e), e.where, e.message, e.kind, e["function"]`)
	if res.Error != nil {
		t.Fatal(res.Error)
	}
	fields := strings.Split(res.Values[0].(string), ",")
	for _, k := range fields {
		if !slices.Contains(documentedErrorFields(), k) {
			t.Errorf("undocumented field %q", k)
		}
	}
	for _, k := range []string{"kind", "function", "status", "code", "message", "where"} {
		if !slices.Contains(fields, k) {
			t.Errorf("field %q is missing: %v", k, fields)
		}
	}
	want := []any{res.Values[0], "<string>:2: cloudconvert.get_job: 404 NOT_FOUND: Job not found", "<string>:2:", "Job not found", "api_error", "get_job"}
	if mustJSON(res.Values) != mustJSON(want) {
		t.Errorf("got  %s\nwant %s", mustJSON(res.Values), mustJSON(want))
	}
}

// TestArgumentErrorsNameTheCallingLine: directly, through pcall of the
// function itself, from a nested function and from a named file.
func TestArgumentErrorsNameTheCallingLine(t *testing.T) {
	rt := newTestRuntime(t, "http://127.0.0.1:1", rtOptions{})
	for _, c := range []struct {
		name, file, code string
		where            string
	}{
		{"direct", "", "local cc = app.integrations.cloudconvert\n\ncc.get_job({job_id = 5})", "<string>:3:"},
		{"pcall of the function", "", "local cc = app.integrations.cloudconvert\nlocal ok, e = pcall(cc.get_job, {})\nerror(e)", "<string>:2:"},
		{"nested function", "", "local function get(id)\n  return app.integrations.cloudconvert.get_job({job_id = id})\nend\nget(false)", "<string>:2:"},
		{"file", "convert.lua", "-- a script file\nlocal cc = app.integrations.cloudconvert\ncc.list_jobs({per_page = 0})", "convert.lua:3:"},
		{"file, caught and raised again", "job.lua", "local ok, e = pcall(app.integrations.cloudconvert.get_task, {task_id = {}})\nerror(e)", "job.lua:1:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var res *Result
			if c.file != "" {
				res = rt.ExecuteFile(context.Background(), c.file, c.code)
			} else {
				res = rt.Execute(context.Background(), c.code)
			}
			e, ok := integration.AsError(res.Error)
			if !ok || e.Kind != integration.KindArgument {
				t.Fatalf("%#v", res.Error)
			}
			if e.Where != c.where || !strings.HasPrefix(e.Error(), c.where+" cloudconvert.") {
				t.Errorf("where %q, error %q; want %q", e.Where, e.Error(), c.where)
			}
			if fields := ErrorFields(res.Error); fields["where"] != c.where || !strings.HasPrefix(fields["text"].(string), c.where) {
				t.Errorf("error fields %v", fields)
			}
		})
	}
}

// TestScriptErrorsNameTheFile: a script file's errors of every kind carry
// its name and line, not "<string>".
func TestScriptErrorsNameTheFile(t *testing.T) {
	api := newLocalAPI(t)
	rt := newTestRuntime(t, api.URL, rtOptions{})
	for _, c := range []struct {
		name, code string
		want       *regexp.Regexp
	}{
		{"error()", "local x = 1\nerror('boom')", regexp.MustCompile(`^job\.lua:2: boom$`)},
		{"runtime", "local x\n\nreturn x.field", regexp.MustCompile(`^job\.lua:3: attempt to index a non-table object\(nil\) with key 'field'$`)},
		{"syntax", "local x = 1\nx(", regexp.MustCompile(`^syntax error: job\.lua`)},
		{"api error", "local cc = app.integrations.cloudconvert\ncc.get_job({job_id = 'nope'})", regexp.MustCompile(`^job\.lua:2: cloudconvert\.get_job: 404 NOT_FOUND: Job not found$`)},
		{"unknown function", "local cc = app.integrations.cloudconvert\ncc.get_jbo({})", regexp.MustCompile(`^job\.lua:2: app\.integrations\.cloudconvert has no function or account named "get_jbo"`)},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := rt.ExecuteFile(context.Background(), "job.lua", c.code)
			if res.Error == nil || !c.want.MatchString(res.Error.Error()) {
				t.Fatalf("error %v, want it to match %s", res.Error, c.want)
			}
			if strings.Contains(res.Error.Error(), "<string>") {
				t.Errorf("the error says <string>: %v", res.Error)
			}
		})
	}
}

// TestErrorValuesReadWell: a table (or other value) raised with error()
// shows its content, not its address.
func TestErrorValuesReadWell(t *testing.T) {
	rt := newTestRuntime(t, "http://127.0.0.1:1", rtOptions{})
	for _, c := range []struct {
		code string
		want []string
	}{
		{`error({code = 1})`, []string{"error: ", "code = 1"}},
		{`error({code = "E42", details = {"a", "b"}})`, []string{"code = \"E42\"", "\"a\"", "\"b\""}},
		{`error(42)`, []string{"42"}},
		{`error(true)`, []string{"error: true"}},
		{`local t = {} t.self = t error(t)`, []string{"self = <cycle>"}},
		{`error(setmetatable({}, {__tostring = function() return "custom message" end}))`, []string{"error: custom message"}},
		{`error(setmetatable({code = 7}, {__tostring = function() error("broken") end}))`, []string{"code = 7"}},
	} {
		res := rt.Execute(context.Background(), c.code)
		se, ok := res.Error.(*ScriptError)
		if !ok || se.Kind != "runtime" {
			t.Errorf("%s: %#v", c.code, res.Error)
			continue
		}
		if regexp.MustCompile(`(table|function|userdata): 0x[0-9a-f]+`).MatchString(se.Message) {
			t.Errorf("%s: the message shows an address: %q", c.code, se.Message)
		}
		for _, w := range c.want {
			if !strings.Contains(se.Message, w) {
				t.Errorf("%s: message %q lacks %q", c.code, se.Message, w)
			}
		}
	}
	// A caught integration error raised again stays that error.
	res := rt.Execute(context.Background(), `local ok, e = pcall(app.integrations.cloudconvert.get_job, {}) error(e)`)
	if e, ok := integration.AsError(res.Error); !ok || e.Param != "job_id" {
		t.Errorf("re-raised: %#v", res.Error)
	}
}
