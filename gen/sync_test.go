package gen

import (
	"bytes"
	"testing"
)

// TestGeneratedInSync regenerates everything in memory and compares it with
// generated/: any stale, missing or extra file fails with a diff and the
// command that fixes it.
func TestGeneratedInSync(t *testing.T) {
	root, opts := repoOptions(t)
	files, err := Generate(opts)
	if err != nil {
		t.Fatalf("generation failed: %v", err)
	}
	if err := Check(root, opts.OutDir, files); err != nil {
		t.Fatal(err)
	}
}

// TestGenerationIsDeterministic runs the generator twice: the bytes must be
// identical.
func TestGenerationIsDeterministic(t *testing.T) {
	_, opts := repoOptions(t)
	a, err := Generate(opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(b) {
		t.Fatalf("two runs made %d and %d files", len(a), len(b))
	}
	for p, data := range a {
		if !bytes.Equal(data, b[p]) {
			t.Errorf("%s differs between two runs:\n%s", p, Diff(p, data, b[p]))
		}
	}
}

// repoOptions are the generator's options for this repository.
func repoOptions(t testing.TB) (root string, opts Options) {
	t.Helper()
	root, err := FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	opts, err = RepoOptions(root)
	if err != nil {
		t.Fatal(err)
	}
	return root, opts
}
