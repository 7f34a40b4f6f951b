package files

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"path/filepath"
	"strings"
)

// Field is one form field.
type Field struct{ Name, Value string }

// Progress is called as bytes move: done so far, of total (-1 if unknown),
// from the goroutine doing the transfer.
type Progress func(done, total int64)

// UploadRequest makes the POST of a multipart/form-data body to an upload
// form: every field in order, then size bytes of file last, as fileField
// with filename. The Content-Length is computed up front (the frame around
// the file is rendered first), the file is streamed, never held in memory,
// and GetBody starts over from the file's first byte, so the transport may
// send the request again when it never left. No credentials are added: the
// form's URL is pre-signed.
func UploadRequest(ctx context.Context, rawURL string, fields []Field, fileField, filename string, file io.ReaderAt, size int64, progress Progress) (*http.Request, error) {
	if size < 0 {
		return nil, fmt.Errorf("the size of %s must be known", filename)
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("the upload URL %q is not an http(s) URL", RedactQuery(rawURL))
	}
	head, tail, ctype, err := Frame(fields, fileField, filename)
	if err != nil {
		return nil, err
	}
	total := int64(len(head)) + size + int64(len(tail))
	body := func() io.ReadCloser {
		r := io.MultiReader(bytes.NewReader(head), io.NewSectionReader(file, 0, size), bytes.NewReader(tail))
		return io.NopCloser(NewCounter(r, total, progress))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, body())
	if err != nil {
		return nil, err
	}
	req.GetBody = func() (io.ReadCloser, error) { return body(), nil }
	req.ContentLength = total
	req.Header.Set("Content-Type", ctype)
	return req, nil
}

// Frame renders everything of a multipart/form-data upload body but the
// file's bytes: head (the fields, then the file part's header), tail (the
// closing boundary) and the Content-Type with its boundary.
func Frame(fields []Field, fileField, filename string) (head, tail []byte, contentType string, err error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range fields {
		if err := mw.WriteField(f.Name, f.Value); err != nil {
			return nil, nil, "", err
		}
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="`+quoteEscaper.Replace(fileField)+`"; filename="`+quoteEscaper.Replace(filename)+`"`)
	ct := mime.TypeByExtension(filepath.Ext(filename))
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	if _, err := mw.CreatePart(h); err != nil {
		return nil, nil, "", err
	}
	head = bytes.Clone(buf.Bytes())
	buf.Reset()
	if err := mw.Close(); err != nil { // writes exactly the closing boundary
		return nil, nil, "", err
	}
	return head, bytes.Clone(buf.Bytes()), mw.FormDataContentType(), nil
}

var quoteEscaper = strings.NewReplacer("\\", "\\\\", `"`, "\\\"", "\r", "", "\n", "")

// Counter counts the bytes read through it and reports them to progress.
type Counter struct {
	r        io.Reader
	n, total int64
	progress Progress
}

// NewCounter reads r, of total bytes (-1 if unknown).
func NewCounter(r io.Reader, total int64, progress Progress) *Counter {
	return &Counter{r: r, total: total, progress: progress}
}

// N is how many bytes were read.
func (c *Counter) N() int64 { return c.n }

func (c *Counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.progress != nil && n > 0 {
		c.progress(c.n, c.total)
	}
	return n, err
}

// RedactQuery cuts the query off a URL for messages: pre-signed URLs carry
// their signature there.
func RedactQuery(s string) string {
	if i := strings.IndexByte(s, '?'); i >= 0 {
		return s[:i] + "?…"
	}
	return s
}

// NameFromResponse is the file name a download answer gives
// (Content-Disposition), else the last segment of its URL's path, else "".
func NameFromResponse(resp *http.Response) string {
	if cd := resp.Header.Get("Content-Disposition"); cd != "" {
		if _, params, err := mime.ParseMediaType(cd); err == nil && params["filename"] != "" {
			return params["filename"]
		}
	}
	if resp.Request != nil && resp.Request.URL != nil {
		p := resp.Request.URL.Path
		if i := strings.LastIndexByte(p, '/'); i >= 0 {
			p = p[i+1:]
		}
		if s, err := url.PathUnescape(p); err == nil {
			return s
		}
		return p
	}
	return ""
}
