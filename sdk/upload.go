package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"

	"github.com/cctoolkit/cloudconvert/apierror"
	"github.com/cctoolkit/cloudconvert/integration"
	"github.com/cctoolkit/cloudconvert/integration/files"
	"github.com/cctoolkit/cloudconvert/integration/transport"
)

// TransferProgress is called as bytes move: done so far, of total (-1 if
// unknown). It is called from the goroutine doing the transfer.
type TransferProgress func(done, total int64)

// UploadForm is the form of an import/upload task (result.form), its
// parameters in the order the API listed them.
type UploadForm struct {
	URL    string
	Fields []FormField
}

// FormField is one form parameter.
type FormField struct{ Name, Value string }

type rawForm struct {
	URL        string          `json:"url"`
	Parameters json.RawMessage `json:"parameters"`
}

type rawTask struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Status string `json:"status"`
	Result *struct {
		Form *rawForm `json:"form"`
	} `json:"result"`
}

// ParseUploadForm reads result.form of an import/upload task from the raw
// JSON of a task answer ({"data": Task}) or of a bare Task, keeping the
// order of the parameters (the generated model holds them in a map).
func ParseUploadForm(raw []byte) (*UploadForm, error) {
	var env struct {
		Data *rawTask `json:"data"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, fmt.Errorf("upload form: %w", err)
	}
	t := env.Data
	if t == nil {
		t = new(rawTask)
		if err := json.Unmarshal(raw, t); err != nil {
			return nil, fmt.Errorf("upload form: %w", err)
		}
	}
	return t.form()
}

func (t *rawTask) form() (*UploadForm, error) {
	if t.Result == nil || t.Result.Form == nil || t.Result.Form.URL == "" {
		return nil, fmt.Errorf("task %s (status %s) has no upload form", t.ID, t.Status)
	}
	fields, err := orderedFields(t.Result.Form.Parameters)
	if err != nil {
		return nil, fmt.Errorf("task %s upload form: %w", t.ID, err)
	}
	return &UploadForm{URL: t.Result.Form.URL, Fields: fields}, nil
}

// jobUploadForms maps the names of the import/upload tasks of a job (raw
// {"data": Job} JSON) to their forms.
func jobUploadForms(raw []byte) (map[string]*UploadForm, error) {
	var env struct {
		Data struct {
			Tasks []rawTask `json:"tasks"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, err
	}
	out := map[string]*UploadForm{}
	for i := range env.Data.Tasks {
		t := &env.Data.Tasks[i]
		if t.Result == nil || t.Result.Form == nil {
			continue
		}
		f, err := t.form()
		if err != nil {
			return nil, err
		}
		out[t.Name] = f
	}
	return out, nil
}

// orderedFields decodes a JSON object into fields in document order;
// strings unquoted, numbers and booleans as written, null as "".
func orderedFields(raw json.RawMessage) ([]FormField, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("parameters is not an object")
	}
	var out []FormField
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		val := string(v)
		switch {
		case len(v) > 0 && v[0] == '"':
			if err := json.Unmarshal(v, &val); err != nil {
				return nil, err
			}
		case val == "null":
			val = ""
		}
		out = append(out, FormField{Name: k.(string), Value: val})
	}
	return out, nil
}

// UploadFile uploads the file at path to an import/upload task, streaming
// it (any size; nothing is held in memory). The task's form is read fresh
// (get_task) so its parameters are sent in the API's order.
func (c *Client) UploadFile(ctx context.Context, taskID, path string, progress TransferProgress) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("upload: %s is not a regular file", path)
	}
	return c.Upload(ctx, taskID, filepath.Base(path), f, st.Size(), progress)
}

// Upload uploads size bytes of r as filename to an import/upload task.
func (c *Client) Upload(ctx context.Context, taskID, filename string, r io.Reader, size int64, progress TransferProgress) error {
	_, raw, err := c.getTaskRaw(ctx, taskID)
	if err != nil {
		return err
	}
	form, err := ParseUploadForm(raw)
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	return c.UploadToForm(ctx, form, filename, r, size, progress)
}

// UploadToForm POSTs a multipart/form-data body to form.URL: every field
// in order, then the file last, with a Content-Length computed up front
// (pre-rendered parts + file + closing boundary through io.MultiReader),
// and no Authorization header. The file is streamed, never buffered.
// Only a connection that could not be made is retried, and only when r can
// be re-read (an io.ReaderAt such as *os.File).
func (c *Client) UploadToForm(ctx context.Context, form *UploadForm, filename string, r io.Reader, size int64, progress TransferProgress) error {
	if size < 0 {
		return errors.New("upload: the size must be known (a Content-Length is required)")
	}
	u, err := url.Parse(form.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("upload: bad form URL %q", form.URL)
	}
	fields := make([]files.Field, len(form.Fields))
	for i, f := range form.Fields {
		fields[i] = files.Field{Name: f.Name, Value: f.Value}
	}
	head, tail, ctype, err := files.Frame(fields, "file", filename)
	if err != nil {
		return err
	}
	total := int64(len(head)) + size + int64(len(tail))
	ctx = transport.WithClass(ctx, transport.Class{Retry: integration.RetryUnsent, Long: true, Function: "upload"})
	newBody := func(src io.Reader) *files.Counter {
		return files.NewCounter(io.MultiReader(bytes.NewReader(head), io.LimitReader(src, size), bytes.NewReader(tail)), total, files.Progress(progress))
	}
	body := newBody(r)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, form.URL, body)
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	if ra, ok := r.(io.ReaderAt); ok {
		// The transport may send it again (only when it never left): start
		// over from the first byte.
		req.GetBody = func() (io.ReadCloser, error) {
			body = newBody(io.NewSectionReader(ra, 0, size))
			return io.NopCloser(body), nil
		}
		body = newBody(io.NewSectionReader(ra, 0, size))
		req.Body = io.NopCloser(body)
	}
	req.ContentLength = total
	req.Header.Set("Content-Type", ctype)
	resp, err := c.hc.Do(req)
	if err != nil {
		return c.transferError("upload", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		ae := apierror.FromResponse(resp, answer)
		ae.Function = "upload"
		return ae
	}
	if body.N() != total {
		return fmt.Errorf("upload: sent %d of %d bytes (the source was shorter than its size)", body.N(), total)
	}
	return nil
}
