// Command benchreport runs every benchmark comparison of the project
// (comparisons.go) several times, interleaved, and writes
// docs/benchmarks.md: one table of ratios with the machine, the date, the
// command and the raw benchstat output. `make bench` runs it.
//
// Each comparison is a paired benchmark (internal/benchpair: both sides in
// turn inside every iteration). The test binaries are built once; then
// every round runs each comparison once (-test.count 1), so that several
// rounds spread each comparison over the whole run, and a slow minute of
// the machine weighs on one sample of each rather than on all samples of
// one. The ratios are summarized as benchstat does (median, 95% confidence
// interval, golang.org/x/perf/benchmath).
//
//	go run ./internal/benchreport [-count 8] [-only regexp] [-out docs/benchmarks.md] [-raw file] [-from file]
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"
)

const module = "github.com/cctoolkit/cloudconvert/"

func main() {
	count := flag.Int("count", 8, "rounds: samples of every comparison (6 or more for a confidence interval)")
	only := flag.String("only", "", "run only the comparisons whose id matches this regexp (ids: "+ids()+")")
	out := flag.String("out", "docs/benchmarks.md", "the report to write, relative to the repository root")
	rawOut := flag.String("raw", "", "also write the raw benchmark output to this file")
	from := flag.String("from", "", "write the report from this raw benchmark output instead of running")
	timeout := flag.Duration("timeout", 10*time.Minute, "the limit of one benchmark run")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, options{count: *count, only: *only, out: *out, rawOut: *rawOut, from: *from, timeout: *timeout}); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

type options struct {
	count        int
	only, out    string
	rawOut, from string
	timeout      time.Duration
}

func ids() string {
	var l []string
	for _, c := range comparisons {
		l = append(l, c.id)
	}
	return strings.Join(l, ", ")
}

func run(ctx context.Context, o options) error {
	if o.count < 1 {
		return fmt.Errorf("-count %d: at least 1", o.count)
	}
	root, err := repoRoot()
	if err != nil {
		return err
	}
	selected := comparisons
	if o.only != "" {
		re, err := regexp.Compile(o.only)
		if err != nil {
			return fmt.Errorf("-only: %w", err)
		}
		selected = slices.DeleteFunc(slices.Clone(comparisons), func(c comparison) bool { return !re.MatchString(c.id) })
		if len(selected) == 0 {
			return fmt.Errorf("-only %q matches no comparison (ids: %s)", o.only, ids())
		}
	}
	tmp, err := os.MkdirTemp("", "benchreport-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	rep := report{started: time.Now(), count: o.count, loadStart: loadAverage(), command: commandLine(o)}
	if o.from != "" {
		if rep.raw, err = os.ReadFile(o.from); err != nil {
			return err
		}
	} else {
		if err := build(ctx, root, tmp, selected); err != nil {
			return err
		}
		if err := rounds(ctx, root, tmp, selected, o, &rep); err != nil {
			return err
		}
	}
	rep.took = time.Since(rep.started)
	rep.loadEnd = loadAverage()
	if o.rawOut != "" {
		if err := os.WriteFile(o.rawOut, rep.raw, 0o644); err != nil {
			return err
		}
	}
	if rep.benchstat, err = benchstat(ctx, root, tmp, rep.raw); err != nil {
		return err
	}
	if err := rep.analyze(selected); err != nil {
		return err
	}
	path := o.out
	if !filepath.IsAbs(path) {
		path = filepath.Join(root, path)
	}
	if err := os.WriteFile(path, rep.markdown(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "benchreport: wrote %s in %s\n", path, rep.took.Round(time.Second))
	if len(rep.failures) > 0 {
		return fmt.Errorf("%d benchmark runs failed (listed in %s)", len(rep.failures), o.out)
	}
	return nil
}

// commandLine is how the report says it was made, as Markdown.
func commandLine(o options) string {
	args := []string{"go run ./internal/benchreport", fmt.Sprintf("-count %d", o.count)}
	if o.only != "" {
		args = append(args, fmt.Sprintf("-only '%s'", o.only))
	}
	if o.from != "" {
		args = append(args, "-from "+o.from)
	}
	cmd := "`" + strings.Join(args, " ") + "`"
	if o.only == "" && o.from == "" {
		return fmt.Sprintf("`make bench BENCH_COUNT=%d` (runs %s)", o.count, cmd)
	}
	return cmd
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module "+strings.TrimSuffix(module, "/"))) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the repository (no go.mod of " + strings.TrimSuffix(module, "/") + " above the working directory)")
		}
		dir = parent
	}
}

// build compiles the test binaries of the selected comparisons, the CLI
// binary (for BenchmarkProcess) and benchstat, once.
func build(ctx context.Context, root, tmp string, selected []comparison) error {
	var pkgs []string
	for _, c := range selected {
		if p := "./" + c.pkg; !slices.Contains(pkgs, p) {
			pkgs = append(pkgs, p)
		}
	}
	steps := [][]string{
		append([]string{"go", "test", "-c", "-o", tmp + string(filepath.Separator)}, pkgs...),
		{"go", "build", "-o", filepath.Join(tmp, "benchstat"), "golang.org/x/perf/cmd/benchstat"},
	}
	if slices.Contains(pkgs, "./cmd/cloudconvert") {
		steps = append(steps, []string{"go", "build", "-o", filepath.Join(tmp, "cloudconvert"), "./cmd/cloudconvert"})
	}
	for _, s := range steps {
		fmt.Fprintf(os.Stderr, "benchreport: %s\n", strings.Join(s, " "))
		cmd := exec.CommandContext(ctx, s[0], s[1:]...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w\n%s", strings.Join(s, " "), err, out)
		}
	}
	return nil
}

// testBinary is where go test -c -o dir/ put the package's test binary.
func testBinary(tmp, pkg string) string {
	return filepath.Join(tmp, filepath.Base(pkg)+".test")
}

// rounds runs every comparison once per round.
func rounds(ctx context.Context, root, tmp string, selected []comparison, o options, rep *report) error {
	env := append(os.Environ(),
		"CCTOOLKIT_TEST_PDFIUM_CACHE="+filepath.Join(tmp, "pdfium-cache"), // compiled once for the whole run
		"CCTOOLKIT_BENCH_CLI="+filepath.Join(tmp, "cloudconvert"))
	var raw bytes.Buffer
	for round := 1; round <= o.count; round++ {
		for _, c := range selected {
			if err := ctx.Err(); err != nil {
				return err
			}
			start := time.Now()
			rctx, cancel := context.WithTimeout(ctx, o.timeout)
			cmd := exec.CommandContext(rctx, testBinary(tmp, c.pkg), "-test.run", "^$", "-test.bench", c.bench,
				"-test.benchtime", c.benchtime, "-test.count", "1", "-test.timeout", o.timeout.String())
			cmd.Dir = filepath.Join(root, filepath.FromSlash(c.pkg))
			cmd.Env = env
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			cancel()
			raw.Write(stdout.Bytes())
			lines := strings.Split(stdout.String(), "\n")
			for i, line := range lines {
				if strings.Contains(line, "--- SKIP") && round == 1 {
					why := strings.TrimSpace(line)
					if i+1 < len(lines) {
						why += ": " + strings.TrimSpace(lines[i+1])
					}
					rep.skips = append(rep.skips, c.id+": "+why)
				}
			}
			if err != nil {
				rep.failures = append(rep.failures, fmt.Sprintf("%s (round %d): %v\n%s%s", c.id, round, err, tail(stdout.String(), 20), tail(stderr.String(), 20)))
			}
			fmt.Fprintf(os.Stderr, "benchreport: round %d/%d %-11s %s\n", round, o.count, c.id, time.Since(start).Round(100*time.Millisecond))
		}
	}
	rep.raw = raw.Bytes()
	return nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if len(lines) == 1 && lines[0] == "" {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

// benchstat is benchstat's own summary of the raw output.
func benchstat(ctx context.Context, root, tmp string, raw []byte) (string, error) {
	f := filepath.Join(tmp, "results.txt")
	if err := os.WriteFile(f, raw, 0o644); err != nil {
		return "", err
	}
	bin := filepath.Join(tmp, "benchstat")
	var cmd *exec.Cmd
	if _, err := os.Stat(bin); err == nil {
		cmd = exec.CommandContext(ctx, bin, f)
	} else {
		cmd = exec.CommandContext(ctx, "go", "run", "golang.org/x/perf/cmd/benchstat", f)
	}
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("benchstat: %w", err)
	}
	return strings.ReplaceAll(string(out), f, "results.txt"), nil
}

// loadAverage is the 1-minute load average, or "" where there is none.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return ""
}

// cpuModel is the processor's name from /proc/cpuinfo, "" elsewhere.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func goVersion() string { return runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH }
