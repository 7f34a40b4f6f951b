package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
)

const key = "sk-cli-SECRET-abcdef0123456789"

const fixtures = "../../../shared/fixtures/cloudconvert-sdk/cloudconvert-php/tests/Unit/responses/"

type server struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
}

func newServer(t *testing.T) *server {
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.seen = append(s.seen, r.Method+" "+r.URL.RequestURI()+" "+string(body))
		s.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+key {
			w.WriteHeader(401)
			io.WriteString(w, `{"message":"Unauthenticated.","code":"UNAUTHENTICATED"}`)
			return
		}
		name := map[string]string{"/v2/users/me": "user.json", "/v2/jobs": "job_created.json", "/v2/jobs/missing": ""}[r.URL.Path]
		if r.URL.Path == "/v2/jobs" && r.Method == "GET" {
			name = "jobs.json"
		}
		if name == "" {
			w.WriteHeader(404)
			io.WriteString(w, `{"message":"Job not found `+r.Header.Get("Authorization")+`","code":"NOT_FOUND"}`)
			return
		}
		b, err := os.ReadFile(fixtures + name)
		if err != nil {
			t.Error(err)
		}
		if r.Method == "POST" {
			w.WriteHeader(201)
		}
		w.Write(b)
	}))
	t.Cleanup(s.Close)
	return s
}

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

func TestCLI(t *testing.T) {
	s := newServer(t)
	noKey, _ := localEnv(t)
	envm := map[string]string{"CLOUDCONVERT_API_KEY": key, "CLOUDCONVERT_BASE_URL": s.URL + "/v2"}
	cases := []struct {
		args       []string
		env        map[string]string
		code       int
		out, err   string
		noRequests bool
	}{
		{args: []string{"lua", "-e", "dump(app.integrations.cloudconvert.get_current_user({}))"}, code: 0, out: `username = "Username"`},
		{args: []string{"lua", "-e", "return app.integrations.cloudconvert.get_current_user({}).data.credits"}, code: 0, out: "4434\n"},
		{args: []string{"lua", "-e", `app.integrations.cloudconvert.create_job({tasks = {{operation = "convert"}}})`}, code: 1, err: "run again with --allow-write", noRequests: true},
		{args: []string{"lua", "--allow-write", "--json", "-e", `return app.integrations.cloudconvert.create_job({tasks = {{operation = "convert"}}}).data.id`}, code: 0, out: `"success": true`},
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
		{args: []string{"docs", "cloudconvert.create_job"}, code: 0, out: "# cloudconvert.create_job"},
		{args: []string{"docs"}, code: 0, out: "integrations.cloudconvert"},
		{args: []string{"docs", "nope"}, code: 2, err: "no docs page"},
		{args: []string{"schema", "create_job"}, code: 0, out: `"tasks"`},
		{args: []string{"functions"}, code: 0, out: "cloudconvert.create_job"},
		{args: []string{"bogus"}, code: 2, err: "unknown command"},
		{args: []string{"lua", "--nope"}, code: 2, err: "unknown flag"},
	}
	for _, c := range cases {
		e := envm
		if c.env != nil {
			e = copyEnv(c.env)
		}
		s.mu.Lock()
		s.seen = nil
		s.mu.Unlock()
		code, out, errs := run(t, e, c.args...)
		if code != c.code || !strings.Contains(out, c.out) || !strings.Contains(errs, c.err) {
			t.Errorf("%v: exit %d (want %d)\nstdout: %s\nstderr: %s", c.args, code, c.code, out, errs)
		}
		if c.noRequests && len(s.seen) > 0 {
			t.Errorf("%v sent %v", c.args, s.seen)
		}
		if strings.Contains(strings.Join(c.args, " "), "--json") {
			var v map[string]any
			if err := json.Unmarshal([]byte(out), &v); err != nil {
				t.Errorf("%v: not one JSON envelope: %v", c.args, err)
			}
		}
	}
}
