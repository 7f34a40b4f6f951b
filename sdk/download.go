package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/cctoolkit/cloudconvert/apierror"
	"github.com/cctoolkit/cloudconvert/integration"
	"github.com/cctoolkit/cloudconvert/integration/files"
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
		return 0, c.transferError("download", err)
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
	// Overwrite replaces existing files; otherwise a free name "a-1.png"
	// is chosen.
	Overwrite bool
	// SkipExisting keeps a file that is already in the directory under
	// the export's name with the export's size: it is listed as written
	// and not downloaded again, so that a rerun after an interruption
	// resumes (nothing half-written ever has a final name).
	SkipExisting bool
	// Parallel bounds the downloads at once; default DefaultParallel.
	Parallel int
	// Progress is called per file with the file's name (as meant,
	// relative to the directory), bytes so far and total (-1 if unknown);
	// from several goroutines at once when Parallel > 1.
	Progress func(name string, done, total int64)
}

// DefaultParallel is how many uploads or downloads run at once by default.
const DefaultParallel = 4

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
// (created if needed), a few at a time (opts.Parallel), and returns the
// paths written, in the order of the export. When a download fails the
// others still complete; the paths written so far come back with the
// first error.
func (c *Client) DownloadJob(ctx context.Context, j *Job, dir string, opts *DownloadOptions) ([]string, error) {
	files := ExportFiles(j)
	if len(files) == 0 {
		return nil, fmt.Errorf("download: job %s has no export/url files", j.Id)
	}
	if opts == nil {
		opts = &DownloadOptions{}
	}
	paths := make([]string, len(files))
	errs := make([]error, len(files))
	forEach(ctx, len(files), opts.Parallel, func(i int) {
		paths[i], errs[i] = c.downloadFile(ctx, files[i], dir, opts)
	})
	var written []string
	var first error
	for i := range files {
		if errs[i] != nil {
			if first == nil {
				first = errs[i]
			}
			continue
		}
		written = append(written, paths[i])
	}
	return written, first
}

// forEach runs do(0..n-1), at most parallel at once (default
// DefaultParallel). Once ctx has ended, the calls not started yet are made
// in this goroutine: do must return at once then.
func forEach(ctx context.Context, n, parallel int, do func(i int)) {
	if parallel <= 0 {
		parallel = DefaultParallel
	}
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := range n {
		select {
		case sem <- struct{}{}:
			wg.Go(func() {
				defer func() { <-sem }()
				do(i)
			})
		case <-ctx.Done():
			do(i)
		}
	}
	wg.Wait()
}

// DownloadFile downloads one result file into dir under its sanitized name
// and returns the path written. The file appears complete or not at all (a
// hidden temporary file takes its name when complete); an existing file is
// never replaced unless opts.Overwrite: a free name "a-1.png" is taken.
func (c *Client) DownloadFile(ctx context.Context, f ResultFile, dir string, opts *DownloadOptions) (string, error) {
	if opts == nil {
		opts = &DownloadOptions{}
	}
	return c.downloadFile(ctx, f, dir, opts)
}

func (c *Client) downloadFile(ctx context.Context, f ResultFile, dir string, opts *DownloadOptions) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("download %s: %w", f.Filename, context.Cause(ctx))
	}
	if f.Url == nil || *f.Url == "" {
		return "", fmt.Errorf("download: file %q has no URL", f.Filename)
	}
	sub := "."
	if f.Dir != nil && *f.Dir != "" {
		var parts []string
		for _, p := range strings.FieldsFunc(*f.Dir, func(r rune) bool { return r == '/' || r == '\\' }) {
			if s := SanitizeFilename(p); s != "" && p != "." && p != ".." {
				parts = append(parts, s)
			}
		}
		if len(parts) > 0 {
			sub = path.Join(parts...)
		}
	}
	name := SanitizeFilename(f.Filename)
	rel := path.Join(sub, name)
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
	if sub != "." {
		if err := root.MkdirAll(filepath.FromSlash(sub), 0o755); err != nil {
			return "", fmt.Errorf("download: %w", err)
		}
	}
	if opts.SkipExisting && !opts.Overwrite && f.Size != nil {
		if st, err := root.Lstat(filepath.FromSlash(rel)); err == nil && st.Mode().IsRegular() && st.Size() == int64(*f.Size) {
			if opts.Progress != nil {
				opts.Progress(rel, st.Size(), st.Size())
			}
			return filepath.Join(dir, filepath.FromSlash(rel)), nil
		}
	}
	var progress TransferProgress
	if opts.Progress != nil {
		progress = func(done, total int64) { opts.Progress(rel, done, total) }
	}
	written, _, err := files.Save(root, filepath.FromSlash(sub), name, files.SaveOptions{Overwrite: opts.Overwrite}, func(w io.Writer) error {
		_, err := c.Download(ctx, *f.Url, w, progress)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("download %s: %w", rel, err)
	}
	return filepath.Join(dir, written), nil
}

// SanitizeFilename makes a server-given file name safe to create in a
// directory: the last path element only, no control characters, no
// characters Windows forbids, no leading dots (no hidden files, no ".."),
// no trailing dots or spaces, at most 200 bytes (keeping the extension).
// It never returns "".
func SanitizeFilename(name string) string { return files.SanitizeName(name, "download") }

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

// transferError is the error of an upload or download that got no
// answer: the transport's own when it gave one (it names the URL without
// its query), or one made here with the pre-signed query taken out.
func (c *Client) transferError(function string, err error) error {
	var ie *integration.Error
	if errors.As(err, &ie) {
		return ie
	}
	return &integration.Error{Kind: integration.KindTransport, Function: function, Message: c.redact(redactQuery(err.Error())), Err: err}
}

// redactQuery replaces every URL query in s (a pre-signed URL's signature)
// with "?…", keeping the rest, such as the cause after a quoted URL.
func redactQuery(s string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '?')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString("?…")
		// The query ends where the quoted URL or the word does; the cause
		// after it ("Post \"URL\": EOF") is kept.
		end := strings.IndexAny(s[i:], "\" \t\n")
		if end < 0 {
			return b.String()
		}
		s = s[i+end:]
	}
}
