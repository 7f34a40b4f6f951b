// Command testreport reads `go test -json` events on stdin and prints what
// CI needs to see: each package's result, the output of every failed test,
// and the list of skipped tests with their reasons. It exits 1 when a test
// failed, or when a test skipped for want of an external engine (Chromium,
// LibreOffice) that is installed on this machine: an installed engine must
// be tested.
//
//	go test -race -json ./localserver/... | go run ./internal/testreport
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

type key struct{ pkg, test string }

func main() {
	os.Exit(run(os.Stdin, os.Stdout))
}

func run(in io.Reader, out io.Writer) int {
	output := map[key][]string{}
	var failed, skipped []key
	var pkgs []string
	pkgResult := map[string]string{}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil {
			// Build errors and the like come as plain text.
			fmt.Fprintln(out, string(line))
			continue
		}
		k := key{e.Package, e.Test}
		switch e.Action {
		case "output":
			if len(output[k]) < 2000 {
				output[k] = append(output[k], e.Output)
			}
		case "fail":
			if e.Test != "" {
				failed = append(failed, k)
			} else {
				pkgResult[e.Package] = fmt.Sprintf("FAIL\t%s\t%.1fs", e.Package, e.Elapsed)
				pkgs = append(pkgs, e.Package)
			}
		case "skip":
			if e.Test != "" {
				skipped = append(skipped, k)
			}
		case "pass":
			if e.Test == "" {
				pkgResult[e.Package] = fmt.Sprintf("ok\t%s\t%.1fs", e.Package, e.Elapsed)
				pkgs = append(pkgs, e.Package)
			}
		}
	}
	sort.Strings(pkgs)
	for _, p := range pkgs {
		fmt.Fprintln(out, pkgResult[p])
	}
	for _, k := range failed {
		fmt.Fprintf(out, "\n--- FAIL: %s %s\n%s", k.pkg, k.test, strings.Join(output[k], ""))
	}
	if len(failed) == 0 {
		for _, p := range pkgs {
			if strings.HasPrefix(pkgResult[p], "FAIL") {
				fmt.Fprintf(out, "\n--- FAIL: %s\n%s", p, strings.Join(output[key{p, ""}], ""))
			}
		}
	}
	installed := installedEngines()
	bad := 0
	fmt.Fprintf(out, "\nSkipped tests (%d):\n", len(skipped))
	sort.Slice(skipped, func(i, j int) bool {
		if skipped[i].pkg != skipped[j].pkg {
			return skipped[i].pkg < skipped[j].pkg
		}
		return skipped[i].test < skipped[j].test
	})
	for _, k := range skipped {
		reason := skipReason(output[k])
		mark := ""
		for name, words := range installed {
			for _, w := range words {
				if strings.Contains(strings.ToLower(reason), w) {
					mark = "  <- " + name + " is installed: this test must run"
				}
			}
		}
		if mark != "" {
			bad++
		}
		fmt.Fprintf(out, "  %s %s: %s%s\n", strings.TrimPrefix(k.pkg, "github.com/cctoolkit/cloudconvert/"), k.test, reason, mark)
	}
	fmt.Fprintf(out, "\n%s: %d packages, %d failed tests, %d skipped (%d of them for an installed engine)\n",
		time.Now().Format(time.RFC3339), len(pkgs), len(failed), len(skipped), bad)
	for _, p := range pkgs {
		if strings.HasPrefix(pkgResult[p], "FAIL") {
			return 1
		}
	}
	if len(failed) > 0 || bad > 0 {
		return 1
	}
	return 0
}

// skipReason is the message the test gave t.Skip: the last output line
// before the SKIP line.
func skipReason(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l == "" || strings.HasPrefix(l, "--- SKIP") || strings.HasPrefix(l, "=== ") {
			continue
		}
		return l
	}
	return "(no reason given)"
}

// installedEngines are the external programs on this machine, with the
// words a skip reason would name them by.
func installedEngines() map[string][]string {
	out := map[string][]string{}
	for _, e := range []struct {
		name  string
		bins  []string
		words []string
	}{
		{"Chromium", []string{"chromium", "chromium-browser", "google-chrome"}, []string{"chromium", "chrome"}},
		{"LibreOffice", []string{"soffice", "libreoffice"}, []string{"libreoffice", "soffice"}},
	} {
		for _, b := range e.bins {
			if _, err := exec.LookPath(b); err == nil {
				out[e.name] = e.words
				break
			}
		}
	}
	return out
}
