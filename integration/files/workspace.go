// Package files handles the local side of file transfers for every surface:
// a Workspace that confines the paths a caller names to one folder (no
// "..", no absolute path elsewhere, no symbolic link out of it: os.Root
// enforces it), Save, which writes a file under a free name without ever
// leaving a half-written file under its final name, and the framing of a
// multipart/form-data upload whose length is known before it is sent.
//
// Nothing here is specific to one integration.
package files

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrOutside is matched (errors.Is) by the error of a path that leaves the
// workspace.
var ErrOutside = errors.New("the path leaves the workspace")

// PathError is a path the workspace refuses or cannot use.
type PathError struct {
	Path      string // as the caller gave it
	Workspace string
	Why       string
	Err       error // ErrOutside, fs.ErrNotExist, ...
}

func (e *PathError) Error() string {
	return fmt.Sprintf("%q %s", e.Path, e.Why)
}

func (e *PathError) Unwrap() error { return e.Err }

// Workspace is a folder that paths are confined to. Its methods are safe
// for concurrent use; each opens the folder anew (os.OpenRoot), so a
// workspace removed and made again still works.
type Workspace struct {
	dir  string // absolute
	real string // dir with its symbolic links resolved
}

// NewWorkspace makes the workspace of dir, which must be a folder.
func NewWorkspace(dir string) (*Workspace, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("workspace %s: %w", dir, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("workspace %s: %w", dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("workspace %s is not a folder", dir)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		real = abs
	}
	return &Workspace{dir: abs, real: real}, nil
}

// Dir is the workspace's absolute path.
func (w *Workspace) Dir() string { return w.dir }

// Rel turns a path the caller gave (relative to the workspace, or absolute
// and inside it) into a path relative to the workspace, "." for the
// workspace itself. It is lexical: symbolic links are checked when the path
// is used (Open, Root).
func (w *Workspace) Rel(p string) (string, error) {
	if p == "" {
		return "", &PathError{Path: p, Workspace: w.dir, Why: "is empty; give a path relative to the workspace " + w.dir, Err: fs.ErrInvalid}
	}
	if strings.ContainsRune(p, 0) {
		return "", &PathError{Path: p, Workspace: w.dir, Why: "contains a NUL byte", Err: fs.ErrInvalid}
	}
	if filepath.IsAbs(p) || filepath.VolumeName(p) != "" {
		c := filepath.Clean(p)
		for _, base := range []string{w.dir, w.real} {
			if rel, err := filepath.Rel(base, c); err == nil && filepath.IsLocal(rel) {
				return rel, nil
			}
			if c == base {
				return ".", nil
			}
		}
		return "", &PathError{Path: p, Workspace: w.dir, Why: "is outside the workspace " + w.dir + "; give a path inside it (relative paths start there)", Err: ErrOutside}
	}
	c := filepath.Clean(p)
	if c == "." {
		return ".", nil
	}
	if !filepath.IsLocal(c) {
		return "", &PathError{Path: p, Workspace: w.dir, Why: "leaves the workspace " + w.dir + " (it goes up with ..); give a path inside it", Err: ErrOutside}
	}
	return c, nil
}

// Root opens the workspace as an os.Root: every path opened through it
// stays inside, symbolic links included.
func (w *Workspace) Root() (*os.Root, error) {
	r, err := os.OpenRoot(w.dir)
	if err != nil {
		return nil, fmt.Errorf("opening the workspace %s: %w", w.dir, err)
	}
	return r, nil
}

// OpenFile opens the regular file at p for reading and returns it with its
// path relative to the workspace. Paths that leave the workspace, through
// ".." or a symbolic link, are refused before anything is read.
func (w *Workspace) OpenFile(p string) (*os.File, string, error) {
	rel, err := w.Rel(p)
	if err != nil {
		return nil, "", err
	}
	root, err := w.Root()
	if err != nil {
		return nil, "", err
	}
	defer root.Close()
	f, err := root.Open(rel)
	if err != nil {
		return nil, "", w.explain(root, p, rel, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, "", err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		what := "is not a regular file"
		if st.IsDir() {
			what = "is a folder, not a file"
		}
		return nil, "", &PathError{Path: p, Workspace: w.dir, Why: what, Err: fs.ErrInvalid}
	}
	return f, rel, nil
}

// Folder checks a folder the caller names (it may not exist yet): inside
// the workspace, not reached through a symbolic link that leads out, and a
// folder if it exists. It returns the path relative to the workspace.
func (w *Workspace) Folder(p string) (string, error) {
	rel, err := w.Rel(p)
	if err != nil {
		return "", err
	}
	root, err := w.Root()
	if err != nil {
		return "", err
	}
	defer root.Close()
	st, err := root.Stat(rel)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Made when used; a link out on the way is refused then too.
		return rel, nil
	case err != nil:
		return "", w.explain(root, p, rel, err)
	case !st.IsDir():
		return "", &PathError{Path: p, Workspace: w.dir, Why: "is a file, not a folder", Err: fs.ErrInvalid}
	}
	return rel, nil
}

// MkdirAll makes the folder rel (from Rel) inside the workspace, and its
// parents, refusing symbolic links that lead out.
func (w *Workspace) MkdirAll(root *os.Root, p, rel string) error {
	if rel == "." {
		return nil
	}
	if err := root.MkdirAll(rel, 0o755); err != nil {
		return w.explain(root, p, rel, err)
	}
	return nil
}

// explain turns an os.Root error into a PathError that says what is wrong.
func (w *Workspace) explain(root *os.Root, p, rel string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &PathError{Path: p, Workspace: w.dir, Why: "does not exist in the workspace " + w.dir, Err: fs.ErrNotExist}
	case errors.Is(err, fs.ErrPermission):
		return &PathError{Path: p, Workspace: w.dir, Why: "cannot be accessed (permission denied)", Err: fs.ErrPermission}
	}
	// os.Root refuses a path whose symbolic links lead out (or are
	// absolute). Say so when a component is a link.
	parts := strings.Split(rel, string(filepath.Separator))
	for i := range parts {
		sub := filepath.Join(parts[:i+1]...)
		st, lerr := root.Lstat(sub)
		if lerr != nil {
			break
		}
		if _, serr := root.Stat(sub); st.Mode()&fs.ModeSymlink != 0 && serr != nil {
			return &PathError{Path: p, Workspace: w.dir, Why: "goes through the symbolic link " + filepath.ToSlash(sub) + ", which leads out of the workspace " + w.dir + " (or is absolute); only links that stay inside it are followed", Err: ErrOutside}
		}
	}
	return &PathError{Path: p, Workspace: w.dir, Why: "cannot be used: " + err.Error(), Err: err}
}
