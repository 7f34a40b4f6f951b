package gen

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// TestCheckReportsEveryKindOfDrift writes a generated tree into a temporary
// folder, breaks it three ways, and expects each file to be named.
func TestCheckReportsEveryKindOfDrift(t *testing.T) {
	root := t.TempDir()
	files := Files{
		"generated/x/a.txt":    []byte("one\ntwo\n"),
		"generated/x/b/c.txt":  []byte("three\n"),
		"generated/x/gone.txt": []byte("four\n"),
	}
	if err := Write(root, "generated", files); err != nil {
		t.Fatal(err)
	}
	if err := Check(root, "generated", files); err != nil {
		t.Fatalf("a fresh write is out of sync: %v", err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(root, "generated/x/a.txt"), []byte("one\nTWO\n"), 0o644))
	must(os.Remove(filepath.Join(root, "generated/x/gone.txt")))
	must(os.WriteFile(filepath.Join(root, "generated/x/b/extra.go"), []byte("package b\n"), 0o644))

	err := Check(root, "generated", files)
	var stale *StaleError
	if !errors.As(err, &stale) {
		t.Fatalf("Check = %v, want a *StaleError", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"generated/x/a.txt: stale", "-TWO", "+two",
		"generated/x/gone.txt: missing",
		"generated/x/b/extra.go: extra",
		"Fix: run `go generate ./...`",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error does not say %q:\n%s", want, msg)
		}
	}

	// Writing again repairs everything, including removing the extra file.
	must(Write(root, "generated", files))
	if err := Check(root, "generated", files); err != nil {
		t.Fatalf("after Write: %v", err)
	}
}

// TestTemplateEditIsCaught renders with a changed template: the docs it
// feeds must come out different, so the sync check would name them.
func TestTemplateEditIsCaught(t *testing.T) {
	root, opts := repoOptions(t)
	mem := fstest.MapFS{}
	for _, name := range []string{"reference.md.tmpl", "integration.md.tmpl", "function.md.tmpl", "partials.md.tmpl", "errors.md.tmpl"} {
		data, err := os.ReadFile(filepath.Join(root, TemplatesDir, name))
		if err != nil {
			t.Fatal(err)
		}
		mem[name] = &fstest.MapFile{Data: data}
	}
	mem["reference.md.tmpl"].Data = append(mem["reference.md.tmpl"].Data, []byte("\nEdited.\n")...)
	opts.Templates = mem
	files, err := Generate(opts)
	if err != nil {
		t.Fatal(err)
	}
	err = Check(root, opts.OutDir, files)
	if err == nil || !strings.Contains(err.Error(), "generated/cloudconvert/docs/reference.md: stale") {
		t.Fatalf("a template edit was not caught: %v", err)
	}
}

// TestSpecEditIsCaught generates from an edited copy of the spec: the sync
// check against the committed tree must name the files the edit changes.
func TestSpecEditIsCaught(t *testing.T) {
	root, opts := repoOptions(t)
	data, err := os.ReadFile(filepath.Join(root, "spec/cloudconvert.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(data), "summary: Get details and status of a CloudConvert job by ID.", "summary: Get one job.", 1)
	if edited == string(data) {
		t.Fatal("the spec no longer has the summary this test edits")
	}
	tmp := t.TempDir()
	if err := os.MkdirAll(filepath.Join(tmp, "spec"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "spec/cloudconvert.yaml"), []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	opts.Root = tmp
	files, err := Generate(opts)
	if err != nil {
		t.Fatal(err)
	}
	err = Check(root, opts.OutDir, files)
	for _, want := range []string{"generated/cloudconvert/docs/reference.md: stale", "generated/cloudconvert/meta/metadata.json: stale", "generated/cloudconvert/openapi.yaml: stale", "+      summary: Get one job."} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("a spec edit was not reported as %q: %v", want, err)
		}
	}
}
