// Package gentest holds what the emitters' golden tests share: loading a
// small spec into the IR, and comparing an emitter's files with a golden
// directory in memory (go test -update rewrites the goldens).
package gentest

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/cctoolkit/cloudconvert/gen/ir"
	"github.com/cctoolkit/cloudconvert/gen/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files with what the emitters make now")

// GoldenSpec is the spec every emitter's golden test starts from, relative
// to an emitter package's folder.
const GoldenSpec = "../../testdata/golden/printshop.yaml"

// Load reads a spec (named by its base name in positions and headers) and
// builds its IR.
func Load(t testing.TB, path string) *ir.Integration {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := spec.Parse(filepath.Base(path), data)
	if err != nil {
		t.Fatal(err)
	}
	in, err := ir.Build(f)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// Golden compares files with the golden directory dir, both ways: a file
// missing from either side fails, and a differing file shows a diff.
func Golden(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	if *update {
		os.RemoveAll(dir)
		for p, b := range files {
			full := filepath.Join(dir, filepath.FromSlash(p))
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(full, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	var have []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			have = append(have, filepath.ToSlash(rel))
		}
		return nil
	})
	for _, p := range have {
		if _, ok := files[p]; !ok {
			t.Errorf("%s: the golden file is no longer made (run go test -update to accept)", p)
		}
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		want, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			t.Errorf("%s: made but has no golden file (run go test -update to accept)", p)
			continue
		}
		if string(want) != string(files[p]) {
			diff, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
				A: difflib.SplitLines(string(want)), B: difflib.SplitLines(string(files[p])),
				FromFile: "golden/" + p, ToFile: "made/" + p, Context: 2,
			})
			if len(diff) > 4000 {
				diff = diff[:4000] + "\n…"
			}
			t.Errorf("%s differs from its golden file (run go test -update to accept):\n%s", p, strings.TrimSpace(diff))
		}
	}
}
