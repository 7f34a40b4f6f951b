package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cctoolkit/cloudconvert/internal/faultproxy"
)

// runTTY runs the CLI with a terminal that answers with the lines of
// answers (the prompt goes to stderr, as on a real terminal). config is
// the accounts file's text.
func runTTY(t *testing.T, envm map[string]string, answers, config string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	cfg := filepath.Join(t.TempDir(), "accounts.yaml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &cli{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: getenvOf(envm), environ: environOf(envm), build: readBuildInfo()}
	if answers != "-" {
		c.tty = func() (io.Reader, error) { return strings.NewReader(answers), nil }
	}
	code := c.main(append(args, "--config", cfg))
	if strings.Contains(out.String()+errb.String(), key) {
		t.Errorf("%v printed the API key", args)
	}
	return code, out.String(), errb.String()
}

// TestTerminalApproval: lua and call ask y/N on the terminal before each
// call their --read/--write policy sets to ask (writes by default), show
// what would be sent, and refuse, saying how to allow, on anything but y;
// without a terminal, ask means deny.
func TestTerminalApproval(t *testing.T) {
	b := newLocalBackend(t)
	proxy := faultproxy.New(t, b.env["CLOUDCONVERT_BASE_URL"])
	base := proxy.URL + "/v2"
	envm := map[string]string{"CLOUDCONVERT_API_KEY": key, "CLOUDCONVERT_BASE_URL": base}
	job := `{"tag":"tty","tasks":{"in":{"operation":"import/base64","file":"aGk=","filename":"a.txt"}}}`
	const noAccounts = "accounts: {}\n"
	const stagingDenies = "accounts:\n  staging:\n    api_key: " + key + "\n    base_url: BASE\n    permissions: {write: deny}\n"
	prompt := `cloudconvert.create_job wants to write with the account "default":` + "\n  POST " + base + "/jobs\n  " + `{"tasks":{"in":{"operation":"import/base64","file":"aGk=","filename":"a.txt"}},"tag":"tty"}` + "\nAllow this call? [y/N] "
	cases := []struct {
		name     string
		answers  string // "-": no terminal
		config   string
		args     []string
		code     int
		out, err string
		prompts  int
		posts    int
	}{
		{"call: yes", "y\n", noAccounts, []string{"call", "create_job", job}, 0, `"tag": "tty"`, prompt, 1, 1},
		{"call: YES", " YES \n", noAccounts, []string{"call", "create_job", job}, 0, `"tag": "tty"`, "", 1, 1},
		{"call: no", "n\n", noAccounts, []string{"call", "create_job", job}, 1, "", "write operations are set to ask, and the call was not approved: refused at the terminal prompt; run again with --allow-write (or --write=allow) to allow writes", 1, 0},
		{"call: empty line is no", "\n", noAccounts, []string{"call", "create_job", job}, 1, "", "refused at the terminal prompt", 1, 0},
		{"call: end of input", "", noAccounts, []string{"call", "create_job", job}, 1, "", "the terminal gave no answer (end of input)", 1, 0},
		{"call: no terminal", "-", noAccounts, []string{"call", "create_job", job}, 1, "", "write operations are set to ask, and the call was not approved: there is no terminal to ask on (stderr is not a terminal); run again with --allow-write (or --write=allow) to allow writes", 0, 0},
		{"call: --allow-write", "-", noAccounts, []string{"call", "create_job", job, "--allow-write"}, 0, `"tag": "tty"`, "", 0, 1},
		{"call: --write=allow", "n\n", noAccounts, []string{"call", "create_job", job, "--write=allow"}, 0, `"tag": "tty"`, "", 0, 1},
		{"call: --write=deny", "y\n", noAccounts, []string{"call", "create_job", job, "--write=deny"}, 1, "", "write operations are not allowed; run again with --allow-write", 0, 0},
		{"call: --read=ask", "y\n", noAccounts, []string{"call", "get_current_user", "--read=ask"}, 0, `"username"`, `cloudconvert.get_current_user wants to read with the account "default":` + "\n  GET " + base + "/users/me\nAllow this call? [y/N] ", 1, 0},
		{"call: --read=deny", "y\n", noAccounts, []string{"call", "get_current_user", "--read=deny"}, 1, "", "read operations are not allowed; run again with --read=allow to allow reads", 0, 0},
		{"call: reads are not asked", "n\n", noAccounts, []string{"call", "get_current_user"}, 0, `"username"`, "", 0, 0},
		{"call: the account file decides", "y\n", stagingDenies, []string{"call", "create_job", job, "--account", "staging", "--allow-write"}, 1, "", `write operations of the account "staging" are not allowed; its permissions (config file `, 0, 0},
		{"lua: yes then no", "y\nn\n", noAccounts, []string{"lua", "-e", `
local cc = app.integrations.cloudconvert
print(cc.create_job({tag = "one", tasks = {{operation = "import/base64", file = "aGk=", filename = "a.txt"}}}).data.tag)
local ok, e = pcall(cc.create_job, {tag = "two", tasks = {{operation = "import/base64", file = "aGk=", filename = "a.txt"}}})
print(ok, e.kind, e.message)`}, 0, "one\nfalse\tpermission_denied\twrite operations are set to ask, and the call was not approved: refused at the terminal prompt", "", 2, 1},
		{"lua: no terminal", "-", noAccounts, []string{"lua", "-e", `app.integrations.cloudconvert.create_task({operation = "import/upload"})`}, 1, "", "there is no terminal to ask on", 0, 0},
		{"lua: --allow-write contradicts --write=ask", "y\n", noAccounts, []string{"lua", "--allow-write", "--write=ask", "-e", "return 1"}, 2, "", "--allow-write means --write=allow, which contradicts --write=ask; give one of them", 0, 0},
		{"lua: bad --write", "y\n", noAccounts, []string{"lua", "--write=maybe", "-e", "return 1"}, 2, "", `--write must be allow, ask or deny, got "maybe"`, 0, 0},
		{"call: bad --read", "y\n", noAccounts, []string{"call", "get_current_user", "--read=yes"}, 2, "", `--read must be allow, ask or deny, got "yes"`, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			proxy.Forget()
			config := strings.ReplaceAll(tc.config, "BASE", base)
			code, out, errs := runTTY(t, copyEnv(envm), tc.answers, config, tc.args...)
			if code != tc.code || !strings.Contains(out, tc.out) || !strings.Contains(errs, tc.err) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, tc.code, out, errs)
			}
			if n := strings.Count(errs, "Allow this call? [y/N]"); n != tc.prompts {
				t.Errorf("%d prompts, want %d:\n%s", n, tc.prompts, errs)
			}
			posts := 0
			for _, r := range proxy.Seen() {
				if r.Method == "POST" {
					posts++
				}
			}
			if posts != tc.posts {
				t.Errorf("%d POSTs reached the server, want %d: %v", posts, tc.posts, proxy.Seen())
			}
		})
	}
}

// TestCallAPIShapes: call takes the API's own bodies: create_job's tasks
// as an object keyed by name, create_task's operation fields at the top
// level (issue 12).
func TestCallAPIShapes(t *testing.T) {
	b := newLocalBackend(t)
	envm := copyEnv(b.env)
	code, out, errs := run(t, envm, "call", "create_job", `{"tasks":{"in":{"operation":"import/base64","file":"aGVsbG8=","filename":"hello.txt"},"out":{"operation":"export/url","input":"in"}}}`, "--allow-write")
	if code != 0 {
		t.Fatalf("create_job: exit %d\n%s%s", code, out, errs)
	}
	var job struct {
		Data struct {
			Tasks []struct{ Name, Operation string } `json:"tasks"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(out), &job); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	names := map[string]string{}
	for _, tk := range job.Data.Tasks {
		names[tk.Name] = tk.Operation
	}
	if names["in"] != "import/base64" || names["out"] != "export/url" || len(names) != 2 {
		t.Errorf("tasks %v", names)
	}

	code, out, errs = run(t, copyEnv(b.env), "call", "create_task", `{"operation":"import/base64","file":"aGVsbG8=","filename":"hello.txt"}`, "--allow-write", "--json")
	var env struct {
		Success bool
		Data    struct {
			Data struct{ Operation, ID string } `json:"data"`
		}
		Meta struct{ URL string }
	}
	if err := json.Unmarshal([]byte(out), &env); err != nil || code != 0 || !env.Success || env.Data.Data.Operation != "import/base64" || env.Data.Data.ID == "" || !strings.HasSuffix(env.Meta.URL, "/v2/import/base64") {
		t.Fatalf("create_task: exit %d, %v\n%s%s", code, err, out, errs)
	}

	// A wrong field is worded for JSON, not Lua.
	code, _, errs = run(t, copyEnv(b.env), "call", "create_job", `{"tasks":{"in":{"operation":"import/base64","file":"aGVsbG8=","filename":"hello.txt"},"out":{"operation":"export/url","input":"nope"}}}`, "--allow-write")
	if code != exitFailure || !strings.Contains(errs, "nope") || strings.Contains(errs, "{{") {
		t.Errorf("bad input: exit %d: %s", code, errs)
	}
}

// TestDocsErrorsPage: the errors page is listed and read by its short
// name too.
func TestDocsErrorsPage(t *testing.T) {
	for _, args := range [][]string{{"docs", "errors"}, {"docs", "cloudconvert.errors"}} {
		code, out, errs := run(t, map[string]string{}, args...)
		if code != 0 || !strings.HasPrefix(out, "# CloudConvert Errors") || !strings.Contains(out, "| `outcome_unknown` |") {
			t.Errorf("%v: exit %d\n%s%s", args, code, out, errs)
		}
	}
	if code, out, _ := run(t, map[string]string{}, "docs"); code != 0 || !strings.Contains(out, "- cloudconvert.errors: CloudConvert errors") {
		t.Errorf("docs: %s", out)
	}
	if code, out, _ := run(t, map[string]string{}, "docs", "integrations.cloudconvert"); code != 0 || !strings.Contains(out, `docs.read("cloudconvert.errors")`) {
		t.Errorf("the reference does not link the errors page")
	}
}
