package gen

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// The repository layout the generator works in.
const (
	SpecDir      = "spec"
	TemplatesDir = "templates"
	OutDir       = "generated"
)

// FindRoot walks up from dir to the folder holding go.mod.
func FindRoot(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod in %s or above it; run the generator inside the repository", abs)
		}
	}
}

// RepoOptions are the options for the repository at root: every
// spec/*.yaml, templates/, and the module path from go.mod. Spec paths are
// relative to root, so generated headers do not depend on the checkout.
func RepoOptions(root string) (Options, error) {
	mod, err := modulePath(filepath.Join(root, "go.mod"))
	if err != nil {
		return Options{}, err
	}
	matches, err := filepath.Glob(filepath.Join(root, SpecDir, "*.yaml"))
	if err != nil {
		return Options{}, err
	}
	if len(matches) == 0 {
		return Options{}, fmt.Errorf("no spec files in %s; add %s/<integration>.yaml", filepath.Join(root, SpecDir), SpecDir)
	}
	slices.Sort(matches)
	specs := make([]string, len(matches))
	for i, m := range matches {
		rel, _ := filepath.Rel(root, m)
		specs[i] = filepath.ToSlash(rel)
	}
	return Options{
		Specs:      specs,
		Templates:  os.DirFS(filepath.Join(root, TemplatesDir)),
		ModulePath: mod,
		OutDir:     OutDir,
		Root:       root,
	}, nil
}

func modulePath(gomod string) (string, error) {
	data, err := os.ReadFile(gomod)
	if err != nil {
		return "", fmt.Errorf("reading go.mod: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`), nil
		}
	}
	return "", fmt.Errorf("%s has no module line", gomod)
}
