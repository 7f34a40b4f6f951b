package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cctoolkit/cloudconvert/localserver"
	"github.com/cctoolkit/cloudconvert/localserver/daemon"
	"github.com/cctoolkit/cloudconvert/sdk"
)

// newLocalBackend starts the embedded local server in-process: real
// conversions (PDFium for PDF pages, pure Go for images, pdfcpu for PDFs).
func newLocalBackend(t testing.TB) *backend {
	s, err := localserver.Start(context.Background(), localserver.Config{
		DataDir: t.TempDir(),
		APIKey:  key,
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	b := &backend{env: map[string]string{
		"CLOUDCONVERT_API_KEY": key, "CLOUDCONVERT_BASE_URL": s.APIURL(), "CLOUDCONVERT_SYNC_URL": s.SyncURL(),
		"CLOUDCONVERT_SOCKETIO_URL": s.SocketIOURL(),
	}}
	b.server = s
	b.failingJob = func(t *testing.T) string {
		// Bytes that are not an image cannot become a PDF, whatever
		// engines are installed.
		return makeFailedJob(t, b, "pdf", "broken.png", []byte("these bytes are not a PNG"))
	}
	return b
}

// With no API key configured, as on a fresh machine, the commands start
// the background local server (its data in a temporary directory here);
// bad arguments are refused before it starts.
func TestEmbeddedServer(t *testing.T) {
	env, dataDir := localEnv(t)
	dir := writeInputs(t)
	noKey := func() map[string]string { return copyEnv(env) }

	code, stdout, stderr := run(t, noKey(), "convert", filepath.Join(dir, "nope.pdf"), "--to", "png")
	if code != exitUsage || !isOneLine(stderr) || stdout != "" {
		t.Errorf("missing file: exit %d, stdout %q, stderr %q (want one line, no server)", code, stdout, stderr)
	}
	if _, err := os.Stat(daemon.LogPath(dataDir)); !os.IsNotExist(err) {
		t.Errorf("a bad argument started the server: %v", err)
	}

	out := t.TempDir()
	code, stdout, stderr = run(t, noKey(), "convert", filepath.Join(dir, "a.png"), filepath.Join(dir, "b.jpg"), "--to", "pdf", "-o", out)
	if code != 0 || !strings.Contains(stderr, "started the local CloudConvert server") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if want := filepath.Join(out, "a.pdf") + "\n" + filepath.Join(out, "b.pdf") + "\n"; stdout != want {
		t.Errorf("stdout %q, want %q", stdout, want)
	}
	checkFile(t, filepath.Join(out, "a.pdf"), "pdf")
	checkFile(t, filepath.Join(out, "b.pdf"), "pdf")

	// The job outlives the command that made it: a later one lists it,
	// waits for it and downloads its results again.
	code, stdout, stderr = run(t, noKey(), "jobs", "--json")
	var jobs []struct{ ID, Status string }
	if err := json.Unmarshal([]byte(stdout), &jobs); code != 0 || err != nil || len(jobs) != 1 || jobs[0].Status != "finished" {
		t.Fatalf("jobs: exit %d, %v\nstdout: %s\nstderr: %s", code, err, stdout, stderr)
	}
	again := t.TempDir()
	code, stdout, stderr = run(t, noKey(), "wait", jobs[0].ID, "-o", again)
	if code != 0 || !strings.Contains(stdout, filepath.Join(again, "b.pdf")) {
		t.Errorf("wait: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	code, stdout, stderr = run(t, noKey(), "wait", jobs[0].ID)
	if code != 0 || !strings.Contains(stdout, "b.pdf") || strings.Contains(stderr, "started") {
		t.Errorf("wait: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
}

// TestWaitLive: wait follows a running job through the realtime events
// where the account names an endpoint: it subscribes (two connections: the
// job and its tasks), and ends when the job does.
func TestWaitLive(t *testing.T) {
	b := newLocalBackend(t)
	c := b.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	job, err := c.CreateJob(ctx, sdk.NewJob("cli-live", map[string]sdk.TaskDefinition{
		"upload": sdk.TaskDef("import/upload", nil),
		"export": sdk.TaskDef("export/url", nil, "upload"),
	}))
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		code           int
		stdout, stderr string
	}
	done := make(chan result, 1)
	go func() {
		code, stdout, stderr := run(t, b.environ(), "wait", job.Id, "--timeout", "50s")
		done <- result{code, stdout, stderr}
	}()
	for b.server.Stats().RealtimeConnections < 2 {
		select {
		case r := <-done:
			t.Fatalf("wait ended before subscribing: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
		case <-ctx.Done():
			t.Fatal("wait did not subscribe to the realtime events")
		case <-time.After(10 * time.Millisecond):
		}
	}
	for _, tk := range *job.Tasks {
		if *tk.Name == "upload" {
			img := []byte("plain text is a file too")
			if err := c.Upload(ctx, tk.Id, "in.txt", bytes.NewReader(img), int64(len(img)), nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	r := <-done
	if r.code != 0 || !strings.Contains(r.stdout, "job "+job.Id+" finished") || !strings.Contains(r.stdout, "in.txt") ||
		!strings.Contains(r.stderr, "job "+job.Id+": finished 100%") {
		t.Errorf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
}
