package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/cctoolkit/cloudconvert/sdk"
)

// convertEvents is what ConvertFiles reports for one file.
func convertEvents() []sdk.ConvertEvent {
	job := func(status string, pct int, tasks ...sdk.TaskProgress) sdk.ConvertEvent {
		return sdk.ConvertEvent{Phase: sdk.PhaseConvert, JobID: "job-1", Job: &sdk.Progress{JobID: "job-1", Status: status, Percent: pct, Tasks: tasks}}
	}
	return []sdk.ConvertEvent{
		{Phase: sdk.PhaseCreate, JobID: "job-1"},
		{Phase: sdk.PhaseUpload, JobID: "job-1", File: "/tmp/in/sample.pdf", Done: 0, Total: 2000},
		{Phase: sdk.PhaseUpload, JobID: "job-1", File: "/tmp/in/sample.pdf", Done: 1000, Total: 2000},
		{Phase: sdk.PhaseUpload, JobID: "job-1", File: "/tmp/in/sample.pdf", Done: 2000, Total: 2000},
		job("processing", 33, sdk.TaskProgress{ID: "t1", Name: "import-1", Operation: "import/upload", Status: "finished"},
			sdk.TaskProgress{ID: "t2", Name: "convert-1", Operation: "convert", Status: "processing"}),
		job("processing", 66, sdk.TaskProgress{ID: "t1", Name: "import-1", Operation: "import/upload", Status: "finished"},
			sdk.TaskProgress{ID: "t2", Name: "convert-1", Operation: "convert", Status: "finished"}),
		job("finished", 100, sdk.TaskProgress{ID: "t1", Name: "import-1", Operation: "import/upload", Status: "finished"},
			sdk.TaskProgress{ID: "t2", Name: "convert-1", Operation: "convert", Status: "finished"}),
		job("finished", 100),
		{Phase: sdk.PhaseDownload, JobID: "job-1", File: "sample.png", Done: 0, Total: -1},
		{Phase: sdk.PhaseDownload, JobID: "job-1", File: "sample.png", Done: 500, Total: 500},
		{Phase: sdk.PhaseDone, JobID: "job-1"},
	}
}

func newTestProgress(w io.Writer, tty, quiet bool) *progress {
	c := &cli{stderr: w, getenv: func(k string) string { return map[string]string{"COLUMNS": "100"}[k] }}
	old := isTerminal
	isTerminal = func(io.Writer, func(string) string) bool { return tty }
	defer func() { isTerminal = old }()
	p := newProgress(c, quiet)
	clock := time.Unix(0, 0)
	p.now = func() time.Time { clock = clock.Add(time.Second); return clock }
	return p
}

func TestProgressPlain(t *testing.T) {
	var b bytes.Buffer
	p := newTestProgress(&b, false, false)
	for _, e := range convertEvents() {
		p.convertEvent(e)
	}
	p.close()
	want := `created job job-1
uploaded sample.pdf (2.0 kB)
task import-1 (import/upload): finished
task convert-1 (convert): processing
job job-1: processing 33%
task convert-1 (convert): finished
job job-1: processing 66%
job job-1: finished 100%
downloaded sample.png (500 B)
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	if strings.Contains(b.String(), "\r") || strings.Contains(b.String(), "\x1b") {
		t.Error("control characters in plain output")
	}
}

func TestProgressPlainThrottled(t *testing.T) {
	var b bytes.Buffer
	p := newTestProgress(&b, false, false)
	for pct := range 100 {
		p.waitProgress(sdk.Progress{JobID: "j", Status: "processing", Percent: pct})
	}
	p.waitProgress(sdk.Progress{JobID: "j", Status: "finished", Percent: 100})
	if n := strings.Count(b.String(), "\n"); n != 11 {
		t.Errorf("%d lines for 100 percent steps:\n%s", n, b.String())
	}
}

func TestProgressFailedTask(t *testing.T) {
	var b bytes.Buffer
	p := newTestProgress(&b, false, false)
	p.waitProgress(sdk.Progress{JobID: "j", Status: "error", Percent: 50, Tasks: []sdk.TaskProgress{
		{ID: "t", Name: "convert-1", Operation: "convert", Status: "error", Code: "UNSUPPORTED_CONVERSION", Message: "convert from txt to png is not supported"},
	}})
	want := "task convert-1 (convert): error: UNSUPPORTED_CONVERSION: convert from txt to png is not supported\njob j: error 50%\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

func TestProgressTerminal(t *testing.T) {
	var b bytes.Buffer
	p := newTestProgress(&b, true, false)
	for _, e := range convertEvents() {
		p.convertEvent(e)
	}
	p.close()
	// What stays on screen: each redraw replaces the line, so the text
	// after the last "\r\x1b[K" of each line.
	var screen []string
	for _, l := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		parts := strings.Split(l, "\r\x1b[K")
		screen = append(screen, strings.TrimRight(parts[len(parts)-1], " "))
	}
	got := strings.Join(screen, "\n")
	want := `created job job-1
upload   sample.pdf                   [====================] 100% 2.0 kB/2.0 kB
convert  job-1                        [====================] 100% finished
download sample.png                   [====================] 100% 500 B/500 B`
	if got != want {
		t.Errorf("screen:\n%s\nwant:\n%s\nraw: %q", got, want, b.String())
	}
	if !strings.Contains(b.String(), "[==========          ]  50% 1.0 kB/2.0 kB") {
		t.Errorf("no half-way bar in %q", b.String())
	}
	for _, l := range screen {
		if len([]rune(l)) >= 100 {
			t.Errorf("line wider than COLUMNS: %q", l)
		}
	}
}

func TestProgressQuiet(t *testing.T) {
	var b bytes.Buffer
	p := newTestProgress(&b, true, true)
	for _, e := range convertEvents() {
		p.convertEvent(e)
	}
	p.close()
	if b.Len() != 0 {
		t.Errorf("quiet printed %q", b.String())
	}
}

func TestEllipsize(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"short.png", 20, "short.png"},
		{"a-very-long-file-name.png", 11, "a-ver…e.png"},
		{"abcdef", 3, "abc"},
	} {
		if got := ellipsize(c.in, c.n); got != c.want {
			t.Errorf("ellipsize(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}

// On a narrow terminal the line never wraps: the name column shrinks,
// then the detail is cut; a failed job's bar keeps its percent.
func TestProgressNarrow(t *testing.T) {
	var b bytes.Buffer
	p := newTestProgress(&b, true, false)
	p.width = 60
	p.convertEvent(sdk.ConvertEvent{Phase: sdk.PhaseUpload, File: "a-rather-long-input-file-name.pdf", Done: 10, Total: 20})
	p.waitProgress(sdk.Progress{JobID: "6559c281-ff36-4e1a-a6a4-7d4ad7aa8b47", Status: "processing", Percent: 40,
		Tasks: []sdk.TaskProgress{{Name: "convert-with-a-long-name", Status: "processing"}}})
	p.waitProgress(sdk.Progress{JobID: "6559c281-ff36-4e1a-a6a4-7d4ad7aa8b47", Status: "error", Percent: 40})
	p.close()
	for _, l := range strings.Split(b.String(), "\r\x1b[K") {
		l = strings.TrimSuffix(l, "\n")
		if n := len([]rune(l)); n > 59 {
			t.Errorf("%d runes: %q", n, l)
		}
	}
	for _, want := range []string{"upload   a-r….pdf [==========          ]  50% 10 B/20 B\n", "job      655…8b47 [========            ]  40% error\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in %q", want, b.String())
		}
	}
}

// TestProgressBatchTerminal: parallel uploads and downloads share one bar
// per phase, counting files and bytes of the whole batch.
func TestProgressBatchTerminal(t *testing.T) {
	var b bytes.Buffer
	p := newTestProgress(&b, true, false)
	batch := func(files int, done int64) *sdk.Batch {
		return &sdk.Batch{Files: files, Of: 3, Done: done, Total: 3000}
	}
	for _, e := range []sdk.ConvertEvent{
		{Phase: sdk.PhaseCreate, JobID: "job-1"},
		{Phase: sdk.PhaseUpload, File: "a.png", Done: 500, Total: 1000, Batch: batch(0, 500)},
		{Phase: sdk.PhaseUpload, File: "b.png", Done: 1000, Total: 1000, Batch: batch(1, 1500)},
		{Phase: sdk.PhaseUpload, File: "c.png", Done: 1000, Total: 1000, Batch: batch(2, 2500)},
		{Phase: sdk.PhaseUpload, File: "a.png", Done: 1000, Total: 1000, Batch: batch(3, 3000)},
		{Phase: sdk.PhaseDownload, File: "a.jpg", Done: 10, Total: -1, Batch: &sdk.Batch{Files: 0, Of: 2, Done: 10, Total: -1}},
		{Phase: sdk.PhaseDownload, File: "a.jpg", Done: 20, Total: 20, Batch: &sdk.Batch{Files: 1, Of: 2, Done: 20, Total: -1}},
		{Phase: sdk.PhaseDownload, File: "b.jpg", Done: 20, Total: 20, Batch: &sdk.Batch{Files: 2, Of: 2, Done: 40, Total: -1}},
	} {
		p.convertEvent(e)
	}
	p.close()
	var screen []string
	for _, l := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		parts := strings.Split(l, "\r\x1b[K")
		screen = append(screen, strings.TrimRight(parts[len(parts)-1], " "))
	}
	want := `created job job-1
upload   3/3 files                    [====================] 100% 3.0 kB/3.0 kB
download 2/2 files                    [====================] 100% 40 B`
	if got := strings.Join(screen, "\n"); got != want {
		t.Errorf("screen:\n%s\nwant:\n%s\nraw: %q", got, want, b.String())
	}
	if !strings.Contains(b.String(), "1/3 files                    [==========          ]  50% 1.5 kB/3.0 kB") {
		t.Errorf("no half-way batch bar in %q", b.String())
	}
}
