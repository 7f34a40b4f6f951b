// Package gen is the generator: it loads integration specs, builds the IR,
// runs every emitter and writes or checks the files under generated/.
//
//	spec/<slug>.yaml -> spec.Load -> ir.Build -> emitters -> map[path][]byte
//
// Each emitter is a pure function returning a map of files; Write puts the
// map on disk and Check compares it with the tree.
package gen

import (
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cctoolkit/cloudconvert/gen/emit/descriptor"
	"github.com/cctoolkit/cloudconvert/gen/emit/docs"
	"github.com/cctoolkit/cloudconvert/gen/emit/goclient"
	"github.com/cctoolkit/cloudconvert/gen/emit/metadata"
	"github.com/cctoolkit/cloudconvert/gen/emit/openapi"
	"github.com/cctoolkit/cloudconvert/gen/ir"
	"github.com/cctoolkit/cloudconvert/gen/spec"
)

// Options says what to generate from where.
type Options struct {
	// Specs are the spec files, one per integration.
	Specs []string
	// Templates holds the docs templates (templates/).
	Templates fs.FS
	// ModulePath is the toolkit's Go module (its integration package), which
	// the generated packages import.
	ModulePath string
	// OutputModule is the module the generated packages live in, when it is
	// not ModulePath (an integration kept in a repository of its own).
	OutputModule string
	// OutDir is the output folder relative to the module root, normally
	// "generated"; each integration gets OutDir/<slug>/.
	OutDir string
	// Root is the folder spec paths are relative to ("" for the current one).
	Root string
	// OapiCodegenVersion is written in the Go client's header.
	OapiCodegenVersion string
}

func (o Options) outputModule() string {
	if o.OutputModule != "" {
		return o.OutputModule
	}
	return o.ModulePath
}

// Files maps slash-separated paths (relative to the module root) to contents.
type Files map[string][]byte

// Paths returns the paths in sorted order.
func (f Files) Paths() []string { return slices.Sorted(maps.Keys(f)) }

// Load reads and builds one spec into the IR.
func Load(specPath string) (*ir.Integration, error) {
	f, err := spec.Load(specPath)
	if err != nil {
		return nil, err
	}
	return ir.Build(f)
}

// load reads a spec at root/rel but names it rel in positions and headers.
func load(root, rel string) (*ir.Integration, error) {
	data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		return nil, fmt.Errorf("reading spec: %w", err)
	}
	f, err := spec.Parse(rel, data)
	if err != nil {
		return nil, err
	}
	return ir.Build(f)
}

// Generate runs every emitter over every spec.
func Generate(opts Options) (Files, error) {
	out := Files{}
	slugs := map[string]string{}
	for _, sp := range opts.Specs {
		in, err := load(opts.Root, sp)
		if err != nil {
			return nil, err
		}
		if prev, dup := slugs[in.Desc.Slug]; dup {
			return nil, fmt.Errorf("%s: integration slug %q is already used by %s", sp, in.Desc.Slug, prev)
		}
		slugs[in.Desc.Slug] = sp
		files, err := Integration(in, opts)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", sp, err)
		}
		maps.Copy(out, files)
	}
	return out, nil
}

// Integration runs the emitters for one integration.
func Integration(in *ir.Integration, opts Options) (Files, error) {
	dir := path.Join(opts.OutDir, in.Desc.Slug)
	out := Files{}
	add := func(files map[string][]byte) {
		for p, b := range files {
			out[path.Join(dir, p)] = b
		}
	}
	api, apiDocs, err := openapi.Emit(in)
	if err != nil {
		return nil, err
	}
	add(api)
	client, err := goclient.Emit(in, apiDocs, opts.OapiCodegenVersion)
	if err != nil {
		return nil, err
	}
	add(client)
	meta, err := metadata.Emit(in)
	if err != nil {
		return nil, err
	}
	add(meta)
	pages, err := docs.Emit(in, opts.Templates)
	if err != nil {
		return nil, err
	}
	add(pages)
	desc, err := descriptor.Emit(in, descriptor.Options{IntegrationImport: opts.ModulePath + "/integration"})
	if err != nil {
		return nil, err
	}
	add(desc)
	return out, nil
}

// Write puts files under root and removes files under root/outDir that are
// no longer generated.
func Write(root, outDir string, files Files) error {
	existing, err := listTree(root, outDir)
	if err != nil {
		return err
	}
	for _, p := range existing {
		if _, keep := files[p]; !keep {
			if err := os.Remove(filepath.Join(root, filepath.FromSlash(p))); err != nil {
				return fmt.Errorf("removing stale %s: %w", p, err)
			}
		}
	}
	for _, p := range files.Paths() {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return fmt.Errorf("writing %s: %w", p, err)
		}
		if old, err := os.ReadFile(full); err == nil && string(old) == string(files[p]) {
			continue // untouched files keep their times, so builds stay cached
		}
		if err := os.WriteFile(full, files[p], 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", p, err)
		}
	}
	return removeEmptyDirs(filepath.Join(root, filepath.FromSlash(outDir)))
}

// listTree lists the regular files under root/dir as slash paths relative
// to root.
func listTree(root, dir string) ([]string, error) {
	var out []string
	base := filepath.Join(root, filepath.FromSlash(dir))
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && p == base {
				return filepath.SkipDir
			}
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", dir, err)
	}
	return out, nil
}

func removeEmptyDirs(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	for _, e := range entries {
		if e.IsDir() {
			sub := filepath.Join(dir, e.Name())
			if err := removeEmptyDirs(sub); err != nil {
				return err
			}
			if rest, _ := os.ReadDir(sub); len(rest) == 0 {
				os.Remove(sub)
			}
		}
	}
	return nil
}

// Problem is one file that is out of sync.
type Problem struct {
	Path string
	Kind string // stale, missing or extra
	Diff string // for stale files
}

// StaleError lists every generated file that is out of sync.
type StaleError struct {
	Problems []Problem
	Fix      string // the command that fixes it
}

func (e *StaleError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "generated files are out of sync with the spec and templates (%d):\n", len(e.Problems))
	for _, p := range e.Problems {
		switch p.Kind {
		case "stale":
			fmt.Fprintf(&b, "  %s: stale (differs from what the generator makes now)\n%s", p.Path, indent(p.Diff))
		case "missing":
			fmt.Fprintf(&b, "  %s: missing (the generator makes it, the tree lacks it)\n", p.Path)
		case "extra":
			fmt.Fprintf(&b, "  %s: extra (the generator no longer makes it)\n", p.Path)
		}
	}
	fmt.Fprintf(&b, "Fix: run `%s` at the repository root and commit the result; never edit generated/ by hand.", e.Fix)
	return b.String()
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "      " + l
	}
	return strings.Join(lines, "\n") + "\n"
}

// FixCommand is what the sync check tells people to run.
const FixCommand = "go generate ./..."

// Check compares files with the tree under root/outDir. It returns a
// *StaleError listing every stale, missing or extra file.
func Check(root, outDir string, files Files) error {
	existing, err := listTree(root, outDir)
	if err != nil {
		return err
	}
	var problems []Problem
	for _, p := range files.Paths() {
		got, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(p)))
		switch {
		case os.IsNotExist(err):
			problems = append(problems, Problem{Path: p, Kind: "missing"})
		case err != nil:
			return fmt.Errorf("reading %s: %w", p, err)
		case string(got) != string(files[p]):
			problems = append(problems, Problem{Path: p, Kind: "stale", Diff: Diff(p, got, files[p])})
		}
	}
	for _, p := range existing {
		if _, ok := files[p]; !ok {
			problems = append(problems, Problem{Path: p, Kind: "extra"})
		}
	}
	if len(problems) > 0 {
		return &StaleError{Problems: problems, Fix: FixCommand}
	}
	return nil
}
