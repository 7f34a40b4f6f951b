package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cctoolkit/cloudconvert/localserver"
	"github.com/cctoolkit/cloudconvert/localserver/daemon"
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
	}}
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
