package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/cctoolkit/cloudconvert/internal/faultproxy"
)

const key = "sk-cli-SECRET-abcdef0123456789"

// run runs the CLI in-process with the environment envm and an empty
// accounts file; it fails the test if the API key is printed.
func run(t *testing.T, envm map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	environ := func() []string {
		var l []string
		for k, v := range envm {
			l = append(l, k+"="+v)
		}
		return l
	}
	envm["CLOUDCONVERT_CONFIG_UNUSED"] = ""
	cfg := t.TempDir() + "/accounts.yaml"
	os.WriteFile(cfg, []byte("accounts: {}\n"), 0o600)
	args = append(args, "--config", cfg)
	code := Main(args, strings.NewReader(""), &out, &errb, func(k string) string { return envm[k] }, environ)
	if strings.Contains(out.String()+errb.String(), key) {
		t.Errorf("%v printed the API key", args)
	}
	return code, out.String(), errb.String()
}

// TestCLI runs the lua, call, docs, schema and functions commands against
// the local server, through a proxy that records what reached it.
func TestCLI(t *testing.T) {
	b := newLocalBackend(t)
	proxy := faultproxy.New(t, b.env["CLOUDCONVERT_BASE_URL"])
	noKey, _ := localEnv(t)
	envm := map[string]string{"CLOUDCONVERT_API_KEY": key, "CLOUDCONVERT_BASE_URL": proxy.URL + "/v2"}
	cases := []struct {
		args       []string
		env        map[string]string
		code       int
		out, err   string
		noRequests bool
	}{
		{args: []string{"lua", "-e", "dump(app.integrations.cloudconvert.get_current_user({}))"}, code: 0, out: `username = "local"`},
		{args: []string{"lua", "-e", "return app.integrations.cloudconvert.get_current_user({}).data.credits"}, code: 0, out: "1000\n"},
		{args: []string{"lua", "-e", `app.integrations.cloudconvert.create_job({tasks = {{operation = "import/upload"}}})`}, code: 1, err: "run again with --allow-write", noRequests: true},
		{args: []string{"lua", "--allow-write", "--json", "-e", `return app.integrations.cloudconvert.create_job({tasks = {{operation = "import/upload"}}}).data.id`}, code: 0, out: `"success": true`},
		{args: []string{"lua", "--json", "-e", `print("x") app.integrations.cloudconvert.get_job({job_id = "missing"})`}, code: 1, out: `"status": 404`},
		{args: []string{"lua", "--account", "nope", "-e", "return 1"}, code: 2, err: `account "nope" is not configured`},
		{args: []string{"lua", "--timeout", "100ms", "-e", "while true do end"}, code: 1, err: "time limit of 100ms exceeded"},
		{args: []string{"lua", "-e", "syntax error here"}, code: 1, err: "syntax error"},
		{args: []string{"call", "get_current_user", "--json"}, code: 0, out: `"operation": "read"`},
		{args: []string{"call", "list_jobs", "--param", "per_page=500"}, code: 1, err: "cloudconvert.list_jobs: per_page: must be at most 100, got 500", noRequests: true},
		{args: []string{"call", "get_job", `{"job_id": "missing"}`, "--json"}, code: 1, out: `"code": "NOT_FOUND"`},
		{args: []string{"call", "create_job", `{"tasks":[{"operation":"import/url","url":"u"}]}`, "--dry-run", "--json"}, code: 0, out: `"dry_run": true`, noRequests: true},
		{args: []string{"call", "create_job", `{"tasks":[{"operation":"import/url","url":"u"}]}`}, code: 1, err: "--allow-write", noRequests: true},
		{args: []string{"call", "get_jbo"}, code: 2, err: `did you mean "get_job"`, noRequests: true},
		{args: []string{"call", "get_job", "[1]"}, code: 2, err: "not a JSON object", noRequests: true},
		{args: []string{"lua", "-e", "app.integrations.cloudconvert.get_current_user({})"}, env: noKey, code: 0, err: "started the local CloudConvert server in the background", noRequests: true},
		{args: []string{"call", "get_current_user"}, env: noKey, code: 0, out: `"username": "local"`, noRequests: true},
		{args: []string{"docs", "cloudconvert.create_job"}, code: 0, out: "# cloudconvert.create_job", noRequests: true},
		{args: []string{"docs"}, code: 0, out: "integrations.cloudconvert", noRequests: true},
		{args: []string{"docs", "nope"}, code: 2, err: "no docs page", noRequests: true},
		{args: []string{"schema", "create_job"}, code: 0, out: `"tasks"`, noRequests: true},
		{args: []string{"functions"}, code: 0, out: "cloudconvert.create_job", noRequests: true},
		{args: []string{"bogus"}, code: 2, err: "unknown command", noRequests: true},
		{args: []string{"lua", "--nope"}, code: 2, err: "unknown flag", noRequests: true},
	}
	for _, c := range cases {
		e := envm
		if c.env != nil {
			e = copyEnv(c.env)
		}
		proxy.Forget()
		code, out, errs := run(t, e, c.args...)
		if code != c.code || !strings.Contains(out, c.out) || !strings.Contains(errs, c.err) {
			t.Errorf("%v: exit %d (want %d)\nstdout: %s\nstderr: %s", c.args, code, c.code, out, errs)
		}
		if seen := proxy.Seen(); c.noRequests && len(seen) > 0 {
			t.Errorf("%v sent %v", c.args, seen)
		} else if !c.noRequests && c.code == 0 && len(seen) == 0 {
			t.Errorf("%v reached no server", c.args)
		}
		if strings.Contains(strings.Join(c.args, " "), "--json") {
			var v map[string]any
			if err := json.Unmarshal([]byte(out), &v); err != nil {
				t.Errorf("%v: not one JSON envelope: %v", c.args, err)
			}
		}
	}
}
