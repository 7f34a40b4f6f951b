package invoke_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cctoolkit/cloudconvert/accounts"
	cloudconvert "github.com/cctoolkit/cloudconvert/generated/cloudconvert"
	"github.com/cctoolkit/cloudconvert/integration"
	"github.com/cctoolkit/cloudconvert/integration/invoke"
	"github.com/cctoolkit/cloudconvert/internal/localtest"
	"github.com/cctoolkit/cloudconvert/localserver"
)

const testKey = "sk-invoke-test-0123456789"

// pdfiumCache is shared by the tests of one run (the first PDF render
// compiles PDFium): a temp dir, never the user's cache.
var pdfiumCache string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "invoke-pdfium-")
	if err != nil {
		panic(err)
	}
	pdfiumCache = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type env struct {
	api *localtest.Server
	ws  string
	inv *invoke.Invoker
}

func newEnv(t *testing.T, policy invoke.Policy) *env {
	t.Helper()
	api := localtest.Start(t, localtest.Options{APIKey: testKey, PDFiumCacheDir: pdfiumCache})
	ws := t.TempDir()
	if err := os.WriteFile(filepath.Join(ws, "doc.pdf"), localserver.SamplePDF(2, "doc"), 0o644); err != nil {
		t.Fatal(err)
	}
	acct := &accounts.Account{Name: accounts.DefaultName, APIKey: accounts.NewSecret(testKey), BaseURL: api.URL + "/v2", SyncURL: api.URL + "/sync/v2", Source: "test"}
	inv, err := invoke.New(invoke.Options{
		Integration: cloudconvert.Descriptor(), Accounts: accounts.NewSet(acct), Policy: policy,
		PollInterval: 20 * time.Millisecond, Workspace: ws, DenyHint: "allow writes",
	})
	if err != nil {
		t.Fatal(err)
	}
	return &env{api: api, ws: ws, inv: inv}
}

func (e *env) call(t *testing.T, fn, args string) *invoke.Outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute) // only catches hangs
	defer cancel()
	return e.inv.CallJSON(ctx, invoke.JSONCall{Function: fn, Args: []byte(args)})
}

func (e *env) data(t *testing.T, o *invoke.Outcome) map[string]any {
	t.Helper()
	if o.Err != nil {
		t.Fatalf("%s: %v", o.Function, o.Err)
	}
	var m struct {
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(o.Data, &m); err != nil {
		t.Fatalf("%s: %v: %s", o.Function, err, o.Data)
	}
	return m.Data
}

// TestUploadConvertDownload: upload_file streams a workspace file to the
// upload form (no Authorization, the form's fields first) and answers
// with the finished task; download_file saves the export's PNGs, never
// over an existing file, and leaves no temporary file.
func TestUploadConvertDownload(t *testing.T) {
	e := newEnv(t, invoke.Headless(true))
	up := e.data(t, e.call(t, "upload_file", `{"path": "doc.pdf"}`))
	if up["status"] != "finished" || up["operation"] != "import/upload" {
		t.Fatalf("upload answered %v", up)
	}
	var sawUpload bool
	for _, r := range e.api.AllRequests() {
		if strings.HasPrefix(r.Path, "/uploads/") {
			sawUpload = true
			if r.Auth != "" || !bytes.Contains(r.Body, localserver.SamplePDF(2, "doc")) || r.Status != http.StatusCreated {
				t.Errorf("upload request: auth %q, %d bytes, status %d", r.Auth, len(r.Body), r.Status)
			}
		}
	}
	if !sawUpload {
		t.Fatal("no upload reached the server")
	}
	conv := e.data(t, e.call(t, "create_task", `{"operation": "convert", "input": "`+up["id"].(string)+`", "output_format": "png"}`))
	exp := e.data(t, e.call(t, "create_task", `{"operation": "export/url", "input": "`+conv["id"].(string)+`"}`))
	for round, want := range [][]string{{"out/doc-1.png", "out/doc-2.png"}, {"out/doc-1-1.png", "out/doc-2-1.png"}} {
		got := e.data(t, e.call(t, "download_file", `{"task_id": "`+exp["id"].(string)+`", "dir": "out"}`))
		files := got["files"].([]any)
		if len(files) != 2 {
			t.Fatalf("round %d: %v", round, got)
		}
		for i, f := range files {
			m := f.(map[string]any)
			if m["path"] != want[i] || m["filename"] != []string{"doc-1.png", "doc-2.png"}[i] {
				t.Errorf("round %d file %d: %v, want path %s", round, i, m, want[i])
			}
			b, err := os.ReadFile(filepath.Join(e.ws, want[i]))
			if err != nil || float64(len(b)) != m["size"] {
				t.Fatalf("%s: %v, %d bytes, answer says %v", want[i], err, len(b), m["size"])
			}
			if _, err := png.Decode(bytes.NewReader(b)); err != nil {
				t.Errorf("%s is not a PNG: %v", want[i], err)
			}
		}
	}
	entries, _ := os.ReadDir(filepath.Join(e.ws, "out"))
	if len(entries) != 4 {
		t.Errorf("out holds %d entries, want 4 PNGs and nothing else", len(entries))
	}
}

// TestTransferRefusedBeforeAnyRequest: paths that leave the workspace
// ("..", absolute elsewhere, a symbolic link out) are argument errors
// naming the parameter, and the server sees nothing at all, even when
// writes are denied (the argument is checked first) and on a dry run.
func TestTransferRefusedBeforeAnyRequest(t *testing.T) {
	for _, policy := range []invoke.Policy{invoke.Headless(true), invoke.Headless(false)} {
		e := newEnv(t, policy)
		outside := filepath.Join(t.TempDir(), "secret.pdf")
		os.WriteFile(outside, []byte("%PDF secret"), 0o600)
		if err := os.Symlink(outside, filepath.Join(e.ws, "link.pdf")); err != nil {
			t.Fatal(err)
		}
		os.Mkdir(filepath.Join(e.ws, "sub"), 0o755)
		os.WriteFile(filepath.Join(e.ws, "afile"), nil, 0o644)
		if err := os.Symlink(filepath.Dir(outside), filepath.Join(e.ws, "sub", "away")); err != nil {
			t.Fatal(err)
		}
		e.api.Reset()
		for _, tc := range []struct{ fn, args, param, why string }{
			{"upload_file", `{"path": "../x"}`, "path", `"../x" leaves the workspace`},
			{"upload_file", `{"path": "/etc/passwd"}`, "path", `"/etc/passwd" is outside the workspace`},
			{"upload_file", `{"path": "` + outside + `"}`, "path", "is outside the workspace"},
			{"upload_file", `{"path": "link.pdf"}`, "path", "goes through the symbolic link link.pdf, which leads out of the workspace"},
			{"upload_file", `{"path": "sub/away/secret.pdf"}`, "path", "goes through the symbolic link sub/away"},
			{"upload_file", `{"path": "missing.pdf"}`, "path", "does not exist in the workspace"},
			{"download_file", `{"url": "` + e.api.URL + `/x", "dir": "../out"}`, "dir", `"../out" leaves the workspace`},
			{"download_file", `{"url": "` + e.api.URL + `/x", "dir": "/tmp"}`, "dir", "is outside the workspace"},
			{"download_file", `{"url": "` + e.api.URL + `/x", "dir": "sub/away"}`, "dir", `"sub/away" goes through the symbolic link sub/away, which leads out`},
			{"download_file", `{"url": "` + e.api.URL + `/x", "dir": "sub/away/deeper"}`, "dir", "goes through the symbolic link sub/away"},
			{"download_file", `{"url": "` + e.api.URL + `/x", "dir": "afile"}`, "dir", `"afile" is a file, not a folder`},
			{"download_file", `{"dir": "out"}`, "", "give one of task_id, job_id or url"},
			{"download_file", `{"task_id": "t", "url": "` + e.api.URL + `/x"}`, "url", "give only one of"},
			{"download_file", `{"url": "file:///etc/passwd"}`, "url", "is not an http(s) URL"},
		} {
			for _, dry := range []bool{false, true} {
				ctx := context.Background()
				o := e.inv.CallJSON(ctx, invoke.JSONCall{Function: tc.fn, Args: []byte(tc.args), DryRun: dry})
				if o.Err == nil || o.Err.Kind != integration.KindArgument || o.Err.Param != tc.param || !strings.Contains(o.Err.Error(), tc.why) {
					t.Errorf("%s %s (dry run %v, policy %v): %v; want an invalid_argument on %q saying %q", tc.fn, tc.args, dry, policy, o.Err, tc.param, tc.why)
				}
			}
		}
		if reqs := e.api.AllRequests(); len(reqs) != 0 {
			t.Errorf("the server saw %d requests, first %s %s", len(reqs), reqs[0].Method, reqs[0].Path)
		}
		// A fine path under a deny policy: refused by the policy, still
		// without a request.
		if o := e.call(t, "upload_file", `{"path": "doc.pdf"}`); policy.Write == invoke.Deny && (o.Err == nil || o.Err.Kind != integration.KindPermission) {
			t.Errorf("a denied upload: %v", o.Err)
		}
		if policy.Write == invoke.Deny && len(e.api.AllRequests()) != 0 {
			t.Error("a denied upload made a request")
		}
	}
}

// TestNoWorkspace: an invoker without a workspace refuses transfers.
func TestNoWorkspace(t *testing.T) {
	acct := &accounts.Account{Name: accounts.DefaultName, APIKey: accounts.NewSecret(testKey), BaseURL: "http://127.0.0.1:1/v2", Source: "test"}
	inv, err := invoke.New(invoke.Options{Integration: cloudconvert.Descriptor(), Accounts: accounts.NewSet(acct), Policy: invoke.Headless(true), WorkspaceHint: "give --workspace"})
	if err != nil {
		t.Fatal(err)
	}
	o := inv.CallJSON(context.Background(), invoke.JSONCall{Function: "upload_file", Args: []byte(`{"path": "a.pdf"}`)})
	if o.Err == nil || o.Err.Kind != integration.KindPermission || !strings.Contains(o.Err.Error(), "no workspace folder is set; give --workspace") {
		t.Fatalf("%v", o.Err)
	}
}

// TestDownloadJobAndURL: a job's export files, waited for; a failed job
// raises kind failed with the task's code; a task with no export says
// what to add; a URL is saved under the name its answer gives.
func TestDownloadJobAndURL(t *testing.T) {
	e := newEnv(t, invoke.Headless(true))
	job := e.data(t, e.call(t, "create_job", `{"tasks": [
		{"operation": "import/base64", "file": "`+b64(localserver.SamplePDF(1, "one"))+`", "filename": "one.pdf"},
		{"operation": "convert", "input": "import", "output_format": "png"},
		{"operation": "export/url", "input": "convert"}]}`))
	got := e.data(t, e.call(t, "download_file", `{"job_id": "`+job["id"].(string)+`"}`))
	files := got["files"].([]any)
	if len(files) != 1 || files[0].(map[string]any)["path"] != "one.png" {
		t.Fatalf("job download: %v", got)
	}
	exported, _ := os.ReadFile(filepath.Join(e.ws, "one.png"))

	failed := e.data(t, e.call(t, "create_job", `{"tasks": [
		{"operation": "import/base64", "file": "aGVsbG8=", "filename": "a.txt"},
		{"operation": "convert", "input": "import", "output_format": "png"},
		{"operation": "export/url", "input": "convert"}]}`))
	o := e.call(t, "download_file", `{"job_id": "`+failed["id"].(string)+`"}`)
	if o.Err == nil || o.Err.Kind != integration.KindFailed || o.Err.Code == "" || !strings.Contains(o.Err.Message, `ended with status "error", so there is nothing to download`) {
		t.Errorf("failed job: %+v", o.Err)
	}
	imp := e.data(t, e.call(t, "create_task", `{"operation": "import/base64", "file": "aGVsbG8=", "filename": "a.txt"}`))
	o = e.call(t, "download_file", `{"task_id": "`+imp["id"].(string)+`"}`)
	if o.Err == nil || o.Err.Kind != integration.KindArgument || !strings.Contains(o.Err.Message, "only export/url tasks have download URLs") {
		t.Errorf("import task: %+v", o.Err)
	}

	// The URL of the job's export, saved by URL into a folder.
	var url string
	_, jm := e.api.Get(t, "/v2/jobs/"+job["id"].(string))
	for _, x := range jm["data"].(map[string]any)["tasks"].([]any) {
		task := x.(map[string]any)
		if task["operation"] == "export/url" {
			url = task["result"].(map[string]any)["files"].([]any)[0].(map[string]any)["url"].(string)
		}
	}
	got = e.data(t, e.call(t, "download_file", `{"url": "`+url+`", "dir": "by-url/deeper"}`))
	f := got["files"].([]any)[0].(map[string]any)
	b, _ := os.ReadFile(filepath.Join(e.ws, "by-url", "deeper", "one.png"))
	if f["path"] != "by-url/deeper/one.png" || f["filename"] != "one.png" || !bytes.Equal(b, exported) {
		t.Errorf("by URL: %v (%d bytes)", f, len(b))
	}
}

// TestDownloadCutShort: an answer that ends before its Content-Length
// leaves nothing under the file's name, nor a temporary file.
func TestDownloadCutShort(t *testing.T) {
	e := newEnv(t, invoke.Headless(true))
	e.api.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/files/cut/short.png" {
			return false
		}
		w.Header().Set("Content-Length", "100000")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte("only a little"))
		return true
	})
	o := e.call(t, "download_file", `{"url": "`+e.api.URL+`/files/cut/short.png", "dir": "out"}`)
	if o.Err == nil || o.Err.Kind != integration.KindTransport || !strings.Contains(o.Err.Message, "nothing was kept") {
		t.Fatalf("%+v", o.Err)
	}
	entries, _ := os.ReadDir(filepath.Join(e.ws, "out"))
	if len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
