package engine

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// extract writes every file of each zip, tar or tar.gz input as one
// result, named after the entry, with the entry's folder in File.Dir.
//
// Nothing from the archive becomes a path on disk: results are written
// under numbered names in OutDir, so a hostile entry name cannot escape
// it. Entries that would escape on a naive extractor (zip-slip: "..",
// absolute paths), links and device files are refused all the same, with
// the whole archive, since the archive is not what it pretends to be. The
// entry count and the bytes written are capped (Limits), the bytes
// counted as they are decompressed.
func (r *Registry) extract(ctx context.Context, req Request, progress func(int)) (Result, error) {
	lim := r.limitsFor(req)
	x := &extractor{ctx: ctx, lim: lim, dir: req.OutDir, seen: map[string]bool{}}
	for i, in := range req.Inputs {
		format := sniffFormat(in.Path)
		if format != "zip" && format != "tar" && format != "tar.gz" {
			return x.fail(newError(CodeInvalidFile, nil, "%s is not a zip, tar or tar.gz archive", displayName(in)))
		}
		x.display = displayName(in)
		var err error
		if format == "zip" {
			err = x.zip(in.Path)
		} else {
			err = x.tar(in.Path, format == "tar.gz")
		}
		if err != nil {
			return x.fail(err)
		}
		progress((i + 1) * 100 / (len(req.Inputs) + 1))
	}
	return Result{Files: x.files, Engine: engineArchive, EngineVersion: goVersion()}, nil
}

type extractor struct {
	ctx     context.Context
	lim     Limits
	dir     string
	display string // the archive, for messages
	seen    map[string]bool
	entries int
	written int64
	files   []File
}

// fail removes what was extracted and returns err.
func (x *extractor) fail(err error) (Result, error) {
	for _, f := range x.files {
		os.Remove(f.Path)
	}
	if cerr := x.ctx.Err(); cerr != nil {
		return Result{}, cerr
	}
	return Result{}, err
}

// count counts one more entry against the cap.
func (x *extractor) count() error {
	if x.entries++; x.entries > x.lim.MaxArchiveEntries {
		return newError(CodeInvalidFile, nil, "%s has more than %d entries, the limit of archive/extract", x.display, x.lim.MaxArchiveEntries)
	}
	return x.ctx.Err()
}

// tooBig is the error for an archive that unpacks to more than the cap.
func (x *extractor) tooBig() error {
	return newError(CodeInvalidFile, nil, "%s unpacks to more than %s, the limit of archive/extract", x.display, human(x.lim.MaxExtractBytes))
}

// entryPath checks an entry name and splits it into folder and file name.
// isDir reports a folder entry (nothing to write).
func (x *extractor) entryPath(raw string) (dir, base string, isDir bool, err error) {
	name := strings.ReplaceAll(raw, "\\", "/") // zips made on Windows
	quoted := fmt.Sprintf("%q", short(raw))
	if len(name) > 4096 || strings.ContainsRune(name, 0) {
		return "", "", false, newError(CodeInvalidFile, nil, "%s has an entry with an invalid name (%s)", x.display, quoted)
	}
	if strings.HasPrefix(name, "/") || (len(name) >= 2 && name[1] == ':') {
		return "", "", false, newError(CodeInvalidFile, nil,
			"%s has the entry %s with an absolute path; archives whose entries would be written outside the extraction folder are refused", x.display, quoted)
	}
	isDir = strings.HasSuffix(name, "/")
	var parts []string
	for el := range strings.SplitSeq(name, "/") {
		switch el {
		case "", ".":
			continue
		case "..":
			return "", "", false, newError(CodeInvalidFile, nil,
				"%s has the entry %s that climbs out with \"..\" (zip-slip); archives whose entries would be written outside the extraction folder are refused", x.display, quoted)
		}
		parts = append(parts, SafeName(el))
	}
	if len(parts) == 0 {
		return "", "", true, nil
	}
	if isDir {
		return strings.Join(parts, "/"), "", true, nil
	}
	return strings.Join(parts[:len(parts)-1], "/"), parts[len(parts)-1], false, nil
}

// write stores one file entry: size is what the archive announces (-1:
// unknown); the copy is cut at the extraction budget whatever it says.
func (x *extractor) write(raw string, size int64, src io.Reader) error {
	dir, base, isDir, err := x.entryPath(raw)
	if err != nil || isDir {
		return err
	}
	key := dir + "/" + base
	if x.seen[key] {
		return newError(CodeInvalidFile, nil, "%s has two entries named %q; refused, as one would silently replace the other", x.display, short(raw))
	}
	x.seen[key] = true
	left := x.lim.MaxExtractBytes - x.written
	if size > left {
		return x.tooBig()
	}
	path := filepath.Join(x.dir, fmt.Sprintf("entry-%06d", len(x.files)+1))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("create %s: %w", base, err)
	}
	x.files = append(x.files, File{Name: base, Dir: dir, Path: path})
	n, err := io.Copy(f, io.LimitReader(ctxReader{x.ctx, src}, left+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	x.written += n
	var e *Error
	switch {
	case err != nil && x.ctx.Err() != nil:
		return x.ctx.Err()
	case errors.As(err, &e):
		return e
	case err != nil:
		return newError(CodeInvalidFile, err, "%s: the entry %q cannot be read; the archive is damaged", x.display, short(raw))
	case n > left:
		return x.tooBig()
	}
	x.files[len(x.files)-1].Size = n
	return nil
}

func (x *extractor) zip(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return newError(CodeInvalidFile, err, "%s cannot be opened", x.display)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return newError(CodeInvalidFile, err, "%s cannot be opened", x.display)
	}
	var zr *zip.Reader
	err = guard(x.display, func() error {
		var zerr error
		zr, zerr = zip.NewReader(f, st.Size())
		return zerr
	})
	if err != nil {
		return asInvalid(err, "%s is not a readable zip archive", x.display)
	}
	// The central directory announces everything: refuse early.
	if len(zr.File) > x.lim.MaxArchiveEntries-x.entries {
		return newError(CodeInvalidFile, nil, "%s has %d entries, more than %d, the limit of archive/extract", x.display, len(zr.File), x.lim.MaxArchiveEntries)
	}
	left := uint64(x.lim.MaxExtractBytes - x.written)
	var announced uint64
	for _, e := range zr.File {
		if announced += min(e.UncompressedSize64, 1<<62); announced > left { // checked each step: no overflow
			return x.tooBig()
		}
		mode := e.Mode()
		switch {
		case mode&os.ModeSymlink != 0:
			return x.linkRefused(e.Name)
		case !mode.IsRegular() && !mode.IsDir():
			return x.specialRefused(e.Name)
		}
	}
	for _, e := range zr.File {
		if err := x.count(); err != nil {
			return err
		}
		if e.Mode().IsDir() {
			if _, _, _, err := x.entryPath(e.Name); err != nil {
				return err
			}
			continue
		}
		err := guard(x.display, func() error {
			rc, err := e.Open()
			if err != nil {
				return newError(CodeInvalidFile, err, "%s: the entry %q cannot be read (%v)", x.display, short(e.Name), err)
			}
			defer rc.Close()
			return x.write(e.Name, int64(min(e.UncompressedSize64, 1<<62)), rc)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (x *extractor) tar(path string, gz bool) error {
	f, err := os.Open(path)
	if err != nil {
		return newError(CodeInvalidFile, err, "%s cannot be opened", x.display)
	}
	defer f.Close()
	var src io.Reader = bufio.NewReaderSize(ctxReader{x.ctx, f}, 1<<16)
	if gz {
		zr, err := gzip.NewReader(src)
		if err != nil {
			return newError(CodeInvalidFile, err, "%s is not a readable tar.gz archive", x.display)
		}
		defer zr.Close()
		// Headers, padding and the data of skipped entries are read too:
		// bound the whole decompressed stream, not only the files.
		src = &capReader{r: zr, left: x.lim.MaxExtractBytes + 64<<20, err: x.tooBig}
	}
	tr := tar.NewReader(src)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if cerr := x.ctx.Err(); cerr != nil {
				return cerr
			}
			var e *Error
			if errors.As(err, &e) {
				return e
			}
			return newError(CodeInvalidFile, err, "%s is not a readable tar archive", x.display)
		}
		if err := x.count(); err != nil {
			return err
		}
		switch h.Typeflag {
		case tar.TypeReg, tar.TypeRegA:
			if err := x.write(h.Name, h.Size, tr); err != nil {
				return err
			}
		case tar.TypeDir:
			if _, _, _, err := x.entryPath(h.Name); err != nil {
				return err
			}
		case tar.TypeSymlink, tar.TypeLink:
			return x.linkRefused(h.Name)
		default:
			return x.specialRefused(h.Name)
		}
	}
}

func (x *extractor) linkRefused(name string) error {
	return newError(CodeInvalidFile, nil, "%s has the entry %q, a link; archives with symbolic or hard links are refused, as a link can point outside the archive",
		x.display, short(name))
}

func (x *extractor) specialRefused(name string) error {
	return newError(CodeInvalidFile, nil, "%s has the entry %q, which is neither a file nor a folder (a device or pipe); such archives are refused",
		x.display, short(name))
}

// capReader fails once more than left bytes were read.
type capReader struct {
	r    io.Reader
	left int64
	err  func() error
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, c.err()
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}
