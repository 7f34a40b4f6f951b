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
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return Options{}, fmt.Errorf("reading go.mod: %w", err)
	}
	mod, err := modulePath(gomod)
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
		// The client's header names oapi-codegen's version: take it from
		// go.mod so that it does not depend on how ccgen was built.
		OapiCodegenVersion: requiredVersion(gomod, "github.com/oapi-codegen/oapi-codegen/v2"),
	}, nil
}

func modulePath(gomod []byte) (string, error) {
	for _, line := range strings.Split(string(gomod), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`), nil
		}
	}
	return "", fmt.Errorf("go.mod has no module line")
}

// requiredVersion finds the version go.mod requires of a module, or "".
func requiredVersion(gomod []byte, module string) string {
	for _, line := range strings.Split(string(gomod), "\n") {
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if len(fields) >= 2 && fields[0] == module {
			return fields[1]
		}
	}
	return ""
}
