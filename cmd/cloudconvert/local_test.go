package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cctoolkit/cloudconvert/localserver"
	"github.com/cctoolkit/cloudconvert/localserver/daemon"
	"github.com/cctoolkit/cloudconvert/sdk"
)

// asCLI makes this test binary act as the cloudconvert command: the
// background servers the commands start, and the commands the tests run
// as separate processes, are this binary.
const asCLI = "CLOUDCONVERT_TEST_BINARY_IS_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(asCLI) == "1" {
		os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv, os.Environ))
	}
	// Nothing may touch the user's cache or config: every process of this
	// test run (and every server they start) lives under root.
	root, err := os.MkdirTemp("", "cloudconvert-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for k, v := range map[string]string{asCLI: "1", "XDG_CACHE_HOME": filepath.Join(root, "cache"),
		"XDG_CONFIG_HOME": filepath.Join(root, "config"), "TMPDIR": filepath.Join(root, "tmp")} {
		os.MkdirAll(v, 0o700)
		os.Setenv(k, v)
	}
	code := m.Run()
	// Each test stops its servers; this catches any left behind.
	if n := stopServersUnder(root); n > 0 {
		fmt.Fprintf(os.Stderr, "%d background servers were left running\n", n)
		code = max(code, 1)
	}
	os.RemoveAll(root)
	os.Exit(code)
}

// stopServersUnder stops the background servers of data directories under
// root and says how many there were.
func stopServersUnder(root string) int {
	n := 0
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.Name() != daemon.StateFile {
			return nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := daemon.Stop(ctx, filepath.Dir(path)); err == nil {
			n++
		}
		return nil
	})
	return n
}

// localEnv is an environment with no account configured and a fresh data
// directory for the local server, which is stopped when the test ends.
func localEnv(t testing.TB) (map[string]string, string) {
	t.Helper()
	dir := t.TempDir()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := daemon.Stop(ctx, dir); err != nil && !errors.Is(err, daemon.ErrNotRunning) {
			t.Errorf("stopping the local server: %v", err)
		}
	})
	return map[string]string{"CLOUDCONVERT_DATA_DIR": dir}, dir
}

// proc runs the command as its own process, with env on top of a clean
// environment (no CLOUDCONVERT_* variables but the test binary's marker).
type proc struct {
	*exec.Cmd
	stdout, stderr bytes.Buffer
}

func command(t *testing.T, env map[string]string, args ...string) *proc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{Cmd: exec.Command(exe, args...)}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CLOUDCONVERT_") || strings.HasPrefix(kv, asCLI+"=") {
			p.Env = append(p.Env, kv)
		}
	}
	for k, v := range env {
		p.Env = append(p.Env, k+"="+v)
	}
	p.Cmd.Stdout, p.Cmd.Stderr = &p.stdout, &p.stderr
	return p
}

func (p *proc) run(t *testing.T) (int, string, string) {
	t.Helper()
	err := p.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("%v: %v", p.Args, err)
	}
	return p.ProcessState.ExitCode(), p.stdout.String(), p.stderr.String()
}

func runProc(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	return command(t, env, args...).run(t)
}

func localInfo(t *testing.T, dir string) *daemon.Info {
	t.Helper()
	info, err := daemon.Probe(context.Background(), dir)
	if err != nil {
		t.Fatalf("the local server: %v", err)
	}
	return info
}

func localClient(t *testing.T, dir string) *sdk.Client {
	t.Helper()
	info := localInfo(t, dir)
	c, err := sdk.New(localserver.DefaultAPIKey, sdk.WithBaseURL(info.APIURL()), sdk.WithSyncURL(info.SyncURL()))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func pngBase64(t *testing.T) string {
	t.Helper()
	dir := writeInputs(t)
	b, err := os.ReadFile(filepath.Join(dir, "a.png"))
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// One process creates a job and exits; another waits for it and downloads
// the results; the export URL still answers after both exited.
func TestJobAcrossProcesses(t *testing.T) {
	env, _ := localEnv(t)
	job := fmt.Sprintf(`{"tag": "across", "tasks": [
		{"name": "in", "operation": "import/base64", "file": %q, "filename": "a.png"},
		{"name": "pdf", "operation": "convert", "input": "in", "output_format": "pdf"},
		{"name": "out", "operation": "export/url", "input": "pdf"}]}`, pngBase64(t))
	code, stdout, stderr := runProc(t, env, "call", "create_job", job, "--allow-write", "--json")
	var created struct {
		Success bool
		Data    struct{ Data struct{ ID string } }
	}
	if err := json.Unmarshal([]byte(stdout), &created); code != 0 || err != nil || !created.Success || created.Data.Data.ID == "" {
		t.Fatalf("create_job: exit %d, %v\nstdout: %s\nstderr: %s", code, err, stdout, stderr)
	}
	if !strings.Contains(stderr, "started the local CloudConvert server in the background") {
		t.Errorf("no notice that the server started:\n%s", stderr)
	}
	id := created.Data.Data.ID
	out := t.TempDir()
	code, stdout, stderr = runProc(t, env, "wait", id, "-o", out)
	if code != 0 || strings.TrimSpace(stdout) != filepath.Join(out, "a.pdf") {
		t.Fatalf("wait: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if strings.Contains(stderr, "started the local") {
		t.Errorf("the second command started another server:\n%s", stderr)
	}
	checkFile(t, filepath.Join(out, "a.pdf"), "pdf")
	// Both processes have exited: the export URL still serves the file.
	code, stdout, stderr = runProc(t, env, "wait", id, "--json")
	var waited sdk.Job
	if err := json.Unmarshal([]byte(stdout), &waited); code != 0 || err != nil {
		t.Fatalf("wait --json: exit %d, %v\n%s", code, err, stderr)
	}
	files := sdk.ExportFiles(&waited)
	if len(files) != 1 {
		t.Fatalf("export files: %+v", files)
	}
	resp, err := http.Get(*files[0].Url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want, _ := os.ReadFile(filepath.Join(out, "a.pdf"))
	if resp.StatusCode != 200 || !bytes.Equal(body, want) {
		t.Fatalf("GET %s: %d, %d bytes (want the %d bytes downloaded)", *files[0].Url, resp.StatusCode, len(body), len(want))
	}
}

// A job waiting for its upload when the command that created it exits is
// finished by the background server, with no command running.
func TestJobFinishesAfterCreatorExits(t *testing.T) {
	env, dir := localEnv(t)
	code, stdout, stderr := runProc(t, env, "lua", "--allow-write", "-e", `
		local job = app.integrations.cloudconvert.create_job({tasks = {
			{name = "up", operation = "import/upload"},
			{name = "pdf", operation = "convert", input = "up", output_format = "pdf"},
			{name = "out", operation = "export/url", input = "pdf"}}}).data
		return job.id`)
	var id string
	if code != 0 || json.Unmarshal([]byte(stdout), &id) != nil {
		t.Fatalf("lua: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	// The creator has exited; only the background server is left.
	c := localClient(t, dir)
	ctx := context.Background()
	job, err := c.GetJob(ctx, id)
	if err != nil || job.Status != "waiting" {
		t.Fatalf("job %s after its creator exited: %v %v", id, job, err)
	}
	uploaded := false
	for _, task := range *job.Tasks {
		if task.Operation == "import/upload" {
			if err := c.UploadFile(ctx, task.Id, filepath.Join(writeInputs(t), "a.png"), nil); err != nil {
				t.Fatal(err)
			}
			uploaded = true
		}
	}
	if !uploaded {
		t.Fatalf("no upload task in %+v", job)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	job, err = c.WaitJob(ctx, id, nil)
	if err != nil || job.Status != "finished" {
		t.Fatalf("job %s: %v %v", id, job, err)
	}
}

// Five convert processes started at once all succeed on one background
// server, and jobs --json lists their five jobs.
func TestConcurrentConverts(t *testing.T) {
	env, dir := localEnv(t)
	inputs := writeInputs(t)
	const n = 5
	procs := make([]*proc, n)
	outs := make([]string, n)
	for i := range n {
		outs[i] = t.TempDir()
		procs[i] = command(t, env, "convert", filepath.Join(inputs, "a.png"), "--to", "pdf", "-o", outs[i])
	}
	for _, p := range procs {
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
	}
	starts := 0
	for i, p := range procs {
		err := p.Wait()
		if err != nil {
			t.Errorf("convert %d: %v\nstdout: %s\nstderr: %s", i, err, p.stdout.String(), p.stderr.String())
			continue
		}
		checkFile(t, filepath.Join(outs[i], "a.pdf"), "pdf")
		starts += strings.Count(p.stderr.String(), "started the local CloudConvert server")
	}
	if starts != 1 {
		t.Errorf("%d commands say they started the server, want 1", starts)
	}
	code, stdout, stderr := runProc(t, env, "jobs", "--json")
	var jobs []struct{ ID, Status string }
	if err := json.Unmarshal([]byte(stdout), &jobs); code != 0 || err != nil || len(jobs) != n {
		t.Fatalf("jobs: exit %d, %v, %d jobs\nstdout: %s\nstderr: %s", code, err, len(jobs), stdout, stderr)
	}
	for _, j := range jobs {
		if j.Status != "finished" {
			t.Errorf("job %s: %s", j.ID, j.Status)
		}
	}
	log, _ := os.ReadFile(daemon.LogPath(dir))
	if c := strings.Count(string(log), "starting the background server"); c != 1 {
		t.Errorf("%d server starts in the log", c)
	}
}

// local stop stops the server and waits for its process; the next command
// starts it again on the same data (same URL, earlier jobs listed).
func TestLocalStopAndRestart(t *testing.T) {
	env, dir := localEnv(t)
	inputs := writeInputs(t)
	if code, _, stderr := runProc(t, env, "convert", filepath.Join(inputs, "a.png"), "--to", "pdf", "-o", t.TempDir()); code != 0 {
		t.Fatalf("convert: %s", stderr)
	}
	code, stdout, stderr := runProc(t, env, "local", "status", "--json")
	var st localStatus
	if err := json.Unmarshal([]byte(stdout), &st); code != 0 || err != nil || !st.Running || st.Info == nil || st.Status.Jobs["finished"] != 1 {
		t.Fatalf("status: exit %d, %v\n%s%s", code, err, stdout, stderr)
	}
	first := st.Info
	code, stdout, _ = runProc(t, env, "local", "status")
	for _, want := range []string{first.APIURL(), fmt.Sprint(first.PID), dir, "uptime", "1 (1 finished)"} {
		if code != 0 || !strings.Contains(stdout, want) {
			t.Errorf("status does not say %q:\n%s", want, stdout)
		}
	}
	start := time.Now()
	code, _, stderr = runProc(t, env, "local", "stop")
	if code != 0 || !strings.Contains(stderr, fmt.Sprintf("stopped the local CloudConvert server (pid %d", first.PID)) {
		t.Fatalf("stop: exit %d: %s", code, stderr)
	}
	if processAlive(first.PID) {
		t.Fatalf("local stop returned while pid %d runs", first.PID)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("stopping took %s", d)
	}
	code, stdout, _ = runProc(t, env, "local", "status")
	if code != 0 || !strings.Contains(stdout, "not running") {
		t.Errorf("status after stop: %s", stdout)
	}
	code, stdout, stderr = runProc(t, env, "jobs", "--json")
	var jobs []struct{ ID string }
	if err := json.Unmarshal([]byte(stdout), &jobs); code != 0 || err != nil || len(jobs) != 1 {
		t.Fatalf("jobs after restart: exit %d, %v\n%s%s", code, err, stdout, stderr)
	}
	second := localInfo(t, dir)
	if second.PID == first.PID || second.URL != first.URL {
		t.Errorf("restart: pid %d -> %d, URL %s -> %s", first.PID, second.PID, first.URL, second.URL)
	}
	code, _, stderr = runProc(t, env, "local", "logs", "-n", "3")
	if code != 0 {
		t.Errorf("logs: %s", stderr)
	}
}

// processAlive: the pid runs (a zombie does not count).
func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

// CLOUDCONVERT_BASE_URL selects a server with or without a key; its 401
// is what the user sees, and no local server is started.
func TestBaseURLWithoutKey(t *testing.T) {
	srv, err := localserver.Start(context.Background(), localserver.Config{DataDir: t.TempDir(), APIKey: "k-0123456789",
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	env, dir := localEnv(t)
	env["CLOUDCONVERT_BASE_URL"] = srv.APIURL()
	code, stdout, stderr := runProc(t, env, "call", "get_current_user")
	if code != exitFailure || !strings.Contains(stderr, "401") || !strings.Contains(stderr, "UNAUTHENTICATED") || stdout != "" {
		t.Errorf("without a key: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	code, _, stderr = runProc(t, env, "jobs")
	if code != exitFailure || !strings.Contains(stderr, "401") {
		t.Errorf("jobs without a key: exit %d: %s", code, stderr)
	}
	env["CLOUDCONVERT_API_KEY"] = "k-0123456789"
	code, stdout, stderr = runProc(t, env, "call", "get_current_user")
	if code != 0 || !strings.Contains(stdout, `"username": "local"`) || !strings.Contains(strings.ReplaceAll(stdout, `\/`, "/"), srv.URL()) {
		t.Errorf("with the key: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if _, err := os.Stat(daemon.LogPath(dir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a local server was started (%v)", err)
	}
}

// Commands that make no API call start nothing.
func TestNoServerWithoutAPICalls(t *testing.T) {
	env, dir := localEnv(t)
	for _, args := range [][]string{
		{"lua", "-e", "print(1)"},
		{"lua", "--json", "-e", "return app.integrations.cloudconvert ~= nil"},
		{"call", "create_job", `{"tasks":[{"name":"i","operation":"import/url","url":"https://example.com/a.pdf"}]}`, "--dry-run"},
		{"docs", "cloudconvert.create_job"},
		{"schema", "create_job"},
		{"functions"},
	} {
		code, stdout, stderr := run(t, copyEnv(env), args...)
		if code != 0 || stderr != "" {
			t.Errorf("%v: exit %d\nstdout: %s\nstderr: %s", args, code, stdout, stderr)
		}
	}
	// An MCP session that calls no API function starts nothing either.
	in := mcpRequests(`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
	var out, errb bytes.Buffer
	code := Main([]string{"mcp", "--config", emptyConfig(t)}, strings.NewReader(in), &out, &errb, getenvOf(env), environOf(env))
	if code != 0 || !strings.Contains(out.String(), `"id":2`) {
		t.Errorf("mcp: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	if _, err := os.Stat(daemon.StatePath(dir)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a server was started: %v", err)
	}
	// A dry run shows the URL the server will have.
	code, stdout, _ := run(t, copyEnv(env), "call", "get_current_user", "--dry-run")
	if code != 0 {
		t.Fatal(stdout)
	}
	code, _, _ = run(t, copyEnv(env), "call", "get_current_user")
	if info := localInfo(t, dir); code != 0 || !strings.Contains(stdout, info.APIURL()+"/users/me") {
		t.Errorf("dry run showed %q; the server is at %s", stdout, info.APIURL())
	}
}

// The notice is printed once, by the command that starts the server, on
// stderr; --quiet and CLOUDCONVERT_QUIET=1 silence it.
func TestStartNotice(t *testing.T) {
	for _, c := range []struct {
		name  string
		env   map[string]string
		args  []string
		quiet bool
	}{
		{"default", nil, nil, false},
		{"--quiet", nil, []string{"--quiet"}, true},
		{"-q", nil, []string{"-q"}, true},
		{"CLOUDCONVERT_QUIET", map[string]string{"CLOUDCONVERT_QUIET": "1"}, nil, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			env, _ := localEnv(t)
			for k, v := range c.env {
				env[k] = v
			}
			args := append([]string{"call", "get_current_user", "--json"}, c.args...)
			code, stdout, stderr := run(t, copyEnv(env), args...)
			var v map[string]any
			if code != 0 || json.Unmarshal([]byte(stdout), &v) != nil {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
			if said := strings.Contains(stderr, "started the local CloudConvert server"); said == c.quiet || strings.Count(stderr, "\n") > 1 {
				t.Errorf("stderr: %q", stderr)
			}
			code, _, stderr = run(t, copyEnv(env), args...)
			if code != 0 || stderr != "" {
				t.Errorf("second command: exit %d, stderr %q", code, stderr)
			}
		})
	}
}

// lua and call print their --json envelope when interrupted, as wait
// prints the job, and exit 1 saying so.
func TestInterruptPrintsEnvelope(t *testing.T) {
	arrived := make(chan struct{}, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done() // never answers
	}))
	defer srv.Close()
	env := map[string]string{"CLOUDCONVERT_API_KEY": key, "CLOUDCONVERT_BASE_URL": srv.URL + "/v2"}
	for _, args := range [][]string{
		{"lua", "--json", "-e", `print("before") app.integrations.cloudconvert.get_current_user({})`},
		{"call", "get_current_user", "--json"},
		{"lua", "-e", `print("before") app.integrations.cloudconvert.get_current_user({})`},
	} {
		p := command(t, env, args...)
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-arrived:
		case <-time.After(time.Minute):
			p.Process.Kill()
			t.Fatalf("%v: no request", args)
		}
		p.Process.Signal(os.Interrupt)
		p.Wait()
		code, stdout, stderr := p.ProcessState.ExitCode(), p.stdout.String(), p.stderr.String()
		if code != exitFailure || !strings.Contains(stderr, "cloudconvert: interrupted") {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
		if !slices.Contains(args, "--json") {
			if stdout != "before\n" {
				t.Errorf("%v: stdout %q", args, stdout)
			}
			continue
		}
		var env struct {
			Success bool
			Error   struct{ Message string }
		}
		if err := json.Unmarshal([]byte(stdout), &env); err != nil || env.Success || !strings.Contains(env.Error.Message, "interrupted") {
			t.Errorf("%v: %v\n%s", args, err, stdout)
		}
	}
}

// --timeout names what gave up, not the layers below it.
func TestTimeoutMessage(t *testing.T) {
	env, _ := localEnv(t)
	code, _, stderr := run(t, copyEnv(env), "call", "get_current_user", "--timeout", "1ms")
	if code != exitFailure || !strings.Contains(stderr, "gave up after 1ms (--timeout)") || strings.Contains(stderr, "store") || strings.Contains(stderr, "deadline") {
		t.Errorf("exit %d: %q", code, stderr)
	}
}

func TestVersion(t *testing.T) {
	var out, errb bytes.Buffer
	code := Main([]string{"--version"}, strings.NewReader(""), &out, &errb, getenvOf(nil), environOf(nil))
	stdout := out.String()
	b := readBuildInfo()
	if code != 0 || !strings.HasPrefix(stdout, "cloudconvert "+b.Module+"; ") || !strings.Contains(stdout, b.Go) {
		t.Errorf("exit %d: %q", code, stdout)
	}
	if b.Revision == "" && !strings.Contains(stdout, "no VCS revision recorded") {
		t.Errorf("%q", stdout)
	}
	for _, c := range []struct {
		b    buildInfo
		want string
	}{
		{buildInfo{Module: "v1.2.0", Revision: "0123456789abcdef", Time: "2025-01-02T03:04:05Z", Modified: true, Go: "go1.26"},
			"v1.2.0; revision 0123456789abcdef (2025-01-02T03:04:05Z), with uncommitted changes; go1.26"},
		{buildInfo{Module: "(devel)", Go: "go1.26"}, "(devel); no VCS revision recorded"},
	} {
		if !strings.HasPrefix(c.b.String(), c.want) {
			t.Errorf("%q, want %q...", c.b.String(), c.want)
		}
	}
	if s := (buildInfo{Module: "v1.2.0", Revision: "0123456789abcdef", Modified: true}).short(); s != "v1.2.0+0123456789ab-dirty" {
		t.Errorf("short %q", s)
	}
}

func TestMCPAllowWriteHint(t *testing.T) {
	code, _, stderr := run(t, map[string]string{}, "mcp", "--allow-write")
	if code != exitUsage || !strings.Contains(stderr, "--write=allow") {
		t.Errorf("exit %d: %q", code, stderr)
	}
}

// MCP over stdio answers the requests still running when stdin ends.
func TestMCPStdioAnswersBeforeEOF(t *testing.T) {
	in := mcpRequests(
		`{"jsonrpc":"2.0","id":"slow","method":"tools/call","params":{"name":"execute_lua","arguments":{"code":"local n = 0 for i = 1, 3e6 do n = n + i end return n"}}}`,
		`{"jsonrpc":"2.0","id":3,"method":"tools/list"}`)
	var out, errb bytes.Buffer
	code := Main([]string{"mcp", "--config", emptyConfig(t)}, strings.NewReader(in), &out, &errb,
		getenvOf(map[string]string{}), environOf(map[string]string{}))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{`"id":"slow"`, `4500001500000`, `"id":3`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %s in the replies:\n%s", want, out.String())
		}
	}
}

func TestServePublicURL(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := command(t, nil, "serve", "--addr", addr, "--data-dir", t.TempDir(), "--public-url", "http://files.example:8080/")
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		p.Process.Signal(syscall.SIGTERM)
		p.Wait()
	}()
	var body []byte
	deadline := time.Now().Add(time.Minute)
	for {
		req, _ := http.NewRequest("GET", "http://"+addr+"/v2/users/me", nil)
		req.Header.Set("Authorization", "Bearer "+localserver.DefaultAPIKey)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not answer: %v\n%s", err, p.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(string(body), `http:\/\/files.example:8080\/v2\/users\/1`) {
		t.Errorf("links: %s", body)
	}
	code, _, stderr := run(t, map[string]string{}, "serve", "--public-url", "files.example:8080")
	if code != exitUsage || !strings.Contains(stderr, "--public-url") {
		t.Errorf("bad --public-url: exit %d: %s", code, stderr)
	}
}

// helpers

func copyEnv(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func getenvOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func environOf(m map[string]string) func() []string {
	return func() []string {
		var l []string
		for k, v := range m {
			l = append(l, k+"="+v)
		}
		return l
	}
}

func emptyConfig(t testing.TB) string {
	cfg := filepath.Join(t.TempDir(), "accounts.yaml")
	os.WriteFile(cfg, []byte("accounts: {}\n"), 0o600)
	return cfg
}

// mcpRequests is an MCP session's input: initialize, initialized, then
// the given requests, and the end of the input.
func mcpRequests(reqs ...string) string {
	lines := append([]string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"test","version":"1"}}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
	}, reqs...)
	return strings.Join(lines, "\n") + "\n"
}

// On a terminal, a PDF rendering on a local server whose PDFium is not
// compiled yet says that it will take a while; nowhere else.
func TestPDFiumNotice(t *testing.T) {
	old := isTerminal
	defer func() { isTerminal = old }()
	dir := t.TempDir()
	pdf := sdk.ConvertRequest{Files: []string{"a.pdf"}, To: "png"}
	for _, c := range []struct {
		name     string
		tty      bool
		local    bool
		compiled bool
		quiet    bool
		req      sdk.ConvertRequest
		want     bool
	}{
		{"first PDF rendering", true, true, false, false, pdf, true},
		{"not a terminal", false, true, false, false, pdf, false},
		{"quiet", true, true, false, true, pdf, false},
		{"another server", true, false, false, false, pdf, false},
		{"compiled already", true, true, true, false, pdf, false},
		{"not a PDF", true, true, false, false, sdk.ConvertRequest{Files: []string{"a.png"}, To: "pdf"}, false},
		{"PDF to PDF", true, true, false, false, sdk.ConvertRequest{Files: []string{"a.PDF"}, To: "pdf"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			isTerminal = func(io.Writer, func(string) string) bool { return c.tty }
			var errb bytes.Buffer
			cl := &cli{stderr: &errb, getenv: getenvOf(nil), quiet: c.quiet}
			data := filepath.Join(dir, c.name)
			if c.local {
				cl.local = &daemon.Info{State: daemon.State{DataDir: data}}
			}
			if c.compiled {
				os.MkdirAll(filepath.Join(data, "wazero-cache", "x"), 0o700)
			}
			cl.pdfiumNotice(c.req)
			if got := strings.Contains(errb.String(), "compiles PDFium"); got != c.want {
				t.Errorf("notice %v, want %v: %q", got, c.want, errb.String())
			}
		})
	}
}

// The demo converts through its own local server and writes the PNG into
// a new temporary directory, never into the current one.
func TestDemo(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("compiles PDFium (seconds, minutes under -race); skipped with -short and -race")
	}
	env, _ := localEnv(t)
	cwd := t.TempDir()
	t.Chdir(cwd)
	code, stdout, stderr := run(t, copyEnv(env), "demo")
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	_, path, ok := strings.Cut(strings.TrimSpace(stdout[strings.LastIndex(stdout, "PNG written to "):]), "PNG written to ")
	if !ok || !strings.HasPrefix(path, os.TempDir()) || strings.HasPrefix(path, cwd) {
		t.Fatalf("stdout: %s", stdout)
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(path)) })
	checkFile(t, path, "png")
	if entries, _ := os.ReadDir(cwd); len(entries) != 0 {
		t.Errorf("the demo wrote into the current directory: %v", entries)
	}
}
