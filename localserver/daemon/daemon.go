// Package daemon keeps one local CloudConvert server per data directory
// running in the background, shared by every process of the user, the way
// Docker's or gopls' daemons are: the first client that needs it starts it
// (detached, in its own session, logging to a file), every later or
// concurrent client connects to it, and it stops itself after an idle
// period.
//
// Files in the data directory:
//
//	daemon.json  the running server's state (pid, URL, start time), written by
//	             the server once it answers and removed when it stops
//	daemon.lock  locked (flock) by a client while it starts a server, so that
//	             clients starting at the same moment end up with one server
//	address      the loopback address the server listens on, kept across
//	             restarts so that links (export and upload URLs) stay valid
//	server.log   the server's output (rotated when it starts past 10 MiB)
//	server.lock  locked by the server itself (localserver) while it uses the data
//
// A state file is trusted only when the server at its URL answers
// localserver.StatusPath with the same pid and data directory: a crash, a
// reboot, a port now used by another program or a pid reused by another
// process all read as "not running", and the next client starts a new
// server.
package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cctoolkit/cloudconvert/localserver"
)

// File names in the data directory.
const (
	StateFile   = "daemon.json"
	LockFile    = "daemon.lock"
	AddressFile = "address"
	LogFile     = "server.log"
)

// maxLog is the size past which the log is rotated (to server.log.1) when
// a server starts.
const maxLog = 10 << 20

// DefaultIdleTimeout is how long a background server waits without
// requests or running tasks before it stops.
const DefaultIdleTimeout = 30 * time.Minute

// State is what a running background server records in StateFile.
type State struct {
	PID       int       `json:"pid"`
	URL       string    `json:"url"` // root URL, without /v2
	DataDir   string    `json:"data_dir"`
	StartedAt time.Time `json:"started_at"`
	Version   string    `json:"version,omitempty"`
	Log       string    `json:"log"`
}

// Info is a running server: its state file and what it answered.
type Info struct {
	State
	Status localserver.Status `json:"status"`
}

// APIURL is the REST base URL.
func (s *State) APIURL() string { return s.URL + "/v2" }

// SyncURL is the sync API's base URL.
func (s *State) SyncURL() string { return s.URL + "/sync/v2" }

// SocketIOURL is the realtime (Socket.IO) endpoint's host.
func (s *State) SocketIOURL() string { return s.URL }

// ErrNotRunning says that no background server answers for the data
// directory.
var ErrNotRunning = errors.New("the background local server is not running")

// StaleError is a state file whose server does not answer as itself.
type StaleError struct {
	State  *State // nil when the file could not be read
	Reason string
}

func (e *StaleError) Error() string {
	return "the background local server's state file is stale: " + e.Reason
}

// Is makes errors.Is(err, ErrNotRunning) true.
func (e *StaleError) Is(target error) bool { return target == ErrNotRunning }

// StatePath, LogPath: files of the data directory.
func StatePath(dir string) string { return filepath.Join(dir, StateFile) }

// LogPath is the background server's log file.
func LogPath(dir string) string { return filepath.Join(dir, LogFile) }

func absDir(dir string) (string, error) {
	if dir == "" {
		return "", errors.New("no data directory")
	}
	return filepath.Abs(dir)
}

func readState(dir string) (*State, error) {
	b, err := os.ReadFile(StatePath(dir))
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil || st.PID <= 0 || st.URL == "" {
		return nil, &StaleError{Reason: fmt.Sprintf("%s is not a state file", StatePath(dir))}
	}
	return &st, nil
}

// writeFileAtomic replaces path with data, never leaving a partial file.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}

// removeState removes the state file if it still names pid.
func removeState(dir string, pid int) {
	if st, err := readState(dir); err == nil && st.PID != pid {
		return
	}
	os.Remove(StatePath(dir))
}

// statusTransport talks to servers on loopback: no proxy, no kept connections.
var statusTransport = &http.Transport{Proxy: nil, DisableKeepAlives: true,
	DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext}

// fetchStatus asks the server at root for its Status.
func fetchStatus(ctx context.Context, root string) (*localserver.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, root+localserver.StatusPath, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+localserver.DefaultAPIKey)
	resp, err := (&http.Client{Transport: statusTransport}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answers %s", root, resp.Status)
	}
	var st localserver.Status
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&st); err != nil {
		return nil, fmt.Errorf("%s does not answer as a local CloudConvert server: %v", root, err)
	}
	return &st, nil
}

func sameDir(a, b string) bool {
	if a == b {
		return true
	}
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

// Probe returns the background server of dir when it is running and
// answers as itself. Its error is ErrNotRunning (no state file), a
// *StaleError (errors.Is ErrNotRunning), or ctx's error.
func Probe(ctx context.Context, dir string) (*Info, error) {
	dir, err := absDir(dir)
	if err != nil {
		return nil, err
	}
	st, err := readState(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, ErrNotRunning
	case err != nil:
		return nil, err
	}
	status, err := fetchStatus(ctx, st.URL)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &StaleError{State: st, Reason: fmt.Sprintf("no server of pid %d answers at %s (%v)", st.PID, st.URL, err)}
	}
	if status.PID != st.PID || !sameDir(status.DataDir, dir) {
		return nil, &StaleError{State: st, Reason: fmt.Sprintf("%s is served by pid %d with data in %s, not by pid %d with data in %s",
			st.URL, status.PID, status.DataDir, st.PID, dir)}
	}
	return &Info{State: *st, Status: *status}, nil
}

// StillRunning is a cheap check (no request) that the server described by
// info still runs: its state file is unchanged and its process alive.
func StillRunning(info *Info) bool {
	st, err := readState(info.DataDir)
	return err == nil && st.PID == info.PID && st.StartedAt.Equal(info.StartedAt) && alive(info.PID)
}

// StartOptions say how to start a background server.
type StartOptions struct {
	// DataDir is the server's data directory.
	DataDir string
	// Command is the program and arguments that run the server in the
	// foreground (e.g. cloudconvert serve --daemon --data-dir DIR); it must
	// end up in Run.
	Command []string
	// Env is the server's environment; the current one when nil.
	Env []string
	// Timeout bounds the wait for a new server to answer; default 2 minutes.
	Timeout time.Duration
}

// StartError is a server that exited or did not answer while starting.
type StartError struct {
	Log    string // the log file
	Output string // what it wrote there during this start (the last 2 KiB)
	Err    error
}

func (e *StartError) Error() string {
	msg := fmt.Sprintf("the background local server did not start: %v (log: %s)", e.Err, e.Log)
	if out := strings.TrimSpace(e.Output); out != "" {
		msg += "\n" + out
	}
	return msg
}

func (e *StartError) Unwrap() error { return e.Err }

// Ensure returns the running background server of o.DataDir, starting
// one when none answers; started says whether this call started it. Two
// callers at the same moment (in any processes) end up with the same
// server. A server this call started is waited for even when ctx ends
// meanwhile (it runs on, so the caller learns of it); ctx's error is then
// returned with the server.
func Ensure(ctx context.Context, o StartOptions) (info *Info, started bool, err error) {
	dir, err := absDir(o.DataDir)
	if err != nil {
		return nil, false, err
	}
	if info, err := Probe(ctx, dir); err == nil || !errors.Is(err, ErrNotRunning) {
		return info, false, err
	}
	if len(o.Command) == 0 {
		return nil, false, errors.New("no command to start the server with")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("data directory: %w", err)
	}
	unlock, err := lockFile(ctx, filepath.Join(dir, LockFile))
	if err != nil {
		return nil, false, fmt.Errorf("waiting for another process that starts the server: %w", err)
	}
	defer unlock()
	// Another process may have started it while we waited for the lock.
	if info, err := Probe(ctx, dir); err == nil || !errors.Is(err, ErrNotRunning) {
		return info, false, err
	}
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	os.Remove(StatePath(dir)) // stale
	cmd, offset, exited, err := spawn(dir, o)
	if err != nil {
		return nil, false, err
	}
	pid := cmd.Process.Pid
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case werr := <-exited:
			if werr == nil {
				werr = errors.New("it exited")
			}
			return nil, false, &StartError{Log: LogPath(dir), Output: logSince(LogPath(dir), offset), Err: werr}
		case <-deadline.C:
			return nil, false, &StartError{Log: LogPath(dir), Output: logSince(LogPath(dir), offset),
				Err: fmt.Errorf("pid %d did not answer within %s", pid, timeout)}
		case <-tick.C:
			if _, err := os.Stat(StatePath(dir)); err != nil {
				continue
			}
			if info, err := Probe(context.WithoutCancel(ctx), dir); err == nil && info.PID == pid {
				return info, true, ctx.Err()
			}
		}
	}
}

// spawn starts o.Command detached, its output appended to the log.
func spawn(dir string, o StartOptions) (*exec.Cmd, int64, <-chan error, error) {
	logPath := LogPath(dir)
	if st, err := os.Stat(logPath); err == nil && st.Size() > maxLog {
		os.Rename(logPath, logPath+".1")
	}
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("server log: %w", err)
	}
	defer f.Close()
	offset, _ := f.Seek(0, io.SeekEnd)
	fmt.Fprintf(f, "--- %s starting the background server: %s\n", time.Now().Format(time.RFC3339), strings.Join(o.Command, " "))
	cmd := exec.Command(o.Command[0], o.Command[1:]...)
	cmd.Stdout, cmd.Stderr, cmd.Dir, cmd.Env = f, f, dir, o.Env
	detach(cmd)
	if err := cmd.Start(); err != nil {
		return nil, 0, nil, fmt.Errorf("starting %s: %w", o.Command[0], err)
	}
	exited := make(chan error, 1)
	// Wait reaps the process if it ends while this process lives; if this
	// process ends first, the server is adopted by init.
	go func() { exited <- cmd.Wait() }()
	return cmd, offset, exited, nil
}

// logSince returns what the log gained after offset (its last 2 KiB).
func logSince(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	offset = max(offset, st.Size()-2048)
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(f, 2048))
	return string(b)
}

// Stop stops the background server of dir (SIGTERM: it finishes the
// requests in flight, stops its tasks, which resume at the next start, and
// closes its store) and waits until its process has exited. It returns the
// server it stopped, or ErrNotRunning (a stale state file is removed).
func Stop(ctx context.Context, dir string) (*Info, error) {
	dir, err := absDir(dir)
	if err != nil {
		return nil, err
	}
	info, err := Probe(ctx, dir)
	if err != nil {
		var se *StaleError
		if errors.As(err, &se) {
			os.Remove(StatePath(dir))
		}
		return nil, err
	}
	if err := terminate(info.PID); err != nil {
		return info, fmt.Errorf("stopping pid %d: %w", info.PID, err)
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for alive(info.PID) {
		select {
		case <-ctx.Done():
			return info, fmt.Errorf("pid %d has not exited yet: %w", info.PID, ctx.Err())
		case <-tick.C:
		}
	}
	return info, nil
}

// PlannedURL is the root URL the background server of dir uses, or will
// use when it starts: the running server's, else the recorded address,
// else a free port recorded now. Nothing is started.
func PlannedURL(dir string) (string, error) {
	dir, err := absDir(dir)
	if err != nil {
		return "", err
	}
	if st, err := readState(dir); err == nil {
		return st.URL, nil
	}
	if a, ok := recordedAddress(dir); ok {
		return "http://" + a, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	a := ln.Addr().String()
	ln.Close()
	// O_EXCL: a server that recorded its address meanwhile wins.
	if f, err := os.OpenFile(filepath.Join(dir, AddressFile), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); err == nil {
		f.WriteString(a + "\n")
		f.Close()
	} else if r, ok := recordedAddress(dir); ok {
		a = r
	}
	return "http://" + a, nil
}

// recordedAddress reads AddressFile: a 127.0.0.1:PORT address.
func recordedAddress(dir string) (string, bool) {
	b, err := os.ReadFile(filepath.Join(dir, AddressFile))
	if err != nil {
		return "", false
	}
	a := strings.TrimSpace(string(b))
	host, port, err := net.SplitHostPort(a)
	if err != nil || host != "127.0.0.1" {
		return "", false
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return "", false
	}
	return a, true
}
