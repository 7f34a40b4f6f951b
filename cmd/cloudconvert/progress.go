package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/mattn/go-isatty"

	"github.com/cctoolkit/cloudconvert/sdk"
)

// isTerminal says whether w is a terminal that can redraw a line; tests
// replace it.
var isTerminal = func(w io.Writer, getenv func(string) string) bool {
	f, ok := w.(interface{ Fd() uintptr })
	if !ok {
		return false
	}
	if getenv("TERM") == "dumb" {
		return false
	}
	fd := f.Fd()
	return isatty.IsTerminal(fd) || isatty.IsCygwinTerminal(fd)
}

// progress shows what convert and wait are doing, on stderr: on a
// terminal one bar per step, redrawn in place and left behind complete; otherwise
// plain lines, one per step that completes or status that changes, so
// logs stay readable.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	quiet bool
	width int // line width on a terminal
	now   func() time.Time

	// terminal state: the line being redrawn.
	key      string // phase + item of the current bar
	line     string // its last rendering
	drawn    time.Time
	finished bool // the current bar reached 100% and was left behind

	// plain state.
	said      map[string]bool   // lines already printed, by key
	jobStatus string            // last job status printed
	jobPct    int               // last job percent printed
	taskState map[string]string // task -> status printed
	sizes     map[string]int64  // uploaded file -> size (-1 unknown)
}

func newProgress(c *cli, quiet bool) *progress {
	p := &progress{w: c.stderr, quiet: quiet, width: 80, now: time.Now, said: map[string]bool{}, taskState: map[string]string{}, sizes: map[string]int64{}, jobPct: -1}
	p.tty = !quiet && isTerminal(c.stderr, c.getenv)
	if n, err := strconv.Atoi(c.getenv("COLUMNS")); err == nil && n >= 40 {
		p.width = min(n, 200)
	}
	return p
}

// convertEvent is sdk.ConvertRequest.Progress.
func (p *progress) convertEvent(e sdk.ConvertEvent) {
	if p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch e.Phase {
	case sdk.PhaseCreate:
		p.plainLine("job "+e.JobID, fmt.Sprintf("created job %s", e.JobID))
	case sdk.PhaseUpload, sdk.PhaseDownload:
		verb, label := "uploaded", "upload"
		name := fileBase(e.File)
		if e.Phase == sdk.PhaseDownload {
			verb, label = "downloaded", "download"
			name = e.File
		}
		if e.Phase == sdk.PhaseUpload {
			e.Done, e.Total = p.fileBytes(e.File, e.Done, e.Total)
		}
		key := label + " " + e.File
		complete := e.Total >= 0 && e.Done >= e.Total
		if p.tty && e.Batch != nil {
			// One bar for the whole batch: files run in parallel.
			b := e.Batch
			pct := percentOf(b.Done, b.Total)
			if b.Total < 0 && b.Of > 0 {
				pct = 100 * b.Files / b.Of
			}
			if b.Files >= b.Of {
				pct = 100
			}
			p.bar(label, label, fmt.Sprintf("%d/%d files", b.Files, b.Of), pct, sizeText(b.Done, b.Total), b.Files >= b.Of)
			return
		}
		if p.tty {
			pct := percentOf(e.Done, e.Total)
			if complete {
				pct = 100 // an empty file too
			}
			p.bar(key, label, name, pct, sizeText(e.Done, e.Total), complete)
			return
		}
		if complete {
			p.plainLine(key, fmt.Sprintf("%s %s (%s)", verb, name, humanize.Bytes(uint64(e.Done))))
		}
	case sdk.PhaseConvert:
		if e.Job != nil {
			p.job(*e.Job, "convert")
		}
	case sdk.PhaseDone:
		p.endLine()
	}
}

// fileBytes turns the bytes of an upload's multipart body (form fields,
// file, closing boundary) into bytes of the file, so sizes shown are the
// file's.
func (p *progress) fileBytes(path string, done, total int64) (int64, int64) {
	size, ok := p.sizes[path]
	if !ok {
		size = -1
		if st, err := os.Stat(path); err == nil {
			size = st.Size()
		}
		p.sizes[path] = size
	}
	if size < 0 || total < size {
		return done, total
	}
	return max(0, min(size, done-(total-size))), size
}

// waitProgress is sdk.WaitOptions.Progress for the wait command.
func (p *progress) waitProgress(pr sdk.Progress) {
	if p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.job(pr, "job")
}

// job shows a job's progress: a bar on a terminal, else a line per task
// status change and per job status or percent change.
func (p *progress) job(pr sdk.Progress, label string) {
	done := pr.Status == "finished" || pr.Status == "error"
	if p.tty {
		detail := pr.Status
		if t := activeTask(pr); t != "" && !done {
			detail += " (" + t + ")"
		}
		p.bar("job "+pr.JobID, label, pr.JobID, pr.Percent, detail, done)
		return
	}
	// Tasks that ended first, then those that started: the order they
	// happened in.
	tasks := slices.Clone(pr.Tasks)
	slices.SortStableFunc(tasks, func(a, b sdk.TaskProgress) int {
		return cmpBool(a.Status == "processing", b.Status == "processing")
	})
	for _, t := range tasks {
		name := t.Name
		if name == "" {
			name = t.ID
		}
		if p.taskState[t.ID] == t.Status || t.Status == "waiting" {
			continue
		}
		p.taskState[t.ID] = t.Status
		line := fmt.Sprintf("task %s (%s): %s", name, t.Operation, t.Status)
		if t.Status == "error" && (t.Code != "" || t.Message != "") {
			line += ": " + strings.TrimPrefix(t.Code+": "+t.Message, ": ")
		}
		fmt.Fprintln(p.w, line)
	}
	// Percent lines at most every 10 points, so a log stays short.
	if pr.Status != p.jobStatus || (pr.Percent >= p.jobPct+10 && !done) {
		p.jobStatus, p.jobPct = pr.Status, pr.Percent
		fmt.Fprintf(p.w, "job %s: %s %d%%\n", pr.JobID, pr.Status, pr.Percent)
	}
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// activeTask names the first processing task, for the bar.
func activeTask(pr sdk.Progress) string {
	for _, t := range pr.Tasks {
		if t.Status == "processing" {
			if t.Name != "" {
				return t.Name
			}
			return t.Operation
		}
	}
	return ""
}

// plainLine prints a line once per key; on a terminal it first leaves the
// current bar behind.
func (p *progress) plainLine(key, line string) {
	if p.said[key] {
		return
	}
	p.said[key] = true
	p.endLine()
	fmt.Fprintln(p.w, line)
}

// bar redraws the current line: "label  name  [=====     ]  42%  detail".
// A new key leaves the previous bar behind on its own line. Redraws are
// limited to 10 a second unless the bar completes.
func (p *progress) bar(key, label, name string, pct int, detail string, complete bool) {
	if key != p.key {
		p.endLine()
		p.key, p.finished = key, false
	} else if p.finished {
		return
	}
	now := p.now()
	if !complete && now.Sub(p.drawn) < 100*time.Millisecond && p.line != "" {
		return
	}
	pct = max(0, min(pct, 100))
	// label(8) name [bar] pct detail, within width-1 columns: the name
	// column shrinks first, then the detail is cut at its end.
	const barW, fixed, detailW = 20, 8 + 1 + 2 + 20 + 2 + 4 + 1, 21
	nameW := max(8, min(28, p.width-1-fixed-detailW))
	filled := barW * pct / 100
	line := fmt.Sprintf("%-8s %-*s [%s%s] %3d%% %s", label, nameW, ellipsize(name, nameW),
		strings.Repeat("=", filled), strings.Repeat(" ", barW-filled), pct, detail)
	if r := []rune(line); len(r) > p.width-1 {
		line = string(r[:p.width-1])
	}
	line = strings.TrimRight(line, " ")
	if line != p.line {
		fmt.Fprint(p.w, "\r\x1b[K"+line)
		p.line = line
	}
	p.drawn = now
	if complete {
		p.endLine()
		p.key, p.finished = key, true
	}
}

// endLine ends the bar being drawn, leaving it on screen.
func (p *progress) endLine() {
	if p.tty && p.line != "" {
		fmt.Fprintln(p.w)
	}
	p.line, p.key, p.finished = "", "", false
}

// close ends any bar in progress (call before printing results or errors).
func (p *progress) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.endLine()
}

func percentOf(done, total int64) int {
	if total <= 0 {
		return 0
	}
	return int(done * 100 / total)
}

func sizeText(done, total int64) string {
	if total < 0 {
		return humanize.Bytes(uint64(done))
	}
	return humanize.Bytes(uint64(done)) + "/" + humanize.Bytes(uint64(total))
}

// ellipsize shortens s to n runes with an ellipsis in the middle.
func ellipsize(s string, n int) string {
	r := []rune(s)
	if n <= 0 || len(r) <= n {
		return s
	}
	if n < 5 {
		return string(r[:n])
	}
	head := (n - 1) / 2
	return string(r[:head]) + "…" + string(r[len(r)-(n-1-head):])
}

func fileBase(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 && i < len(p)-1 {
		return p[i+1:]
	}
	return p
}
