package engine

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// archive packs every input into one zip, tar or tar.gz. Entry names are
// the inputs' display names reduced to a single safe element (no
// directories, no ".."), made unique so no entry shadows another.
func (r *Registry) archive(ctx context.Context, req Request, progress func(int)) (Result, error) {
	format := req.OutputFormat
	if format != "zip" && format != "tar" && format != "tar.gz" {
		return Result{}, newError(CodeUnsupportedConversion, nil, "archive to %q is not supported; archive supports: tar, tar.gz, tgz, zip", req.OutputFormat)
	}
	name := "archive." + format
	if fn := optString(req.Options, "filename"); fn != "" {
		name = SafeName(fn)
		if !strings.HasSuffix(strings.ToLower(name), "."+format) && !(format == "tar.gz" && strings.HasSuffix(strings.ToLower(name), ".tgz")) {
			name += "." + format
		}
	}
	path, name := uniquePath(req.OutDir, name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return Result{}, fmt.Errorf("create %s: %w", name, err)
	}
	bw := bufio.NewWriterSize(f, 1<<16)
	err = writeArchive(ctx, bw, format, req.Inputs, progress)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return Result{}, err
	}
	out, err := statFile(name, path)
	if err != nil {
		return Result{}, err
	}
	return Result{Files: []File{out}, Engine: engineArchive, EngineVersion: goVersion()}, nil
}

func writeArchive(ctx context.Context, w io.Writer, format string, inputs []File, progress func(int)) error {
	used := map[string]bool{}
	entryName := func(f File) string {
		n := displayName(f)
		ext := filepath.Ext(n)
		stem := strings.TrimSuffix(n, ext)
		for i := 2; used[strings.ToLower(n)]; i++ {
			n = fmt.Sprintf("%s (%d)%s", stem, i, ext)
		}
		used[strings.ToLower(n)] = true
		return n
	}
	var (
		zw *zip.Writer
		tw *tar.Writer
		gz *gzip.Writer
	)
	switch format {
	case "zip":
		zw = zip.NewWriter(w)
	case "tar.gz":
		gz = gzip.NewWriter(w)
		tw = tar.NewWriter(gz)
	default:
		tw = tar.NewWriter(w)
	}
	for i, in := range inputs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := addEntry(zw, tw, entryName(in), in); err != nil {
			return err
		}
		progress((i + 1) * 100 / (len(inputs) + 1))
	}
	if zw != nil {
		return zw.Close()
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if gz != nil {
		return gz.Close()
	}
	return nil
}

func addEntry(zw *zip.Writer, tw *tar.Writer, name string, in File) error {
	src, err := os.Open(in.Path)
	if err != nil {
		return newError(CodeInvalidFile, err, "%s cannot be opened", displayName(in))
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return newError(CodeInvalidFile, err, "%s is not a regular file", displayName(in))
	}
	var dst io.Writer
	if zw != nil {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: st.ModTime()}
		h.SetMode(0o644)
		if dst, err = zw.CreateHeader(h); err != nil {
			return fmt.Errorf("zip %s: %w", name, err)
		}
	} else {
		h := &tar.Header{Name: name, Mode: 0o644, Size: st.Size(), ModTime: st.ModTime(), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("tar %s: %w", name, err)
		}
		dst = tw
	}
	// Copy exactly the size we announced, even if the file grows meanwhile.
	if _, err := io.CopyN(dst, src, st.Size()); err != nil {
		return fmt.Errorf("archive %s: %w", name, err)
	}
	return nil
}
