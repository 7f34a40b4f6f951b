package store

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func open(t *testing.T, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var base = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

func job(i int, user, status, tag string) JobRecord {
	id := fmt.Sprintf("job-%03d", i)
	return JobRecord{ID: id, UserID: user, Status: status, Tag: tag, CreatedAt: base.Add(time.Duration(i) * time.Second),
		Doc: json.RawMessage(fmt.Sprintf(`{"id":%q,"status":%q,"tag":%q,"unknown_field":{"kept":true}}`, id, status, tag))}
}

func task(i int, jobID, user, status, op string) TaskRecord {
	id := fmt.Sprintf("task-%03d", i)
	return TaskRecord{ID: id, JobID: jobID, UserID: user, Status: status, Operation: op, CreatedAt: base.Add(time.Duration(i) * time.Second),
		Doc: json.RawMessage(fmt.Sprintf(`{"id":%q,"operation":%q}`, id, op))}
}

func TestJobAndTaskRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir(), Options{})
	j := job(1, "u1", "waiting", "nightly")
	if err := s.PutJob(ctx, j, task(1, j.ID, "u1", "waiting", "import/url"), task(2, j.ID, "u1", "waiting", "convert")); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetJob(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != j.ID || got.Tag != "nightly" || got.Status != "waiting" || !got.CreatedAt.Equal(j.CreatedAt) || string(got.Doc) != string(j.Doc) {
		t.Fatalf("got %+v, want %+v", got, j)
	}
	// Update in place.
	j.Status = "finished"
	j.Doc = json.RawMessage(`{"id":"job-001","status":"finished"}`)
	if err := s.PutJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetJob(ctx, j.ID); got.Status != "finished" || string(got.Doc) != string(j.Doc) {
		t.Fatalf("after update: %+v", got)
	}
	tasks, err := s.TasksOfJob(ctx, j.ID)
	if err != nil || len(tasks) != 2 || tasks[0].Operation != "import/url" || tasks[1].JobID != j.ID {
		t.Fatalf("tasks %+v, %v", tasks, err)
	}
	standalone := task(3, "", "u1", "finished", "convert")
	if err := s.PutTask(ctx, standalone); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetTask(ctx, standalone.ID); err != nil || got.JobID != "" || got.Operation != "convert" {
		t.Fatalf("standalone %+v, %v", got, err)
	}
	if _, err := s.GetJob(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing job: %v", err)
	}
	if _, err := s.GetTask(ctx, j.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("job id read as task: %v", err)
	}
	if err := s.PutTask(ctx, TaskRecord{ID: j.ID, Doc: json.RawMessage(`{}`)}); err == nil {
		t.Fatal("a task may not take a job's id")
	}
	if err := s.PutJob(ctx, JobRecord{ID: "bad", Doc: json.RawMessage(`{`)}); err == nil {
		t.Fatal("invalid JSON accepted")
	}
}

func TestPutJobIsAtomic(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir(), Options{})
	j := job(1, "u", "waiting", "")
	bad := TaskRecord{ID: "t-bad", JobID: j.ID, Doc: json.RawMessage(`not json`)}
	if err := s.PutJob(ctx, j, task(1, j.ID, "u", "waiting", "convert"), bad); err == nil {
		t.Fatal("expected failure")
	}
	if _, err := s.GetJob(ctx, j.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("job written despite failed transaction: %v", err)
	}
	if _, err := s.GetTask(ctx, "task-001"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("task written despite failed transaction: %v", err)
	}
}

func TestListFiltersAndPagination(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir(), Options{})
	for i := 1; i <= 25; i++ {
		user, status, tag := "alice", "finished", ""
		if i%5 == 0 {
			user = "bob"
		}
		if i%2 == 0 {
			status = "error"
		}
		if i%3 == 0 {
			tag = "three"
		}
		j := job(i, user, status, tag)
		if err := s.PutJob(ctx, j, task(i, j.ID, user, status, []string{"convert", "import/url"}[i%2])); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(jobs []JobRecord) string {
		var out []string
		for _, j := range jobs {
			out = append(out, strings.TrimPrefix(j.ID, "job-0"))
		}
		return strings.Join(out, ",")
	}
	tests := []struct {
		name     string
		f        JobFilter
		want     string
		wantNext bool
	}{
		{"newest first, page 1", JobFilter{PerPage: 4}, "25,24,23,22", true},
		{"page 2", JobFilter{PerPage: 4, Page: 2}, "21,20,19,18", true},
		{"last page", JobFilter{PerPage: 10, Page: 3}, "05,04,03,02,01", false},
		{"past the end", JobFilter{PerPage: 10, Page: 4}, "", false},
		{"user", JobFilter{UserID: "bob"}, "25,20,15,10,05", false},
		{"status and user", JobFilter{UserID: "alice", Status: "error", PerPage: 3}, "24,22,18", true},
		{"tag", JobFilter{Tag: "three", PerPage: 100}, "24,21,18,15,12,09,06,03", false},
		{"exact page boundary", JobFilter{UserID: "bob", PerPage: 5}, "25,20,15,10,05", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			jobs, next, err := s.ListJobs(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(jobs); got != tc.want || next != tc.wantNext {
				t.Fatalf("got %s next=%v, want %s next=%v", got, next, tc.want, tc.wantNext)
			}
		})
	}
	tasks, next, err := s.ListTasks(ctx, TaskFilter{Operation: "import/url", Status: "finished", PerPage: 2})
	if err != nil || len(tasks) != 2 || !next || tasks[0].ID != "task-025" || tasks[1].ID != "task-023" {
		t.Fatalf("tasks %+v next=%v err=%v", tasks, next, err)
	}
	tasks, _, err = s.ListTasks(ctx, TaskFilter{JobID: "job-007"})
	if err != nil || len(tasks) != 1 || tasks[0].ID != "task-007" {
		t.Fatalf("tasks of job-007: %+v %v", tasks, err)
	}
	tasks, _, err = s.ListTasks(ctx, TaskFilter{UserID: "bob", PerPage: 100})
	if err != nil || len(tasks) != 5 {
		t.Fatalf("bob's tasks: %d %v", len(tasks), err)
	}
}

func TestRestartKeepsEverything(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	j := job(1, "u", "finished", "t")
	if err := s.PutJob(ctx, j, task(1, j.ID, "u", "finished", "export/url")); err != nil {
		t.Fatal(err)
	}
	content := []byte("converted bytes")
	f, err := s.SaveFile(ctx, "task-001", "out.pdf", bytes.NewReader(content), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := open(t, dir, Options{})
	if got, err := s2.GetJob(ctx, j.ID); err != nil || string(got.Doc) != string(j.Doc) {
		t.Fatalf("job after restart: %+v %v", got, err)
	}
	if tasks, err := s2.TasksOfJob(ctx, j.ID); err != nil || len(tasks) != 1 {
		t.Fatalf("tasks after restart: %+v %v", tasks, err)
	}
	rc, rec, err := s2.OpenFile(ctx, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, _ := io.ReadAll(rc)
	if !bytes.Equal(got, content) || rec.MD5 != f.MD5 || rec.Name != "out.pdf" || rec.Size != int64(len(content)) {
		t.Fatalf("file after restart: %+v %q", rec, got)
	}
	files, err := s2.FilesOfTask(ctx, "task-001")
	if err != nil || len(files) != 1 || files[0].ID != f.ID {
		t.Fatalf("files of task: %+v %v", files, err)
	}
}

func TestSaveFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir, Options{})
	data := bytes.Repeat([]byte("0123456789"), 100_000)
	sum := md5.Sum(data)
	f, err := s.SaveFile(ctx, "t1", "big.bin", bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if f.Size != int64(len(data)) || f.MD5 != hex.EncodeToString(sum[:]) {
		t.Fatalf("record %+v", f)
	}
	if st, err := os.Stat(f.Path); err != nil || st.Size() != f.Size {
		t.Fatalf("on disk: %v %v", st, err)
	}

	t.Run("size cap", func(t *testing.T) {
		_, err := s.SaveFile(ctx, "t1", "too-big.bin", bytes.NewReader(data), int64(len(data))-1)
		var tooBig *FileTooLargeError
		if !errors.As(err, &tooBig) || !errors.Is(err, ErrFileTooLarge) || tooBig.Limit != int64(len(data))-1 {
			t.Fatalf("err = %v", err)
		}
		if files, _ := s.FilesOfTask(ctx, "t1"); len(files) != 1 {
			t.Fatalf("rejected file recorded: %+v", files)
		}
		if left, _ := os.ReadDir(filepath.Join(dir, "files", "tmp")); len(left) != 0 {
			t.Fatalf("temp files left: %v", left)
		}
	})

	t.Run("traversal names", func(t *testing.T) {
		for name, display := range map[string]string{
			"../../etc/passwd":      "passwd",
			`..\..\windows\win.ini`: "win.ini",
			"/abs/path/x.txt":       "x.txt",
			"..":                    "file",
			"":                      "file",
			"a\x00b.txt":            "a_b.txt",
			"normal name.pdf":       "normal name.pdf",
		} {
			f, err := s.SaveFile(ctx, "t2", name, strings.NewReader("x"), 10)
			if err != nil {
				t.Fatal(err)
			}
			if f.Name != display {
				t.Errorf("name %q -> %q, want %q", name, f.Name, display)
			}
			rel, err := filepath.Rel(s.Dir(), f.Path)
			if err != nil || strings.HasPrefix(rel, "..") || filepath.Base(f.Path) != f.ID {
				t.Errorf("path %q escapes or is not named by id", f.Path)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "..", "etc")); err == nil {
			t.Fatal("something was written outside the data dir")
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.SaveFile(cctx, "t3", "x", strings.NewReader("data"), 0); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestExpiry(t *testing.T) {
	ctx := context.Background()
	now := base
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := open(t, t.TempDir(), Options{FileTTL: time.Hour, Now: clock})
	old, err := s.SaveFile(ctx, "t", "old.txt", strings.NewReader("old"), 0)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(30 * time.Minute)
	mu.Unlock()
	fresh, err := s.SaveFile(ctx, "t", "fresh.txt", strings.NewReader("fresh"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if !old.ExpiresAt.Equal(base.Add(time.Hour)) {
		t.Fatalf("expires %v", old.ExpiresAt)
	}
	mu.Lock()
	now = base.Add(61 * time.Minute)
	mu.Unlock()
	// Expired but not yet collected: already unavailable.
	if _, _, err := s.OpenFile(ctx, old.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired file opened: %v", err)
	}
	n, err := s.ExpireFiles(ctx, clock())
	if err != nil || n != 1 {
		t.Fatalf("expired %d, %v", n, err)
	}
	if _, err := os.Stat(old.Path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("expired content still on disk: %v", err)
	}
	rc, _, err := s.OpenFile(ctx, fresh.ID)
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if n, _ := s.ExpireFiles(ctx, clock()); n != 0 {
		t.Fatalf("second pass expired %d", n)
	}
}

func TestDeleteCascades(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir(), Options{})
	j := job(1, "u", "finished", "")
	if err := s.PutJob(ctx, j, task(1, j.ID, "u", "finished", "convert"), task(2, j.ID, "u", "finished", "export/url")); err != nil {
		t.Fatal(err)
	}
	f, err := s.SaveFile(ctx, "task-002", "out.png", strings.NewReader("png"), 0)
	if err != nil {
		t.Fatal(err)
	}
	other := task(3, "", "u", "finished", "convert")
	s.PutTask(ctx, other)
	g, _ := s.SaveFile(ctx, other.ID, "keep.png", strings.NewReader("keep"), 0)

	if err := s.DeleteJob(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetTask(ctx, "task-001"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("task survived its job: %v", err)
	}
	if _, _, err := s.OpenFile(ctx, f.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("file survived its job: %v", err)
	}
	if _, err := os.Stat(f.Path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("content survived its job")
	}
	if _, _, err := s.OpenFile(ctx, g.ID); err != nil {
		t.Fatalf("unrelated file deleted: %v", err)
	}
	if err := s.DeleteJob(ctx, j.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if err := s.DeleteTask(ctx, other.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(g.Path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("task's content survived")
	}
}

func TestOpenSweepsLeftovers(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	keep, _ := s.SaveFile(ctx, "t", "keep", strings.NewReader("keep"), 0)
	s.Close()
	// Simulate crashes: a partial upload, and content renamed in place whose
	// row never committed.
	partial := filepath.Join(dir, "files", "tmp", "abc-123")
	orphan := filepath.Join(dir, "files", "zz", "zz-orphan")
	os.MkdirAll(filepath.Dir(orphan), 0o700)
	os.WriteFile(partial, []byte("half"), 0o600)
	os.WriteFile(orphan, []byte("lost"), 0o600)

	s2 := open(t, dir, Options{})
	for _, p := range []string{partial, orphan} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s not swept", p)
		}
	}
	if _, _, err := s2.OpenFile(ctx, keep.ID); err != nil {
		t.Fatalf("committed file swept: %v", err)
	}
}

// TestConcurrentWriters runs many goroutines writing jobs, tasks and files
// at once (run with -race); every acknowledged write must be readable.
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir(), Options{})
	const workers, each = 8, 15
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				n := w*each + i
				j := job(n, fmt.Sprintf("user-%d", w), "processing", "")
				if err := s.PutJob(ctx, j, task(n, j.ID, j.UserID, "processing", "convert")); err != nil {
					errs <- err
					return
				}
				if _, err := s.SaveFile(ctx, fmt.Sprintf("task-%03d", n), "f.txt", strings.NewReader(j.ID), 0); err != nil {
					errs <- err
					return
				}
				j.Status = "finished"
				if err := s.PutJob(ctx, j); err != nil {
					errs <- err
					return
				}
				if _, _, err := s.ListJobs(ctx, JobFilter{UserID: j.UserID, PerPage: 5}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	jobs, next, err := s.ListJobs(ctx, JobFilter{Status: "finished", PerPage: 1000})
	if err != nil || next || len(jobs) != workers*each {
		t.Fatalf("finished jobs %d next=%v err=%v", len(jobs), next, err)
	}
	for i := range workers * each {
		files, err := s.FilesOfTask(ctx, fmt.Sprintf("task-%03d", i))
		if err != nil || len(files) != 1 {
			t.Fatalf("files of task %d: %v %v", i, files, err)
		}
	}
}

func BenchmarkPutJob(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	i := 0
	for b.Loop() {
		i++
		j := job(i, "u", "waiting", "")
		if err := s.PutJob(ctx, j, task(i, j.ID, "u", "waiting", "convert")); err != nil {
			b.Fatal(err)
		}
	}
}
