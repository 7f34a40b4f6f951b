package main

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/api"

	"github.com/cctoolkit/cloudconvert/internal/localtest"
)

// batchInputs writes n small PNGs (p01.png, ...) into a new folder, plus
// what a walk must skip: a hidden file, a hidden folder and a symbolic
// link; and one PNG in a subfolder.
func batchInputs(t *testing.T, n int) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(writeInputs(t), "a.png"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for i := range n {
		name := filepath.Join(dir, "p"+string(rune('0'+i/10))+string(rune('0'+i%10))+".png")
		if err := os.WriteFile(name, src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, ".DS_Store"), []byte("x"), 0o644)
	os.MkdirAll(filepath.Join(dir, ".git"), 0o755)
	os.WriteFile(filepath.Join(dir, ".git", "x.png"), src, 0o644)
	os.Symlink(filepath.Join(dir, "p00.png"), filepath.Join(dir, "link.png"))
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "sub", "s.png"), src, 0o644)
	return dir
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestConvertDirectory: a folder stands for its regular files (hidden ones,
// hidden folders and links skipped, and said so), converted in parallel;
// a second run never replaces a result: it writes name-1.ext, without
// spaces. --merge makes one PDF of all inputs.
func TestConvertDirectory(t *testing.T) {
	b := newLocalBackend(t)
	in := batchInputs(t, 3)
	out := t.TempDir()
	code, stdout, stderr := run(t, b.environ(), "convert", in, "--to", "jpg", "-o", out, "--parallel", "2")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	want := []string{"p00.jpg", "p01.jpg", "p02.jpg", "s.jpg"}
	if got := listDir(t, out); !slices.Equal(got, want) {
		t.Fatalf("wrote %v, want %v\nstdout: %s", got, want, stdout)
	}
	for _, skipped := range []string{"skipped 3 entries: ", filepath.Join(in, ".DS_Store") + " (hidden)", filepath.Join(in, ".git") + "/ (hidden)", filepath.Join(in, "link.png") + " (not a regular file)"} {
		if !strings.Contains(stderr, skipped) {
			t.Errorf("stderr lacks %q:\n%s", skipped, stderr)
		}
	}
	if strings.Contains(stderr, ".git/x.png") {
		t.Errorf("a file of a hidden folder was considered: %s", stderr)
	}
	code, stdout, stderr = run(t, b.environ(), "convert", in, "--to", "jpg", "-o", out, "-q")
	if code != 0 || stderr != "" {
		t.Fatalf("second run: exit %d\n%s", code, stderr)
	}
	want = []string{"p00-1.jpg", "p00.jpg", "p01-1.jpg", "p01.jpg", "p02-1.jpg", "p02.jpg", "s-1.jpg", "s.jpg"}
	if got := listDir(t, out); !slices.Equal(got, want) {
		t.Fatalf("second run wrote %v, want %v", got, want)
	}
	for _, p := range strings.Fields(stdout) {
		checkFile(t, p, "jpg")
	}

	dir := writeInputs(t)
	merged := t.TempDir()
	code, stdout, stderr = run(t, b.environ(), "convert", filepath.Join(dir, "a.png"), filepath.Join(dir, "sample.pdf"), filepath.Join(dir, "b.jpg"), "--merge", "-o", merged, "-q")
	if code != 0 {
		t.Fatalf("merge: exit %d\n%s", code, stderr)
	}
	paths := strings.Fields(stdout)
	if len(paths) != 1 || !strings.HasSuffix(paths[0], ".pdf") {
		t.Fatalf("merge wrote %v", paths)
	}
	if n, err := api.PageCountFile(paths[0]); err != nil || n != 4 {
		t.Errorf("merged PDF: %d pages (want 1+2+1), %v", n, err)
	}
}

// stall holds the requests a test names until they are cancelled, and
// says when the first arrives.
type stall struct {
	mu      sync.Mutex
	match   func(r *http.Request, n int) bool // n counts the requests of its kind so far
	counts  map[string]int
	arrived chan string
}

func newStall(api *localtest.Server, kind string, match func(r *http.Request, n int) bool) *stall {
	s := &stall{match: match, counts: map[string]int{}, arrived: make(chan string, 16)}
	api.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasPrefix(r.URL.Path, kind) {
			return false
		}
		s.mu.Lock()
		s.counts[kind]++
		n := s.counts[kind]
		s.mu.Unlock()
		if !s.match(r, n) {
			return false
		}
		s.arrived <- r.URL.Path
		<-r.Context().Done() // until the client gives up
		return true
	})
	return s
}

func (s *stall) wait(t *testing.T, p *proc) {
	t.Helper()
	select {
	case <-s.arrived:
	case <-time.After(5 * time.Minute): // only catches hangs
		p.Process.Kill()
		t.Fatalf("the stalled request never came\nstderr: %s", p.stderr.String())
	}
}

// TestConvertInterrupt: Ctrl-C during the downloads leaves the files done
// so far and nothing half-written; the job ID is printed with the command
// that finishes, and `wait JOB -o DIR` does, keeping what is there. Ctrl-C
// during the uploads deletes the job, which could never run.
func TestConvertInterrupt(t *testing.T) {
	api := localtest.Start(t, localtest.Options{APIKey: key})
	env := map[string]string{"CLOUDCONVERT_API_KEY": key, "CLOUDCONVERT_BASE_URL": api.URL + "/v2", "CLOUDCONVERT_SYNC_URL": api.URL + "/sync/v2"}
	in := batchInputs(t, 3)
	out := t.TempDir()

	// The second download hangs: interrupt it.
	st := newStall(api, "/files/", func(_ *http.Request, n int) bool { return n == 2 })
	p := command(t, env, "convert", filepath.Join(in, "p00.png"), filepath.Join(in, "p01.png"), filepath.Join(in, "p02.png"), "--to", "jpg", "-o", out, "--parallel", "1")
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	st.wait(t, p)
	time.Sleep(50 * time.Millisecond) // some bytes of nothing: the request is in flight
	p.Process.Signal(os.Interrupt)
	p.Wait()
	code, stdout, stderr := p.ProcessState.ExitCode(), p.stdout.String(), p.stderr.String()
	line := stderr[strings.LastIndex(strings.TrimSuffix(stderr, "\n"), "\n")+1:]
	if code != exitFailure || !strings.Contains(line, "cloudconvert: interrupted; job ") || !strings.Contains(line, " -o "+out+" finishes it") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	jobID := strings.Fields(line[strings.Index(line, "cloudconvert wait ")+len("cloudconvert wait "):])[0]
	if got := listDir(t, out); !slices.Equal(got, []string{"p00.jpg"}) || strings.TrimSpace(stdout) != filepath.Join(out, "p00.jpg") {
		t.Fatalf("after the interruption: %v (stdout %q); want p00.jpg alone, no temporary file", got, stdout)
	}
	api.SetFault(nil)
	code, stdout, stderr = run(t, env, "wait", jobID, "-o", out, "-q")
	if code != 0 {
		t.Fatalf("wait: exit %d\n%s", code, stderr)
	}
	if got := listDir(t, out); !slices.Equal(got, []string{"p00.jpg", "p01.jpg", "p02.jpg"}) || len(strings.Fields(stdout)) != 3 {
		t.Fatalf("after wait: %v, stdout %q", got, stdout)
	}
	for _, f := range strings.Fields(stdout) {
		checkFile(t, f, "jpg")
	}

	// The second upload hangs: interrupt it; the job is deleted.
	st = newStall(api, "/uploads/", func(_ *http.Request, n int) bool { return n == 2 })
	p = command(t, env, "convert", in, "--to", "jpg", "-o", t.TempDir(), "--parallel", "1")
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	st.wait(t, p)
	p.Process.Signal(os.Interrupt)
	p.Wait()
	code, stderr = p.ProcessState.ExitCode(), p.stderr.String()
	if code != exitFailure || !strings.Contains(stderr, "was deleted: nothing was converted") {
		t.Fatalf("interrupted upload: exit %d\n%s", code, stderr)
	}
	i := strings.Index(stderr, "(job ")
	id := strings.Fields(stderr[i+len("(job "):])[0]
	if status, _ := api.Get(t, "/v2/jobs/"+id); status != http.StatusNotFound {
		t.Errorf("the job of an interrupted upload answers %d", status)
	}
}
