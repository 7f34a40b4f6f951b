package files

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// SaveOptions tune Save.
type SaveOptions struct {
	// Overwrite replaces a file of the same name instead of choosing a
	// free name.
	Overwrite bool
}

// maxNames bounds the search for a free name.
const maxNames = 10000

// PartPrefix starts the names of temporary files: hidden, so that a folder
// walk skips them, and recognisable.
const PartPrefix = "."

// Save writes a new file called name (a plain file name, see SanitizeName)
// into the folder dir (relative to root, "." for root itself), with what
// fill writes. The content goes to a hidden temporary file first, which
// then takes the name, or the first free one of name-1.ext, name-2.ext, ...:
// an existing file is never replaced (unless opts.Overwrite), and nothing
// half-written ever sits under a final name. When fill returns an error
// (a failed or cancelled download, say) or the write fails, the temporary
// file is removed. It returns the path written (relative to root) and its
// size. Durability across a power cut is not sought: there is no fsync.
func Save(root *os.Root, dir, name string, opts SaveOptions, fill func(io.Writer) error) (string, int64, error) {
	if name == "" || name != path.Base(name) || name == "." || name == ".." || strings.ContainsAny(name, `/\`) {
		return "", 0, fmt.Errorf("%q is not a plain file name", name)
	}
	tmp, f, err := createTemp(root, dir, name)
	if err != nil {
		return "", 0, err
	}
	cw := &countWriter{w: f}
	err = fill(cw)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		root.Remove(tmp)
		return "", cw.n, err
	}
	final, err := commit(root, dir, name, tmp, opts.Overwrite)
	if err != nil {
		root.Remove(tmp)
		return "", cw.n, err
	}
	return final, cw.n, nil
}

func createTemp(root *os.Root, dir, name string) (string, *os.File, error) {
	stem := name
	if len(stem) > 100 {
		stem = stem[:100]
	}
	for range 10 {
		var b [6]byte
		rand.Read(b[:])
		tmp := filepath.Join(dir, PartPrefix+stem+".part-"+hex.EncodeToString(b[:]))
		f, err := root.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", nil, err
		}
		return tmp, f, nil
	}
	return "", nil, fmt.Errorf("no free temporary name for %s in %s", name, dir)
}

// commit gives the temporary file its final name. A hard link fails when
// the name is taken, so two writers never take the same name; where links
// are not supported (some file systems), a check and a rename do.
func commit(root *os.Root, dir, name, tmp string, overwrite bool) (string, error) {
	if overwrite {
		final := filepath.Join(dir, name)
		return final, root.Rename(tmp, final)
	}
	links := true
	for i := range maxNames {
		final := filepath.Join(dir, NumberedName(name, i))
		if links {
			err := root.Link(tmp, final)
			if err == nil {
				root.Remove(tmp)
				return final, nil
			}
			if errors.Is(err, fs.ErrExist) {
				continue
			}
			links = false
		}
		if _, err := root.Lstat(final); !errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err := root.Rename(tmp, final); err != nil {
			return "", err
		}
		return final, nil
	}
	return "", fmt.Errorf("%s and %d numbered names after it are all taken in %s", name, maxNames, dir)
}

// NumberedName is name for n = 0, else name with -n before its extension:
// report.pdf -> report-2.pdf, archive.tar.gz -> archive-2.tar.gz.
func NumberedName(name string, n int) string {
	if n == 0 {
		return name
	}
	ext := path.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	if e2 := path.Ext(stem); strings.EqualFold(e2, ".tar") {
		ext = e2 + ext
		stem = strings.TrimSuffix(stem, e2)
	}
	if stem == "" { // ".png": keep the dot file's name whole
		stem, ext = name, ""
	}
	return stem + "-" + strconv.Itoa(n) + ext
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// SanitizeName makes a name given by a server safe to create in a folder:
// the last path element only, no control characters, no characters
// Windows forbids, no leading dots (no hidden files, no ".."), no trailing
// dots or spaces, at most 200 bytes (keeping the extension). It never
// returns "": fallback stands in for a name with nothing left.
func SanitizeName(name, fallback string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	name = path.Base(name)
	var b strings.Builder
	for _, r := range name {
		switch {
		case r == utf8.RuneError, unicode.IsControl(r), unicode.Is(unicode.Cf, r):
			continue
		case strings.ContainsRune(`<>:"/\|?*`, r):
			b.WriteRune('_')
		default:
			b.WriteRune(r)
		}
	}
	s := strings.TrimLeft(strings.TrimSpace(b.String()), ".")
	s = strings.TrimRight(s, ". ")
	if s == "" {
		if fallback == "" {
			fallback = "download"
		}
		return fallback
	}
	if reservedWindowsName(s) {
		s = "_" + s
	}
	const maxLen = 200
	if len(s) > maxLen {
		ext := path.Ext(s)
		if len(ext) > 20 {
			ext = ""
		}
		stem := s[:maxLen-len(ext)]
		for !utf8.ValidString(stem) {
			stem = stem[:len(stem)-1]
		}
		s = stem + ext
	}
	return s
}

func reservedWindowsName(s string) bool {
	stem := strings.ToUpper(strings.SplitN(s, ".", 2)[0])
	switch stem {
	case "CON", "PRN", "AUX", "NUL":
		return true
	}
	if len(stem) == 4 && (strings.HasPrefix(stem, "COM") || strings.HasPrefix(stem, "LPT")) && stem[3] >= '1' && stem[3] <= '9' {
		return true
	}
	return false
}
