package main

import (
	"fmt"
	"strings"
	"testing"
)

// rawRuns is benchmark output as the rounds collect it: n runs of a
// throughput comparison and of a per-sub comparison.
func rawRuns(n int) []byte {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "goos: linux\npkg: %slocalserver\ncpu: Test CPU\n", module)
		fmt.Fprintf(&b, "BenchmarkGetJob-2 \t 100\t 80000 bytes-ns/op\t 100000 server-ns/op\t %.3f server/bytes\t 0 ns/op\nPASS\n", 1.25+0.01*float64(i%3))
		fmt.Fprintf(&b, "pkg: %sluaruntime/safelib\n", module)
		fmt.Fprintf(&b, "BenchmarkStringFunctions/find-2 \t 200\t 1000 gopher-ns/op\t 500 safelib-ns/op\t 0.5 safelib/gopher\t 0 ns/op\n")
		fmt.Fprintf(&b, "BenchmarkStringFunctions/rep-2 \t 200\t 1000 gopher-ns/op\t 2000 safelib-ns/op\t 2 safelib/gopher\t 0 ns/op\nPASS\n")
		// A benchmark of the same name in another package is not mixed in.
		fmt.Fprintf(&b, "pkg: %ssdk\nBenchmarkGetJob-2 \t 100\t 1 bytes-ns/op\t 1 server-ns/op\t 9 server/bytes\t 0 ns/op\nPASS\n", module)
	}
	return []byte(b.String())
}

func TestAnalyze(t *testing.T) {
	selected := []comparison{
		{pkg: "localserver", bench: "^BenchmarkGetJob$", rows: []row{{what: "get", metric: "server/bytes", max: 1 / 0.6, throughput: true}}},
		{pkg: "luaruntime/safelib", bench: "^BenchmarkStringFunctions$", perSub: true, rows: []row{{what: "strings", metric: "safelib/gopher"}}},
		{pkg: "gen", bench: "^BenchmarkGeneration$/^impl=paired$", rows: []row{{what: "gen", metric: "pipeline/oapi-codegen", max: 1.5}}},
	}
	r := &report{raw: rawRuns(6)}
	if err := r.analyze(selected); err != nil {
		t.Fatal(err)
	}
	if len(r.lines) != 4 {
		t.Fatalf("%d lines, want 4: %+v", len(r.lines), r.lines)
	}
	get := r.lines[0]
	if get.n != 6 || get.ratio.Center < 0.78 || get.ratio.Center > 0.80 || get.verdict() != "meets" || get.target() != "≥ 0.6x" {
		t.Errorf("GET: n=%d ratio %v verdict %q target %q", get.n, get.ratio, get.verdict(), get.target())
	}
	if get.floorTime != 80e-6 || get.sideTime != 100e-6 {
		t.Errorf("GET times: %v %v", get.floorTime, get.sideTime)
	}
	if r.lines[1].sub != "find" || r.lines[1].ratio.Center != 0.5 || r.lines[2].sub != "rep" || r.lines[2].ratio.Center != 2 {
		t.Errorf("per-sub rows: %+v %+v", r.lines[1], r.lines[2])
	}
	if !r.lines[3].missing || r.lines[3].verdict() != "not measured" {
		t.Errorf("a comparison without results: %+v", r.lines[3])
	}
	if r.cpu != "Test CPU" {
		t.Errorf("cpu %q", r.cpu)
	}
	md := string(r.markdown())
	for _, want := range []string{"| get |", "**0.794x** [", "`find`", "| gen |  | ≤ 1.5x | — | — | — | not measured |"} {
		if !strings.Contains(md, want) {
			t.Errorf("the report has no %q:\n%s", want, md)
		}
	}
}

func TestVerdict(t *testing.T) {
	for _, c := range []struct {
		l    line
		want string
	}{
		{line{row: row{max: 1.5}, n: 6}, "meets"},
		{line{row: row{max: 1.1}, n: 6}, "**misses**"},
		{line{row: row{max: 1 / 0.6, throughput: true}, n: 6}, "meets"},
		{line{row: row{max: 1 / 1.18, throughput: true}, n: 6}, "meets (the CI reaches across the target)"},
		{line{row: row{max: 1 / 1.3, throughput: true}, n: 6}, "**misses**"},
		{line{row: row{label: "typed"}, n: 6}, "typed"},
	} {
		c.l.ratio.Center, c.l.ratio.Lo, c.l.ratio.Hi = 1.2, 1.15, 1.25
		if got := c.l.verdict(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.l.row, got, c.want)
		}
	}
	l := line{row: row{max: 1.2}, n: 6}
	l.ratio.Center, l.ratio.Lo, l.ratio.Hi = 1.19, 1.1, 1.3
	if got := l.verdict(); got != "meets (the CI reaches across the target)" {
		t.Errorf("CI across the target: %q", got)
	}
}

func TestMatches(t *testing.T) {
	for _, c := range []struct {
		pattern, name string
		want          bool
	}{
		{"^BenchmarkGetJob$", "BenchmarkGetJob", true},
		{"^BenchmarkGetJob$", "BenchmarkGetJobs", false},
		{"^BenchmarkGetJob$/^impl=paired$", "BenchmarkGetJob/impl=paired", true},
		{"^BenchmarkGetJob$/^impl=paired$", "BenchmarkGetJob/impl=lua", false},
		{"^BenchmarkGetJob$/^impl=paired$", "BenchmarkGetJob", false},
		{"^BenchmarkPDFToPNG$/^pages=1$", "BenchmarkPDFToPNG/pages=1", true},
		{"^BenchmarkExecute$", "BenchmarkExecute/calls", true},
	} {
		if got := matches(strings.Split(c.pattern, "/"), c.name); got != c.want {
			t.Errorf("matches(%q, %q) = %v", c.pattern, c.name, got)
		}
	}
}
