package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/pdfcpu/pdfcpu/pkg/api"

	"github.com/cctoolkit/cloudconvert/localserver"
	"github.com/cctoolkit/cloudconvert/sdk"
)

// backend is the server the commands run against: the local server,
// started in-process (newLocalBackend), which converts for real.
type backend struct {
	env map[string]string
	// failingJob creates a job that ends in "error" and returns its ID.
	failingJob func(t *testing.T) string
	// server is the in-process local server, when the backend is one.
	server *localserver.Server
}

func (b *backend) client(t testing.TB) *sdk.Client {
	t.Helper()
	opts := []sdk.Option{sdk.WithBaseURL(b.env["CLOUDCONVERT_BASE_URL"]), sdk.WithSyncURL(b.env["CLOUDCONVERT_SYNC_URL"])}
	c, err := sdk.New(b.env["CLOUDCONVERT_API_KEY"], opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// jobCount counts the jobs on the server.
func (b *backend) jobCount(t *testing.T) int {
	t.Helper()
	n := 0
	for _, err := range b.client(t).Jobs(context.Background(), nil) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

// env copies the backend's environment (run writes to the map).
func (b *backend) environ() map[string]string {
	m := map[string]string{}
	for k, v := range b.env {
		m[k] = v
	}
	return m
}

// writeInputs writes sample.pdf (two pages), a.png, b.jpg, notes.txt and
// broken.png (not an image) into a new directory.
func writeInputs(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for y := range 48 {
		for x := range 64 {
			img.Set(x, y, color.RGBA{uint8(x * 4), uint8(y * 5), 128, 255})
		}
	}
	var pb, jb bytes.Buffer
	if err := png.Encode(&pb, img); err != nil {
		t.Fatal(err)
	}
	if err := jpeg.Encode(&jb, img, nil); err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := write("a.png", pb.Bytes())
	write("b.jpg", jb.Bytes())
	write("notes.txt", []byte("not an image\n"))
	write("broken.png", []byte("these bytes are not a PNG"))
	// sample.pdf: two pages, one image each, made by pdfcpu.
	if err := api.ImportImagesFile([]string{a, a}, filepath.Join(dir, "sample.pdf"), nil, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

// oneLine checks that s is exactly one non-empty line.
func isOneLine(s string) bool {
	return strings.Count(s, "\n") == 1 && strings.HasSuffix(s, "\n") && strings.TrimSpace(s) != ""
}

func TestConvertBadArguments(t *testing.T) {
	b := newLocalBackend(t)
	dir := writeInputs(t)
	in := func(n string) string { return filepath.Join(dir, n) }
	empty := t.TempDir()
	os.WriteFile(filepath.Join(empty, ".hidden.png"), []byte("x"), 0o644)
	cases := []struct {
		name string
		args []string
		err  string // in the one line on stderr
	}{
		{"no files", []string{"convert", "--to", "png"}, "convert: no input files"},
		{"no files, no format", []string{"convert"}, "convert: no input files"},
		{"missing file", []string{"convert", in("nope.pdf"), "--to", "png"}, "convert: no such file: " + in("nope.pdf")},
		{"one of two missing", []string{"convert", in("a.png"), in("gone.jpg"), "--to", "pdf"}, "no such file: " + in("gone.jpg")},
		{"directory without files", []string{"convert", empty, "--to", "pdf"}, "holds no file to convert (skipped 1 entry: " + filepath.Join(empty, ".hidden.png") + " (hidden))"},
		{"merge to png", []string{"convert", in("a.png"), "--merge", "--to", "png"}, "--merge makes one PDF; leave out --to or give --to pdf (got png)"},
		{"parallel 0", []string{"convert", in("a.png"), "--to", "pdf", "--parallel", "0"}, "--parallel must be between 1 and 64, got 0"},
		{"no format", []string{"convert", in("a.png")}, "convert: no output format: give --to FORMAT"},
		{"unknown format", []string{"convert", in("sample.pdf"), "--to", "pgn"}, `convert: unknown output format "pgn" (did you mean "png"?)`},
		{"unknown format, no hint", []string{"convert", in("sample.pdf"), "--to", "banana"}, `convert: unknown output format "banana"`},
		{"bad option", []string{"convert", in("a.png"), "--to", "pdf", "--option", "quality"}, `--option "quality": want key=value`},
		{"output_format option", []string{"convert", in("a.png"), "--to", "pdf", "--option", "output_format=jpg"}, "use --to"},
		{"output dir is a file", []string{"convert", in("a.png"), "--to", "pdf", "-o", in("b.jpg")}, "is not a directory"},
		{"unknown flag", []string{"convert", in("a.png"), "--to", "pdf", "--bogus"}, "unknown flag: --bogus"},
		{"unknown account", []string{"convert", in("a.png"), "--to", "pdf", "--account", "nope"}, `account "nope" is not configured`},
		{"wait without id", []string{"wait"}, "wait: no job ID"},
		{"wait two ids", []string{"wait", "a", "b"}, "wait: one job ID, got 2 arguments"},
		{"jobs bad status", []string{"jobs", "--status", "finshed"}, `unknown --status "finshed" (did you mean "finished"?)`},
		{"jobs negative limit", []string{"jobs", "--limit", "-1"}, "--limit must be 0"},
		{"jobs argument", []string{"jobs", "x"}, "jobs takes no arguments"},
		{"tasks bad operation", []string{"tasks", "--operation", "conver"}, `unknown --operation "conver" (did you mean "convert"?)`},
	}
	before := b.jobCount(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errs := run(t, b.environ(), c.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if !isOneLine(errs) || !strings.HasPrefix(errs, "cloudconvert: ") || !strings.Contains(errs, c.err) {
				t.Errorf("stderr %q: want one line with %q", errs, c.err)
			}
			if out != "" {
				t.Errorf("stdout %q", out)
			}
		})
	}
	if n := b.jobCount(t); n != before {
		t.Errorf("bad arguments created %d jobs", n-before)
	}
}

func TestConvert(t *testing.T) {
	b := newLocalBackend(t)
	dir := writeInputs(t)
	in := func(n string) string { return filepath.Join(dir, n) }
	cases := []struct {
		name  string
		args  []string
		files []string // written, relative to the output directory
		kind  string   // "png" or "pdf": checked when the backend is real
	}{
		{"pdf to png", []string{in("sample.pdf"), "--to", "png"}, []string{"sample-1.png", "sample-2.png"}, "png"},
		{"images to pdf", []string{in("a.png"), in("b.jpg"), "--to", "pdf"}, []string{"a.pdf", "b.pdf"}, "pdf"},
		{"format spelling", []string{in("a.png"), "--to", ".JPEG", "--option", "quality=70"}, []string{"a.jpg"}, "jpg"},
		{"first page only", []string{in("sample.pdf"), "--to", "png", "--option", "pages=1"}, []string{"sample.png"}, "png"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := t.TempDir()
			code, stdout, stderr := run(t, b.environ(), append([]string{"convert", "-o", out}, c.args...)...)
			if code != 0 {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
			paths := strings.Fields(stdout)
			var want []string
			for _, f := range c.files {
				want = append(want, filepath.Join(out, f))
			}
			if strings.Join(paths, " ") != strings.Join(want, " ") {
				t.Errorf("printed %q, want %q\nstderr: %s", paths, want, stderr)
			}
			for _, p := range paths {
				checkFile(t, p, c.kind)
			}
			if !strings.Contains(stderr, "created job ") || !strings.Contains(stderr, "downloaded ") {
				t.Errorf("progress lines missing:\n%s", stderr)
			}
			for _, a := range c.args {
				if st, err := os.Stat(a); err == nil {
					// The file's size, not the multipart body's.
					if want := "uploaded " + filepath.Base(a) + " (" + humanize.Bytes(uint64(st.Size())) + ")\n"; !strings.Contains(stderr, want) {
						t.Errorf("no %q in\n%s", want, stderr)
					}
				}
			}
		})
	}
}

// checkFile decodes a result as kind.
func checkFile(t *testing.T, path, kind string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	switch kind {
	case "png", "jpg":
		img, format, err := image.Decode(f)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if want := map[string]string{"png": "png", "jpg": "jpeg"}[kind]; format != want || img.Bounds().Empty() {
			t.Errorf("%s: %s image %v, want %s", path, format, img.Bounds(), want)
		}
	case "pdf":
		if err := api.ValidateFile(path, nil); err != nil {
			t.Fatalf("%s: not a valid PDF: %v", path, err)
		}
		if n, err := api.PageCountFile(path); err != nil || n != 1 {
			t.Errorf("%s: %d pages, %v", path, n, err)
		}
	}
}

func TestConvertJSONAndFailure(t *testing.T) {
	b := newLocalBackend(t)
	dir := writeInputs(t)
	out := t.TempDir()
	code, stdout, stderr := run(t, b.environ(), "convert", filepath.Join(dir, "a.png"), "--to", "pdf", "-o", out, "--json", "-q")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d\nstderr: %s", code, stderr)
	}
	var res convertOutput
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || res.Status != "finished" || len(res.Files) != 1 || res.JobID == "" {
		t.Fatalf("%v: %s", err, stdout)
	}
	// A conversion the server cannot do fails the job: exit 1 and one
	// line naming the failed task and why.
	code, stdout, stderr = run(t, b.environ(), "convert", filepath.Join(dir, "broken.png"), "--to", "pdf", "-o", out, "-q")
	if code != exitFailure || !isOneLine(stderr) || !strings.Contains(stderr, "failed: task convert-1 (convert): INVALID_FILE: ") || stdout != "" {
		t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
}

func TestWait(t *testing.T) {
	b := newLocalBackend(t)
	dir := writeInputs(t)
	code, stdout, stderr := run(t, b.environ(), "convert", filepath.Join(dir, "a.png"), "--to", "pdf", "-o", t.TempDir(), "--json", "-q")
	if code != 0 {
		t.Fatalf("convert: exit %d: %s", code, stderr)
	}
	var res convertOutput
	json.Unmarshal([]byte(stdout), &res)
	finished, failed := res.JobID, b.failingJob(t)
	// A job that waits for an upload that never comes.
	pending, err := b.client(t).CreateJob(context.Background(), sdk.NewJob("cli-test-pending", map[string]sdk.TaskDefinition{
		"upload": sdk.TaskDef("import/upload", nil),
	}))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	cases := []struct {
		name     string
		args     []string
		code     int
		out, err string
	}{
		{"finished", []string{"wait", finished}, 0, "job " + finished + " finished\n  a.pdf", "job " + finished + ": finished 100%"},
		{"finished, poll", []string{"wait", finished, "--poll", "-q"}, 0, "finished", ""},
		{"finished, json", []string{"wait", finished, "--json", "-q"}, 0, `"status": "finished"`, ""},
		{"finished, download", []string{"wait", finished, "-o", out, "-q"}, 0, filepath.Join(out, "a.pdf"), ""},
		{"failed", []string{"wait", failed, "-q"}, exitFailure, "", "cloudconvert: wait: job " + failed + " failed: task "},
		{"failed, json", []string{"wait", failed, "--json", "-q"}, exitFailure, `"status": "error"`, "failed: task "},
		{"timeout", []string{"wait", pending.Id, "--timeout", "300ms", "-q"}, exitFailure, "", "cloudconvert: gave up after 300ms (--timeout)"},
		{"timeout, poll", []string{"wait", pending.Id, "--timeout", "300ms", "--poll", "-q"}, exitFailure, "", "cloudconvert: gave up after 300ms (--timeout)"},
		{"no such job", []string{"wait", "00000000-0000-0000-0000-000000000000", "-q"}, exitFailure, "", "404"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := run(t, b.environ(), c.args...)
			if code != c.code || !strings.Contains(stdout, c.out) || !strings.Contains(stderr, c.err) {
				t.Errorf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, c.code, stdout, stderr)
			}
			if c.code != 0 && !isOneLine(stderr) {
				t.Errorf("stderr is not one line: %q", stderr)
			}
		})
	}
}

func TestJobsAndTasks(t *testing.T) {
	b := newLocalBackend(t)
	dir := writeInputs(t)
	tag := "cli-test-" + time.Now().Format("150405.000000")
	var ids []string
	for range 3 {
		code, stdout, stderr := run(t, b.environ(), "convert", filepath.Join(dir, "a.png"), "--to", "pdf", "-o", t.TempDir(), "--tag", tag, "--json", "-q")
		if code != 0 {
			t.Fatalf("convert: exit %d: %s", code, stderr)
		}
		var res convertOutput
		json.Unmarshal([]byte(stdout), &res)
		ids = append(ids, res.JobID)
	}
	failed := b.failingJob(t)
	type check func(t *testing.T, stdout string)
	jsonLen := func(n int) check {
		return func(t *testing.T, stdout string) {
			var v []map[string]any
			if err := json.Unmarshal([]byte(stdout), &v); err != nil || len(v) != n {
				t.Errorf("want a JSON array of %d: %v\n%s", n, err, stdout)
			}
		}
	}
	contains := func(s ...string) check {
		return func(t *testing.T, stdout string) {
			for _, x := range s {
				if !strings.Contains(stdout, x) {
					t.Errorf("no %q in\n%s", x, stdout)
				}
			}
		}
	}
	lines := func(n int) check {
		return func(t *testing.T, stdout string) {
			if got := strings.Count(stdout, "\n"); got != n {
				t.Errorf("%d lines, want %d:\n%s", got, n, stdout)
			}
		}
	}
	cases := []struct {
		name   string
		args   []string
		checks []check
	}{
		{"jobs table", []string{"jobs"}, []check{contains("ID", "STATUS", "TAG", ids[0], ids[2], tag)}},
		{"jobs by tag", []string{"jobs", "--tag", tag, "--json"}, []check{jsonLen(3), contains(ids[0], ids[1], ids[2])}},
		{"jobs limit", []string{"jobs", "--tag", tag, "--limit", "2"}, []check{lines(3)}},
		{"jobs limit json", []string{"jobs", "--tag", tag, "-n", "1", "--json"}, []check{jsonLen(1)}},
		{"jobs failed", []string{"jobs", "--status", "error", "--limit", "0"}, []check{contains(failed)}},
		{"jobs finished", []string{"jobs", "--status", "finished", "--tag", tag, "--json"}, []check{jsonLen(3)}},
		{"tasks of a job", []string{"tasks", "--job-id", ids[1]}, []check{contains("OPERATION", "import/upload", "convert", "export/url", "import-1", "convert-1", "export"), lines(4)}},
		{"tasks of a job json", []string{"tasks", "--job-id", ids[1], "--json"}, []check{jsonLen(3)}},
		{"tasks by operation", []string{"tasks", "--job-id", ids[0], "--operation", "convert", "--json"}, []check{jsonLen(1), contains(`"operation": "convert"`)}},
		{"tasks failed", []string{"tasks", "--job-id", failed, "--status", "error"}, []check{contains("error")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := run(t, b.environ(), c.args...)
			if code != 0 {
				t.Fatalf("exit %d\nstderr: %s", code, stderr)
			}
			for _, ch := range c.checks {
				ch(t, stdout)
			}
		})
	}
	code, stdout, stderr := run(t, b.environ(), "jobs", "--tag", "no-such-tag-"+tag)
	if code != 0 || stdout != "" || stderr != "no jobs\n" {
		t.Errorf("empty listing: exit %d, %q, %q", code, stdout, stderr)
	}
}

// makeFailedJob uploads content and converts it to format, which must fail;
// it waits for the job to end and returns its ID.
func makeFailedJob(t *testing.T, b *backend, format, name string, content []byte) string {
	t.Helper()
	ctx := context.Background()
	c := b.client(t)
	job, err := c.CreateJob(ctx, sdk.NewJob("cli-test-failing", map[string]sdk.TaskDefinition{
		"upload":  sdk.TaskDef("import/upload", nil),
		"convert": sdk.TaskDef("convert", map[string]any{"output_format": format}, "upload"),
		"export":  sdk.TaskDef("export/url", nil, "convert"),
	}))
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range *job.Tasks {
		if tk.Operation == "import/upload" {
			if err := c.Upload(ctx, tk.Id, name, bytes.NewReader(content), int64(len(content)), nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := c.WaitJob(ctx, job.Id, nil); !errors.Is(err, sdk.ErrJobFailed) {
		t.Fatalf("job %s did not fail: %v", job.Id, err)
	}
	return job.Id
}
