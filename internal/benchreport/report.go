package main

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchmath"
)

type report struct {
	started            time.Time
	took               time.Duration
	count              int
	command            string
	loadStart, loadEnd string
	cpu                string // as the test binaries report it
	raw                []byte
	benchstat          string
	skips, failures    []string
	lines              []line
}

// line is one row of the table, summarized.
type line struct {
	row
	sub                 string // the sub-benchmark, for perSub comparisons
	n                   int
	ratio               benchmath.Summary
	floorTime, sideTime float64 // medians, seconds per operation
	floorName, sideName string
	missing             bool
}

// result is the samples of one benchmark: unit -> values.
type result map[string][]float64

// analyze reads the raw output and summarizes every row.
func (r *report) analyze(selected []comparison) error {
	byBench := map[string]result{} // "pkg name" -> samples
	rd := benchfmt.NewReader(bytes.NewReader(r.raw), "results.txt")
	for rd.Scan() {
		res, ok := rd.Result().(*benchfmt.Result)
		if !ok {
			continue
		}
		if r.cpu == "" {
			r.cpu = res.GetConfig("cpu")
		}
		key := strings.TrimPrefix(res.GetConfig("pkg"), module) + " " + benchName(res.Name)
		if byBench[key] == nil {
			byBench[key] = result{}
		}
		for _, v := range res.Values {
			unit, value := v.Unit, v.Value
			if v.OrigUnit != "" {
				unit, value = v.OrigUnit, v.OrigValue
			}
			byBench[key][unit] = append(byBench[key][unit], value)
		}
	}
	if err := rd.Err(); err != nil {
		return err
	}
	keys := make([]string, 0, len(byBench))
	for k := range byBench {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, c := range selected {
		levels := strings.Split(c.bench, "/")
		var matched []string
		for _, k := range keys {
			pkg, name, _ := strings.Cut(k, " ")
			if pkg == c.pkg && matches(levels, name) {
				matched = append(matched, k)
			}
		}
		for _, rw := range c.rows {
			if len(matched) == 0 {
				r.lines = append(r.lines, line{row: rw, missing: true, floorTime: math.NaN(), sideTime: math.NaN()})
				continue
			}
			for _, k := range matched {
				l := summarize(rw, byBench[k])
				if c.perSub {
					_, name, _ := strings.Cut(k, " ")
					_, l.sub, _ = strings.Cut(name, "/")
				}
				r.lines = append(r.lines, l)
			}
		}
	}
	return nil
}

// benchName is the benchmark's name with "Benchmark" and without the
// GOMAXPROCS suffix: "GetJob/impl=paired".
func benchName(n benchfmt.Name) string {
	base, parts := n.Parts()
	var b strings.Builder
	b.Write(base)
	for _, p := range parts {
		if len(p) > 0 && p[0] == '-' {
			continue
		}
		b.Write(p)
	}
	return "Benchmark" + b.String()
}

// matches applies a -test.bench pattern level by level, as go test does.
func matches(levels []string, name string) bool {
	parts := strings.Split(name, "/")
	for i, l := range levels {
		if i >= len(parts) {
			return false
		}
		if ok, _ := regexp.MatchString(l, parts[i]); !ok {
			return false
		}
	}
	return true
}

func summarize(rw row, res result) line {
	side, floor, _ := strings.Cut(rw.metric, "/")
	l := line{row: rw, floorName: floor, sideName: side}
	values := slices.Clone(res[rw.metric])
	if len(values) == 0 {
		l.missing, l.floorTime, l.sideTime = true, math.NaN(), math.NaN()
		return l
	}
	if rw.throughput {
		for i, v := range values {
			values[i] = 1 / v
		}
	}
	l.n = len(values)
	l.ratio = benchmath.AssumeNothing.Summary(benchmath.NewSample(values, &benchmath.DefaultThresholds), 0.95)
	median := func(unit string) float64 {
		v := res[unit]
		if len(v) == 0 {
			return math.NaN()
		}
		return benchmath.AssumeNothing.Summary(benchmath.NewSample(v, &benchmath.DefaultThresholds), 0.95).Center / 1e9
	}
	l.floorTime, l.sideTime = median(floor+"-ns/op"), median(side+"-ns/op")
	return l
}

// target is the row's target as the table shows it.
func (l line) target() string {
	switch {
	case l.max == 0:
		return "—"
	case l.throughput:
		return fmt.Sprintf("≥ %.2gx", 1/l.max)
	}
	return fmt.Sprintf("≤ %.3gx", l.max)
}

// verdict compares the median with the target, and says when the
// confidence interval reaches across it.
func (l line) verdict() string {
	if l.missing {
		return "not measured"
	}
	if l.max == 0 {
		if l.label != "" {
			return l.label
		}
		return "no target (reported)"
	}
	limit := l.max
	good := func(x float64) bool { return x <= limit }
	if l.throughput {
		limit = 1 / l.max
		good = func(x float64) bool { return x >= limit }
	}
	v := "**misses**"
	if good(l.ratio.Center) {
		v = "meets"
	}
	if !math.IsInf(l.ratio.Lo, 0) && !math.IsInf(l.ratio.Hi, 0) && good(l.ratio.Lo) != good(l.ratio.Hi) {
		v += " (the CI reaches across the target)"
	}
	return v
}

func (l line) ratioText() string {
	if l.missing {
		return "—"
	}
	s := fmt.Sprintf("**%.3gx**", l.ratio.Center)
	if math.IsInf(l.ratio.Lo, 0) || math.IsInf(l.ratio.Hi, 0) {
		return s + fmt.Sprintf(" (n=%d, too few for a CI)", l.n)
	}
	return s + fmt.Sprintf(" [%.3g, %.3g] n=%d", l.ratio.Lo, l.ratio.Hi, l.n)
}

func perOp(sec float64) string {
	if math.IsNaN(sec) {
		return "—"
	}
	return duration(sec) + "/op"
}

func duration(sec float64) string {
	switch {
	case math.IsNaN(sec):
		return "—"
	case sec >= 1:
		return fmt.Sprintf("%.3g s", sec)
	case sec >= 1e-3:
		return fmt.Sprintf("%.3g ms", sec*1e3)
	case sec >= 1e-6:
		return fmt.Sprintf("%.3g µs", sec*1e6)
	}
	return fmt.Sprintf("%.3g ns", sec*1e9)
}

func (r *report) markdown() []byte {
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# Benchmarks\n\n")
	p("Written by `make bench` (`internal/benchreport`); do not edit it by hand, rerun it. Figures quoted in the README,\n")
	p("the notes and the issues come from this file.\n\n")
	cpu := cpuModel()
	if r.cpu != "" && r.cpu != cpu {
		cpu = strings.TrimSpace(fmt.Sprintf("%s (Go reports %q)", cpu, strings.TrimSpace(r.cpu)))
	}
	p("- **Date:** %s\n", r.started.UTC().Format("2006-01-02 15:04 UTC"))
	p("- **Machine:** %s, %d cores (GOMAXPROCS %d), %s; 1-minute load average %s at the start, %s at the end\n",
		cpu, runtime.NumCPU(), runtime.GOMAXPROCS(0), goVersion(), orDash(r.loadStart), orDash(r.loadEnd))
	p("- **Command:** %s, %d rounds; it took %s\n", r.command, r.count, r.took.Round(time.Second))
	p("- **Method:** every comparison is a paired benchmark (`internal/benchpair`): the floor and the measured side run in\n")
	p("  turn inside every iteration, in rotating order, so load from other processes weighs on both alike and the ratio\n")
	p("  holds where absolute times do not. Each round runs every comparison once (`-test.count 1`); the ratio of each\n")
	p("  run is one sample, summarized as benchstat does (median, 95%% confidence interval). Absolute times are medians\n")
	p("  of the same runs and move with the machine's load; the ratios are the figures.\n\n")

	p("## Ratios\n\n")
	p("A ratio is the measured side's time over the floor's (lower is better), except the local server's GET, which is\n")
	p("its throughput over the floor's (higher is better). Each floor is explained in its benchmark's doc comment.\n\n")
	p("| Comparison | Floor | Target | Ratio (median [95%% CI]) | Floor | Measured | Verdict |\n")
	p("|---|---|---|---|---|---|---|\n")
	for _, l := range r.lines {
		what := l.what
		if l.sub != "" {
			what += ": `" + l.sub + "`"
		}
		p("| %s | %s | %s | %s | %s | %s | %s |\n", what, l.floor, l.target(), l.ratioText(),
			perOp(l.floorTime), perOp(l.sideTime), l.verdict())
	}
	p("\n")
	if len(r.skips) > 0 || len(r.failures) > 0 {
		p("## Skipped and failed\n\n")
		for _, s := range r.skips {
			p("- skipped: %s\n", s)
		}
		for _, f := range r.failures {
			p("- failed: %s\n", strings.ReplaceAll(strings.TrimSpace(f), "\n", "\n  "))
		}
		p("\n")
	}
	p("## Raw benchstat output\n\n")
	p("`benchstat results.txt` over the raw output of all rounds (`-raw` keeps it). Units `<side>-sec/op` are one\n")
	p("side's time per operation, `<side>/<floor>` the ratio of a run; `sec/op` of a paired benchmark is 0 by design.\n\n")
	p("```text\n%s```\n", r.benchstat)
	return b.Bytes()
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
