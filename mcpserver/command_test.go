package mcpserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

var (
	cliOnce sync.Once
	cliDir  string
	cliBin  string
	cliErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if cliDir != "" {
		os.RemoveAll(cliDir)
	}
	os.Exit(code)
}

// buildCLI builds cmd/cloudconvert once per test binary run.
func buildCLI(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the CLI; skipped with -short")
	}
	cliOnce.Do(func() {
		if cliDir, cliErr = os.MkdirTemp("", "mcpserver-cli-"); cliErr != nil {
			return
		}
		cliBin = filepath.Join(cliDir, "cloudconvert")
		out, err := exec.Command("go", "build", "-o", cliBin, "../cmd/cloudconvert").CombinedOutput()
		if err != nil {
			cliErr = fmt.Errorf("building the CLI: %v\n%s", err, out)
		}
	})
	if cliErr != nil {
		t.Fatal(cliErr)
	}
	return cliBin
}

// cliEnv is a clean environment: the default account and a named one
// from a config file, both at base (a REST base URL).
func cliEnv(t *testing.T, base string) []string {
	dir := t.TempDir()
	conf := filepath.Join(dir, "accounts.yaml")
	os.WriteFile(conf, []byte("accounts:\n  staging:\n    api_key_env: STAGING_KEY\n    base_url: "+base+"\n"), 0o600)
	return []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "XDG_CONFIG_HOME=" + dir,
		"CLOUDCONVERT_API_KEY=" + testKey, "CLOUDCONVERT_BASE_URL=" + base,
		"CLOUDCONVERT_CONFIG=" + conf, "STAGING_KEY=" + stagingKey,
	}
}

// TestCommandTransport runs `cloudconvert mcp` and drives it over stdio
// with the SDK's command transport.
func TestCommandTransport(t *testing.T) {
	bin := buildCLI(t)
	api := newLocalAPI(t)
	seeded := seedJob(t, api, "seed")["id"].(string)
	env := cliEnv(t, api.APIURL())
	for _, tc := range []struct {
		name  string
		args  []string
		write bool
	}{
		{"default", []string{"mcp"}, false},
		{"write=allow", []string{"mcp", "--write=allow", "--max-output", "100000"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.Command(bin, tc.args...)
			cmd.Env = env
			stderr := &syncBuffer{}
			cmd.Stderr = stderr
			client := mcp.NewClient(&mcp.Implementation{Name: "cmd-client", Version: "1"}, nil)
			cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
			if err != nil {
				t.Fatalf("connect: %v\nstderr: %s", err, stderr.String())
			}
			closed := false
			defer func() {
				if !closed {
					cs.Close()
				}
			}()
			if got := cs.InitializeResult().ServerInfo.Name; got != "cloudconvert" {
				t.Errorf("server name %q", got)
			}
			tools, err := cs.ListTools(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, tool := range tools.Tools {
				names = append(names, tool.Name)
			}
			if slices.Contains(names, "cloudconvert_create_job") != tc.write || !slices.Contains(names, "execute_lua") {
				t.Errorf("tools: %v", names)
			}
			res := call(t, cs, "cloudconvert_get_current_user", map[string]any{"account": "staging"})
			if res.IsError || !strings.Contains(text(res), `"username": "staging"`) {
				t.Errorf("get_current_user: %s", text(res))
			}
			res = call(t, cs, "cloudconvert_create_job", map[string]any{"tasks": []any{map[string]any{"name": "a", "operation": "import/base64", "file": "eA==", "filename": "x.txt"}}})
			if res.IsError == tc.write {
				t.Errorf("create_job (write=%v): %s", tc.write, text(res))
			}
			if !tc.write && !strings.Contains(text(res), "--write=allow") {
				t.Errorf("refusal without the hint: %s", text(res))
			}
			res = call(t, cs, "execute_lua", map[string]any{"code": `
local cc = app.integrations.cloudconvert
local jobs = cc.list_jobs({tag = "seed", per_page = 10})
local job = cc.get_job({job_id = jobs.data[1].id})
return {first = jobs.data[1].id, status = job.data.status}`})
			if res.IsError || !strings.Contains(text(res), `"status": "finished"`) || !strings.Contains(text(res), seeded) {
				t.Errorf("execute_lua: %s", text(res))
			}
			res = call(t, cs, "cloudconvert_get_job", map[string]any{"job_id": "echo-key"})
			if !res.IsError || errorField(res, "status") != float64(500) || !strings.Contains(text(res), "[redacted]") {
				t.Errorf("echo-key: %s", text(res))
			}
			cs.Close() // waits for the process
			closed = true
			if strings.Contains(stderr.String(), testKey) || strings.Contains(stderr.String(), stagingKey) {
				t.Errorf("the key is on stderr: %s", stderr.String())
			}
		})
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestCommandEmbedded: without an API key, `cloudconvert mcp` serves
// against the background local server, starts it when a tool first needs
// it, and says so on stderr only.
func TestCommandEmbedded(t *testing.T) {
	bin := buildCLI(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conf := filepath.Join(dir, "accounts.yaml")
	os.WriteFile(conf, []byte("accounts: {}\n"), 0o600)
	cmd := exec.Command(bin, "mcp")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "XDG_CONFIG_HOME=" + dir, "XDG_CACHE_HOME=" + dir,
		"CLOUDCONVERT_CONFIG=" + conf}
	t.Cleanup(func() {
		stop := exec.Command(bin, "local", "stop")
		stop.Env = cmd.Env
		if out, err := stop.CombinedOutput(); err != nil {
			t.Errorf("local stop: %v\n%s", err, out)
		}
	})
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	client := mcp.NewClient(&mcp.Implementation{Name: "cmd-client", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connect: %v\nstderr: %s", err, stderr.String())
	}
	res := call(t, cs, "cloudconvert_get_current_user", nil)
	if res.IsError {
		t.Errorf("get_current_user: %s", text(res))
	}
	if strings.Contains(mustJSON(res), "local-dev-key") {
		t.Errorf("the local key leaked: %s", text(res))
	}
	cs.Close()
	if !strings.Contains(stderr.String(), "started the local CloudConvert server in the background") {
		t.Errorf("stderr: %s", stderr.String())
	}
}

// TestCommandUsageErrors: bad flags exit with status 2 and say why.
func TestCommandUsageErrors(t *testing.T) {
	bin := buildCLI(t)
	env := cliEnv(t, "http://127.0.0.1:1/v2")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"mcp", "--http", "0.0.0.0:8931"}, "not a loopback address"},
		{[]string{"mcp", "--http", ":8931"}, "every network interface"},
		{[]string{"mcp", "--write=maybe"}, "--write must be deny, ask or allow"},
		{[]string{"mcp", "--max-output", "0"}, "--max-output"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			cmd := exec.Command(bin, tc.args...)
			cmd.Env = env
			cmd.Stdin = strings.NewReader("")
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Fatalf("exit: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, out)
			}
		})
	}
}
