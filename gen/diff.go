package gen

import (
	"fmt"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
)

// maxDiffLines keeps a diff readable when a whole file changed.
const maxDiffLines = 40

// Diff is a unified diff from the file on disk to what the generator makes.
func Diff(name string, onDisk, generated []byte) string {
	d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A:        difflib.SplitLines(string(onDisk)),
		B:        difflib.SplitLines(string(generated)),
		FromFile: name + " (on disk)",
		ToFile:   name + " (generated)",
		Context:  2,
	})
	if err != nil {
		return "(no diff: " + err.Error() + ")"
	}
	lines := difflib.SplitLines(d)
	if len(lines) > maxDiffLines {
		extra := len(lines) - maxDiffLines
		lines = append(lines[:maxDiffLines], fmt.Sprintf("... (%d more diff lines)\n", extra))
	}
	return strings.Join(lines, "")
}
