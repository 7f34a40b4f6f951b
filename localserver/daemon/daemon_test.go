package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cctoolkit/cloudconvert/localserver"
)

// The test binary plays the server and the starters in child processes.
const childEnv = "DAEMON_TEST_CHILD"

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "serve": // args: DATA_DIR IDLE_TIMEOUT
		idle, _ := time.ParseDuration(os.Args[2])
		lockWait, _ := time.ParseDuration(os.Getenv("DAEMON_TEST_LOCK_WAIT"))
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		defer stop()
		err := Run(ctx, localserver.Config{DataDir: os.Args[1], IdleTimeout: idle,
			Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))}, RunOptions{Version: "test", LockWait: lockWait})
		if err != nil {
			fmt.Fprintln(os.Stderr, "serve:", err)
			os.Exit(1)
		}
		os.Exit(0)
	case "ensure": // args: DATA_DIR; prints {"pid", "started", "url"}
		info, started, err := Ensure(context.Background(), startOptions(os.Args[1], time.Minute))
		if err != nil {
			fmt.Fprintln(os.Stderr, "ensure:", err)
			os.Exit(1)
		}
		json.NewEncoder(os.Stdout).Encode(map[string]any{"pid": info.PID, "started": started, "url": info.URL})
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func startOptions(dir string, idle time.Duration) StartOptions {
	exe, err := os.Executable()
	if err != nil {
		panic(err)
	}
	return StartOptions{DataDir: dir, Command: []string{exe, dir, idle.String()},
		Env: append(os.Environ(), childEnv+"=serve"), Timeout: time.Minute}
}

// dataDir is a fresh data directory whose server is stopped at the end.
func dataDir(t *testing.T) string {
	dir := t.TempDir()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := Stop(ctx, dir); err != nil && !errors.Is(err, ErrNotRunning) {
			t.Errorf("stopping the server of %s: %v", dir, err)
		}
	})
	return dir
}

func ensure(t *testing.T, dir string, idle time.Duration) (*Info, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	info, started, err := Ensure(ctx, startOptions(dir, idle))
	if err != nil {
		t.Fatal(err)
	}
	return info, started
}

// waitGone waits (generously: it only catches hangs) until pid has exited.
func waitGone(t *testing.T, pid int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("pid %d still runs after %s", pid, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Starters in separate processes at the same moment end up with one
// server: exactly one of them started it, all got its pid and URL.
func TestStartRace(t *testing.T) {
	dir := dataDir(t)
	exe, _ := os.Executable()
	const n = 4
	type result struct {
		PID     int    `json:"pid"`
		Started bool   `json:"started"`
		URL     string `json:"url"`
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			cmd := exec.Command(exe, dir)
			cmd.Env = append(os.Environ(), childEnv+"=ensure")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Errorf("starter %d: %v\n%s", i, err, stderr.String())
				return
			}
			if err := json.Unmarshal(out, &results[i]); err != nil {
				t.Errorf("starter %d: %v: %s", i, err, out)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	starts := 0
	for _, r := range results {
		if r.Started {
			starts++
		}
		if r.PID != results[0].PID || r.URL != results[0].URL {
			t.Errorf("starters disagree: %+v", results)
		}
	}
	if starts != 1 {
		t.Errorf("%d starters started a server, want 1: %+v", starts, results)
	}
	info, err := Probe(context.Background(), dir)
	if err != nil || info.PID != results[0].PID {
		t.Fatalf("probe: %+v, %v", info, err)
	}
	// The log holds one start.
	log, _ := os.ReadFile(LogPath(dir))
	if c := strings.Count(string(log), "starting the background server"); c != 1 {
		t.Errorf("%d starts in the log:\n%s", c, log)
	}
}

// A state file that does not describe a live server of this data
// directory is detected (Probe), never acted on (Stop signals nothing),
// and replaced by a new server (Ensure).
func TestStaleStateFile(t *testing.T) {
	// A server that answers the status path as someone else.
	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(localserver.Status{PID: 1, DataDir: "/elsewhere"})
	}))
	defer foreign.Close()
	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	closed := listen(t)
	closedURL := "http://" + closed.Addr().String()
	closed.Close()
	// A process that exited: its pid may be reused, but nothing answers.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skip("no `true` program:", err)
	}
	deadPID := dead.Process.Pid

	cases := []struct {
		name, state, reason string
	}{
		{"crashed server", fmt.Sprintf(`{"pid": %d, "url": %q}`, deadPID, closedURL), "no server of pid"},
		// Our own pid: alive, but not the server; Stop must not signal it.
		{"pid reused, port reused by another program", fmt.Sprintf(`{"pid": %d, "url": %q}`, os.Getpid(), notFound.URL), "404"},
		{"port reused by another server", fmt.Sprintf(`{"pid": %d, "url": %q}`, os.Getpid(), foreign.URL), "served by pid 1"},
		{"garbage", `{"pid": `, "not a state file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := dataDir(t)
			if err := os.WriteFile(StatePath(dir), []byte(c.state), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Probe(context.Background(), dir)
			var se *StaleError
			if !errors.As(err, &se) || !errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), c.reason) {
				t.Fatalf("probe: %v (want stale: %s)", err, c.reason)
			}
			if _, err := Stop(context.Background(), dir); !errors.Is(err, ErrNotRunning) {
				t.Fatalf("stop: %v", err)
			}
			if _, err := os.Stat(StatePath(dir)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("stop left the stale state file: %v", err)
			}
			os.WriteFile(StatePath(dir), []byte(c.state), 0o600)
			info, started := ensure(t, dir, time.Hour)
			if !started || info.PID == os.Getpid() || info.PID == deadPID {
				t.Fatalf("ensure: started %v, %+v", started, info)
			}
		})
	}
}

// When the recorded port is taken by another program, the server listens
// on a new one and records it.
func TestRecordedPortTaken(t *testing.T) {
	dir := dataDir(t)
	taken := listen(t)
	defer taken.Close()
	os.WriteFile(filepath.Join(dir, AddressFile), []byte(taken.Addr().String()+"\n"), 0o600)
	info, _ := ensure(t, dir, time.Hour)
	if info.URL == "http://"+taken.Addr().String() {
		t.Fatalf("listening on a taken port? %s", info.URL)
	}
	if a, ok := recordedAddress(dir); !ok || "http://"+a != info.URL {
		t.Errorf("recorded %q, serving %s", a, info.URL)
	}
}

// Stop waits for the process to end; the next start serves the same
// data on the same URL.
func TestStopRestartSameURL(t *testing.T) {
	dir := dataDir(t)
	first, started := ensure(t, dir, time.Hour)
	if !started {
		t.Fatal("not started")
	}
	again, started := ensure(t, dir, time.Hour)
	if started || again.PID != first.PID {
		t.Fatalf("a second ensure started another server: %+v", again)
	}
	if !StillRunning(first) {
		t.Fatal("StillRunning: false for a running server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stopped, err := Stop(ctx, dir)
	if err != nil || stopped.PID != first.PID {
		t.Fatalf("stop: %+v %v", stopped, err)
	}
	if alive(first.PID) {
		t.Fatal("Stop returned before the process exited")
	}
	if StillRunning(first) {
		t.Error("StillRunning: true after Stop")
	}
	if _, err := Probe(ctx, dir); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("probe after stop: %v", err)
	}
	second, started := ensure(t, dir, time.Hour)
	if !started || second.PID == first.PID || second.URL != first.URL {
		t.Fatalf("restart: %+v (first %+v)", second, first)
	}
	if u, err := PlannedURL(dir); err != nil || u != second.URL {
		t.Errorf("PlannedURL %q %v", u, err)
	}
}

// PlannedURL starts nothing: it records a port that the server later uses.
func TestPlannedURL(t *testing.T) {
	dir := dataDir(t)
	u, err := PlannedURL(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(StatePath(dir)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("PlannedURL started a server")
	}
	info, _ := ensure(t, dir, time.Hour)
	if info.URL != u {
		t.Errorf("planned %s, serving %s", u, info.URL)
	}
}

// A server stops by itself after its idle timeout, not while it is used.
func TestIdleShutdown(t *testing.T) {
	dir := dataDir(t)
	const idle = 600 * time.Millisecond
	info, _ := ensure(t, dir, idle)
	// Requests keep it alive well past the timeout.
	until := time.Now().Add(3 * idle)
	for time.Now().Before(until) {
		req, _ := http.NewRequest("GET", info.APIURL()+"/users/me", nil)
		req.Header.Set("Authorization", "Bearer "+localserver.DefaultAPIKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("the server stopped while used: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		time.Sleep(idle / 6)
	}
	if !StillRunning(info) {
		t.Fatal("stopped while used")
	}
	// Left alone (status checks do not count as use), it stops.
	deadline := time.Now().Add(30 * time.Second)
	for StillRunning(info) {
		if time.Now().After(deadline) {
			t.Fatal("still running 30 s after its idle timeout")
		}
		Probe(context.Background(), dir)
		time.Sleep(50 * time.Millisecond)
	}
	waitGone(t, info.PID, 10*time.Second)
	if _, err := os.Stat(StatePath(dir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state file left after idle shutdown: %v", err)
	}
	log, _ := os.ReadFile(LogPath(dir))
	if !strings.Contains(string(log), "stopping: idle") {
		t.Errorf("log:\n%s", log)
	}
}

// A server that cannot start reports why, with its log.
func TestStartFailure(t *testing.T) {
	dir := dataDir(t)
	// Another server (this process) holds the data directory.
	srv, err := localserver.Start(context.Background(), localserver.Config{DataDir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	o := startOptions(dir, time.Hour)
	o.Env = append(o.Env, "DAEMON_TEST_LOCK_WAIT=500ms")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, _, err = Ensure(ctx, o)
	var se *StartError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "in use by another server") || !strings.Contains(err.Error(), LogPath(dir)) {
		t.Fatalf("%v", err)
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}
