package luaruntime

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// Escape and abuse attempts: each is blocked with a clear error, and the
// next script in the same host runs.
var abuses = []struct {
	name, code, want string
}{
	{"os", `return os.execute("id")`, "attempt to index a non-table object(nil) with key 'execute'"},
	{"io", `return io.open("/etc/passwd")`, "attempt to index a non-table object(nil) with key 'open'"},
	{"debug", `return debug.getregistry()`, "attempt to index a non-table object(nil) with key 'getregistry'"},
	{"require", `return require("os")`, "attempt to call a non-function object"},
	{"load", `return load("return 1")()`, "attempt to call a non-function object"},
	{"loadstring", `return loadstring("return os")()`, "attempt to call a non-function object"},
	{"dofile", `return dofile("/etc/passwd")`, "attempt to call a non-function object"},
	{"loadfile", `return loadfile("/etc/passwd")`, "attempt to call a non-function object"},
	{"collectgarbage", `collectgarbage("stop")`, "attempt to call a non-function object"},
	{"setfenv", `setfenv(1, {})`, "attempt to call a non-function object"},
	{"string.dump", `return string.dump(print)`, "attempt to call a non-function object"},
	{"package", `return package.loaded`, "attempt to index a non-table object(nil) with key 'loaded'"},
	{"assign app field", `app.integrations.cloudconvert.create_job = function() return "fake" end`, "app.integrations.cloudconvert is read-only"},
	{"assign app", `app = {integrations = {}}`, "app is provided by the host and cannot be replaced"},
	{"assign json", `json = nil`, "json is provided by the host and cannot be replaced"},
	{"rawset app", `rawset(_G, "app", {})`, "app is provided by the host and cannot be replaced (also not with rawset)"},
	{"rawset proxy", `rawset(app.integrations, "cloudconvert", {})`, "app.integrations is read-only (also for rawset)"},
	{"setmetatable on _G", `setmetatable(_G, nil)`, "cannot change a protected metatable"},
	{"getmetatable of app", `local mt = getmetatable(app); mt.__index = nil`, "attempt to index a non-table object(string)"},
	{"setmetatable on proxy", `setmetatable(app, {})`, "cannot change a protected metatable"},
	{"assign docs function", `docs.read = function() return "x" end`, "docs is read-only"},
	{"error values read-only", `local ok, e = pcall(app.integrations.cloudconvert.get_job, {}); e.status = 200`, "error values are read-only"},
	{"infinite loop", `while true do end`, "time limit of 300ms exceeded"},
	{"infinite recursion", `local function f() return 1 + f() end return f()`, "stack overflow"},
	{"huge string.rep", `return string.rep("x", 1e9)`, "string.rep would build a string of 1000000000 bytes"},
	{"string.rep via method", `return ("ab"):rep(1e8, ",")`, "string.rep would build a string"},
	{"huge table.concat", `local t = {} for i = 1, 20 do t[i] = "x" end return table.concat(t, string.rep("y", 1000000))`, "table.concat would build a string"},
	{"format width", `return string.format("%999999999d", 1)`, "width or precision too long"},
	{"print flood", `while true do print(string.rep("x", 1000)) end`, "output limit of 65536 bytes exceeded"},
	{"coroutine", `return coroutine.create(print)`, "attempt to index a non-table object(nil) with key 'create'"},
}

func TestSandboxBlocksAbuse(t *testing.T) {
	if len(abuses) < 15 {
		t.Fatalf("only %d abuses", len(abuses))
	}
	f := newFakeAPI(t)
	rt := newTestRuntime(t, f, Options{Limits: Limits{Timeout: 300 * time.Millisecond, MaxOutput: 64 << 10, MaxMemory: 256 << 20}})
	for _, a := range abuses {
		res := rt.Execute(context.Background(), a.code)
		if res.Error == nil {
			t.Errorf("%s: not blocked; values %v", a.name, res.Values)
		} else if !strings.Contains(res.Error.Error(), a.want) {
			t.Errorf("%s: error %q lacks %q", a.name, res.Error, a.want)
		}
		next := rt.Execute(context.Background(), `return app.integrations.cloudconvert.get_current_user({}).data.username`)
		if next.Error != nil || len(next.Values) != 1 || next.Values[0] != "Username" {
			t.Fatalf("after %s the next script failed: %v %v", a.name, next.Values, next.Error)
		}
	}
	if n := len(f.requests()); n != len(abuses) {
		t.Errorf("the server saw %d requests, want only the %d follow-up reads", n, len(abuses))
	}
}

// The API key appears in no output, error, envelope or return value, also
// when requests fail or the server echoes it.
func TestAPIKeyNeverLeaks(t *testing.T) {
	f := newFakeAPI(t)
	rt := newTestRuntime(t, f, Options{})
	scripts := []string{
		`dump(app.integrations.cloudconvert.get_current_user({}))`,
		`dump(app.integrations.cloudconvert)`,
		`print(app, app.integrations, app.integrations.cloudconvert.staging)`,
		`local ok, e = pcall(app.integrations.cloudconvert.get_job, {job_id = "echo-key"}); print(tostring(e)); dump(e); dump(e.errors); return e.message, e.errors`,
		`app.integrations.cloudconvert.get_job({job_id = "echo-key"})`,
		`app.integrations.cloudconvert.get_job({job_id = "missing"})`,
		`return app.integrations.cloudconvert.get_job({job_id = "invalid"})`,
		`for k, v in pairs(_G) do print(k, v) end`,
	}
	for _, code := range scripts {
		res := rt.Execute(context.Background(), code)
		env, _ := json.Marshal(map[string]any{"output": res.Output, "values": res.Values, "calls": res.Calls})
		all := string(env)
		if res.Error != nil {
			all += res.Error.Error() + mustJSON(res.Error)
		}
		all += rt.ExecuteLua(context.Background(), code)
		if strings.Contains(all, testKey) || strings.Contains(all, testKey[8:]) {
			t.Errorf("%s leaks the key:\n%s", code, all)
		}
	}
	// A transport failure (nothing listening) does not leak it either.
	dead := newTestRuntime(t, f, Options{Accounts: testAccounts("http://127.0.0.1:1")})
	res := dead.Execute(context.Background(), `app.integrations.cloudconvert.get_current_user({})`)
	if res.Error == nil || strings.Contains(res.Error.Error(), testKey) || !strings.Contains(res.Error.Error(), "cloudconvert.get_current_user") {
		t.Fatalf("transport error: %v", res.Error)
	}
	// Call (the CLI's path) redacts too.
	cr := rt.Call(context.Background(), "", "get_job", map[string]any{"job_id": "echo-key"}, false)
	if cr.Err == nil || strings.Contains(cr.Err.Error(), testKey) || strings.Contains(mustJSON(cr), testKey) {
		t.Fatalf("call: %v", cr.Err)
	}
}

func TestNoDefaultAccount(t *testing.T) {
	rt, err := New(Options{NoAccountHint: "no CloudConvert account is configured: set CLOUDCONVERT_API_KEY"})
	if err != nil {
		t.Fatal(err)
	}
	res := rt.Execute(context.Background(), `app.integrations.cloudconvert.get_current_user({})`)
	if res.Error == nil || !strings.Contains(res.Error.Error(), "set CLOUDCONVERT_API_KEY") {
		t.Fatalf("%v", res.Error)
	}
}
