package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cctoolkit/cloudconvert/apierror"
	"github.com/cctoolkit/cloudconvert/integration"
	"github.com/cctoolkit/cloudconvert/integration/transport"
)

// Download GETs an export URL (result.files[].url) into w, streaming, and
// returns the byte count. The URL is pre-signed: no Authorization header is
// sent unless it is on the API host itself. The transport retries a
// connection that fails and 429/502/503/504 answers; once bytes reach w
// nothing is retried.
func (c *Client) Download(ctx context.Context, rawURL string, w io.Writer, progress TransferProgress) (int64, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return 0, fmt.Errorf("download: bad URL %q", redactQuery(rawURL))
	}
	ctx = transport.WithClass(ctx, transport.Class{Retry: integration.RetrySafe, Long: true, Function: "download"})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return 0, fmt.Errorf("download: %w", err)
	}
	if c.sameHost(u) {
		_ = c.editRequest(ctx, req)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, &integration.Error{Kind: integration.KindTransport, Function: "download", Message: c.redact(redactQuery(err.Error())), Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		ae := apierror.FromResponse(resp, body)
		ae.Function = "download"
		return 0, ae
	}
	cw := &countingWriter{w: w, total: resp.ContentLength, progress: progress}
	n, err := io.Copy(cw, resp.Body)
	if err != nil {
		var we writeError
		if errors.As(err, &we) {
			return n, fmt.Errorf("download: writing: %w", we.err)
		}
		return n, &integration.Error{Kind: integration.KindTransport, Function: "download", Message: fmt.Sprintf("interrupted after %d bytes: %s", n, c.redact(err.Error())), Err: err}
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return n, &integration.Error{Kind: integration.KindTransport, Function: "download", Message: fmt.Sprintf("got %d of %d bytes", n, resp.ContentLength)}
	}
	return n, nil
}

func (c *Client) redact(s string) string {
	if c.key != "" {
		s = strings.ReplaceAll(s, c.key, "[redacted]")
	}
	return s
}

// DownloadOptions tune DownloadJob and DownloadFile.
type DownloadOptions struct {
	// Overwrite replaces existing files; otherwise a free name "a (1).png"
	// is chosen.
	Overwrite bool
	// Progress is called per file with the file's name (as saved,
	// relative to the directory), bytes so far and total (-1 if unknown).
	Progress func(name string, done, total int64)
}

// ExportFiles lists the downloadable files of a job: result.files with a
// URL of its finished export/url tasks.
func ExportFiles(j *Job) []ResultFile {
	var out []ResultFile
	if j == nil || j.Tasks == nil {
		return nil
	}
	for _, t := range *j.Tasks {
		if t.Operation != "export/url" || t.Status != "finished" {
			continue
		}
		r := nullResult(t)
		if r == nil || r.Files == nil {
			continue
		}
		for _, f := range *r.Files {
			if f.Url != nil && *f.Url != "" {
				out = append(out, f)
			}
		}
	}
	return out
}

func nullResult(t Task) *TaskResult {
	if t.Result.IsSpecified() && !t.Result.IsNull() {
		r := t.Result.MustGet()
		return &r
	}
	return nil
}

// DownloadJob downloads every export file of a finished job into dir
// (created if needed) and returns the paths written.
func (c *Client) DownloadJob(ctx context.Context, j *Job, dir string, opts *DownloadOptions) ([]string, error) {
	files := ExportFiles(j)
	if len(files) == 0 {
		return nil, fmt.Errorf("download: job %s has no export/url files", j.Id)
	}
	used := map[string]bool{}
	var paths []string
	for _, f := range files {
		p, err := c.downloadFile(ctx, f, dir, opts, used)
		if err != nil {
			return paths, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// DownloadFile downloads one result file into dir under its sanitized name
// and returns the path written. The file appears complete or not at all (a
// temporary file is renamed into place).
func (c *Client) DownloadFile(ctx context.Context, f ResultFile, dir string, opts *DownloadOptions) (string, error) {
	return c.downloadFile(ctx, f, dir, opts, map[string]bool{})
}

func (c *Client) downloadFile(ctx context.Context, f ResultFile, dir string, opts *DownloadOptions, used map[string]bool) (string, error) {
	if opts == nil {
		opts = &DownloadOptions{}
	}
	if f.Url == nil || *f.Url == "" {
		return "", fmt.Errorf("download: file %q has no URL", f.Filename)
	}
	rel := SanitizeFilename(f.Filename)
	if f.Dir != nil && *f.Dir != "" {
		var parts []string
		for _, p := range strings.FieldsFunc(*f.Dir, func(r rune) bool { return r == '/' || r == '\\' }) {
			if s := SanitizeFilename(p); s != "" && p != "." && p != ".." {
				parts = append(parts, s)
			}
		}
		rel = path.Join(append(parts, rel)...)
	}
	if !filepath.IsLocal(filepath.FromSlash(rel)) {
		return "", fmt.Errorf("download: unsafe file name %q", f.Filename)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("download: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return "", fmt.Errorf("download: %w", err)
	}
	defer root.Close()
	if d := path.Dir(rel); d != "." {
		if err := root.MkdirAll(filepath.FromSlash(d), 0o755); err != nil {
			return "", fmt.Errorf("download: %w", err)
		}
	}
	rel = freeName(root, rel, opts.Overwrite, used)
	used[rel] = true
	tmp := rel + ".part"
	out, err := root.OpenFile(filepath.FromSlash(tmp), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return "", fmt.Errorf("download: %w", err)
	}
	var progress TransferProgress
	if opts.Progress != nil {
		progress = func(done, total int64) { opts.Progress(rel, done, total) }
	}
	_, err = c.Download(ctx, *f.Url, out, progress)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(filepath.FromSlash(tmp), filepath.FromSlash(rel))
	}
	if err != nil {
		_ = root.Remove(filepath.FromSlash(tmp))
		return "", fmt.Errorf("download %s: %w", rel, err)
	}
	return filepath.Join(dir, filepath.FromSlash(rel)), nil
}

// freeName returns rel, or "name (n).ext" when rel exists (and may not be
// overwritten) or was already written by this call.
func freeName(root *os.Root, rel string, overwrite bool, used map[string]bool) string {
	taken := func(p string) bool {
		if used[p] {
			return true
		}
		if overwrite {
			return false
		}
		_, err := root.Lstat(filepath.FromSlash(p))
		return !errors.Is(err, fs.ErrNotExist)
	}
	if !taken(rel) {
		return rel
	}
	ext := path.Ext(rel)
	base := strings.TrimSuffix(rel, ext)
	for i := 1; ; i++ {
		p := base + " (" + strconv.Itoa(i) + ")" + ext
		if !taken(p) {
			return p
		}
	}
}

// SanitizeFilename makes a server-given file name safe to create in a
// directory: the last path element only, no control characters, no
// characters Windows forbids, no leading dots (no hidden files, no ".."),
// no trailing dots or spaces, at most 200 bytes (keeping the extension).
// It never returns "".
func SanitizeFilename(name string) string {
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
		return "download"
	}
	if isReservedWindowsName(s) {
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

func isReservedWindowsName(s string) bool {
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

type countingWriter struct {
	w        io.Writer
	n, total int64
	progress TransferProgress
}

type writeError struct{ err error }

func (e writeError) Error() string { return e.err.Error() }

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if c.progress != nil && n > 0 {
		c.progress(c.n, c.total)
	}
	if err != nil {
		return n, writeError{err}
	}
	return n, nil
}

func redactQuery(s string) string {
	if i := strings.IndexByte(s, '?'); i >= 0 {
		return s[:i] + "?…"
	}
	return s
}
