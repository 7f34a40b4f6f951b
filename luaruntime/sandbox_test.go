package luaruntime

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cctoolkit/cloudconvert/accounts"
	"github.com/cctoolkit/cloudconvert/integration"
	"github.com/cctoolkit/cloudconvert/integration/invoke"
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
	{"error metatable", `local ok, e = pcall(app.integrations.cloudconvert.get_job, {}); setmetatable(e, nil)`, "cannot change a protected metatable"},
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
	api := newLocalAPI(t)
	// Only the case about the time limit runs under a short one: under
	// load, the others must be stopped by their own limit, not by time.
	short := newTestRuntime(t, api.URL, rtOptions{limits: Limits{Timeout: 300 * time.Millisecond, MaxOutput: 64 << 10, MaxMemory: 256 << 20}})
	long := newTestRuntime(t, api.URL, rtOptions{limits: Limits{Timeout: time.Minute, MaxOutput: 64 << 10, MaxMemory: 64 << 20}})
	for _, a := range abuses {
		rt := long
		if strings.Contains(a.want, "time limit") {
			rt = short
		}
		res := rt.Execute(context.Background(), a.code)
		if res.Error == nil {
			t.Errorf("%s: not blocked; values %v", a.name, res.Values)
		} else if !strings.Contains(res.Error.Error(), a.want) {
			t.Errorf("%s: error %q lacks %q", a.name, res.Error, a.want)
		}
		next := rt.Execute(context.Background(), `return app.integrations.cloudconvert.get_current_user({}).data.username`)
		if next.Error != nil || len(next.Values) != 1 || next.Values[0] != "local" {
			t.Fatalf("after %s the next script failed: %v %v", a.name, next.Values, next.Error)
		}
	}
	if n := len(api.Requests()); n != len(abuses) {
		t.Errorf("the server saw %d requests, want only the %d follow-up reads", n, len(abuses))
	}
}

// The API key appears in no output, error, envelope or return value, also
// when requests fail or the server echoes it (a fault the test injects in
// front of the local server).
func TestAPIKeyNeverLeaks(t *testing.T) {
	api := newLocalAPI(t)
	api.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, "/echo-key") {
			return false
		}
		// A broken server that echoes the credentials back.
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, `{"message":"bad header %s","code":"SERVER_ERROR","errors":{"auth":[%q]}}`, r.Header.Get("Authorization"), r.Header.Get("Authorization"))
		return true
	})
	rt := newTestRuntime(t, api.URL, rtOptions{fastRetry: true})
	scripts := []string{
		`dump(app.integrations.cloudconvert.get_current_user({}))`,
		`dump(app.integrations.cloudconvert)`,
		`print(app, app.integrations, app.integrations.cloudconvert.staging)`,
		`local ok, e = pcall(app.integrations.cloudconvert.get_job, {job_id = "echo-key"}); print(tostring(e)); dump(e); dump(e.errors); for k, v in pairs(e) do print(k, v) end; return e.message, e.errors, e`,
		`app.integrations.cloudconvert.get_job({job_id = "echo-key"})`,
		`app.integrations.cloudconvert.get_job({job_id = "missing"})`,
		`local ok, e = pcall(app.integrations.cloudconvert.get_job, {job_id = "echo-key"}); error(e.message)`,
		`local ok, e = pcall(app.integrations.cloudconvert.get_job, {job_id = "echo-key"}); error(e)`,
		`for k, v in pairs(_G) do print(k, v) end`,
	}
	echoed := 0
	for _, code := range scripts {
		res := rt.Execute(context.Background(), code)
		env, _ := json.Marshal(map[string]any{"output": res.Output, "values": res.Values, "calls": res.Calls, "envelope": res.Envelope()})
		all := string(env)
		if res.Error != nil {
			all += res.Error.Error() + mustJSON(res.Error)
		}
		all += rt.ExecuteLua(context.Background(), code)
		if strings.Contains(all, testKey) || strings.Contains(all, testKey[8:]) {
			t.Errorf("%s leaks the key:\n%s", code, all)
		}
		if strings.Contains(all, "bad header Bearer [redacted]") {
			echoed++
		}
	}
	if echoed < 4 {
		t.Errorf("the echoed message reached only %d scripts' results; the fault did not work", echoed)
	}
	// A transport failure (nothing listening) does not leak it either.
	dead := newTestRuntime(t, "http://127.0.0.1:1", rtOptions{fastRetry: true})
	res := dead.Execute(context.Background(), `app.integrations.cloudconvert.get_current_user({})`)
	if e, ok := integration.AsError(res.Error); !ok || e.Kind != integration.KindTransport || strings.Contains(res.Error.Error(), testKey) || !strings.Contains(res.Error.Error(), "cloudconvert.get_current_user") {
		t.Fatalf("transport error: %v", res.Error)
	}
	// The CLI's and MCP's path (CallJSON) redacts too.
	out := rt.Invoker().CallJSON(context.Background(), invoke.JSONCall{Function: "get_job", Args: []byte(`{"job_id":"echo-key"}`)})
	if out.Err == nil || out.Err.Status != 500 || strings.Contains(out.Err.Error(), testKey) || strings.Contains(mustJSON(out), testKey) || strings.Contains(mustJSON(ErrorFields(out.Err)), testKey) {
		t.Fatalf("call: %v", out.Err)
	}
}

func TestNoDefaultAccount(t *testing.T) {
	rt := newTestRuntime(t, "http://127.0.0.1:1", rtOptions{accounts: accounts.NewSet(nil), noAcct: "no CloudConvert account is configured: set CLOUDCONVERT_API_KEY"})
	res := rt.Execute(context.Background(), `app.integrations.cloudconvert.get_current_user({})`)
	if e, ok := integration.AsError(res.Error); !ok || e.Kind != integration.KindAccount || !strings.Contains(res.Error.Error(), "set CLOUDCONVERT_API_KEY") {
		t.Fatalf("%v", res.Error)
	}
}
