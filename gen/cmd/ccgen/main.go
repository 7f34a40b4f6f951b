// Command ccgen generates everything under generated/ from the specs in
// spec/ and the templates in templates/, or, with -check, verifies that
// generated/ is in sync with them.
//
//	go run ./gen/cmd/ccgen          # regenerate (what `go generate ./...` runs)
//	go run ./gen/cmd/ccgen -check   # exit 1 with a diff when out of sync
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/cctoolkit/cloudconvert/gen"
)

func main() {
	check := flag.Bool("check", false, "verify generated/ instead of writing it; exit 1 when out of sync")
	root := flag.String("root", "", "repository root (default: the folder with go.mod above the current one)")
	flag.Parse()
	if err := run(*root, *check); err != nil {
		fmt.Fprintln(os.Stderr, "ccgen:", err)
		var stale *gen.StaleError
		if errors.As(err, &stale) {
			os.Exit(1)
		}
		os.Exit(2)
	}
}

func run(root string, check bool) error {
	if root == "" {
		r, err := gen.FindRoot(".")
		if err != nil {
			return err
		}
		root = r
	}
	opts, err := gen.RepoOptions(root)
	if err != nil {
		return err
	}
	files, err := gen.Generate(opts)
	if err != nil {
		return err
	}
	if check {
		if err := gen.Check(root, opts.OutDir, files); err != nil {
			return err
		}
		fmt.Printf("ccgen: %d generated files are in sync\n", len(files))
		return nil
	}
	if err := gen.Write(root, opts.OutDir, files); err != nil {
		return err
	}
	fmt.Printf("ccgen: wrote %d files under %s/\n", len(files), opts.OutDir)
	return nil
}
