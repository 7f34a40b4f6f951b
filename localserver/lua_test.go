package localserver

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"io/fs"
	"regexp"
	"strings"
	"testing"

	"github.com/pdfcpu/pdfcpu/pkg/api"

	"github.com/cctoolkit/cloudconvert/accounts"
	ccdocs "github.com/cctoolkit/cloudconvert/generated/cloudconvert/docs"
	"github.com/cctoolkit/cloudconvert/localserver/engine"
	"github.com/cctoolkit/cloudconvert/luaruntime"
)

// docExamples maps "section" and "section/title" to the Lua code of the
// generated reference's examples (the seed's examples, as the spec keeps them).
func docExamples(t testing.TB) map[string]string {
	t.Helper()
	b, err := fs.ReadFile(ccdocs.Files(), "reference.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	section, title := "", ""
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		switch {
		case strings.HasPrefix(l, "## "):
			section, title = strings.TrimPrefix(l, "## "), ""
		case strings.HasPrefix(l, "#### "):
			title = strings.TrimPrefix(l, "#### ")
		case l == "```lua":
			var code []string
			for i++; i < len(lines) && lines[i] != "```"; i++ {
				code = append(code, lines[i])
			}
			key := section
			if title != "" {
				key += "/" + title
			}
			if _, dup := out[key]; !dup {
				out[key] = strings.Join(code, "\n") + "\n"
			}
		}
	}
	return out
}

func (e *env) lua(t testing.TB) *luaruntime.Runtime {
	t.Helper()
	acct := &accounts.Account{Name: accounts.DefaultName, APIKey: accounts.NewSecret(testKey),
		BaseURL: e.URL + "/v2", SyncURL: e.URL + "/sync/v2", Source: "test"}
	rt, err := luaruntime.New(luaruntime.Options{Accounts: accounts.NewSet(acct), Policy: luaruntime.Headless(true)})
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

func runLua(t testing.TB, rt *luaruntime.Runtime, code string) *luaruntime.Result {
	t.Helper()
	res := rt.Execute(context.Background(), code)
	if res.Error != nil {
		t.Fatalf("script failed: %v\n--- output:\n%s\n--- script:\n%s", res.Error, res.Output, code)
	}
	return res
}

var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// TestSeedExamplesLua runs the reference's examples through the Lua
// runtime against a real server, inputs served from loopback.
func TestSeedExamplesLua(t *testing.T) {
	ex := docExamples(t)
	e := newEnv(t)
	rt := e.lua(t)
	pdfURL := e.serve("document.pdf", SamplePDF(1, "seed example"))
	p1 := e.serve("page1.pdf", SamplePDF(1, "first"))
	p2 := e.serve("page2.pdf", SamplePDF(1, "second"))
	e.serve("index.html", []byte("<html><body style='background:#36c'><h1>local capture</h1></body></html>"))

	var pngJobID, exportTaskID string
	t.Run("convert PDF to PNG", func(t *testing.T) {
		code := ex["create_job/Convert a PDF to PNG"]
		if !strings.Contains(code, "https://example.com/document.pdf") {
			t.Fatalf("example changed:\n%s", code)
		}
		res := runLua(t, rt, strings.Replace(code, "https://example.com/document.pdf", pdfURL, 1)+"return jobId\n")
		if !strings.HasPrefix(res.Output, "Job created: ") {
			t.Fatalf("output %q", res.Output)
		}
		pngJobID = res.Values[0].(string)
		job := e.waitJob(pngJobID)
		if job["status"] != "finished" {
			t.Fatalf("job %s", jsonStr(job))
		}
		exp := taskByName(job, "export")
		exportTaskID = exp["id"].(string)
		f := exp["result"].(map[string]any)["files"].([]any)[0].(map[string]any)
		img, err := png.Decode(bytes.NewReader(download(t, f["url"].(string))))
		if err != nil {
			t.Fatalf("not a PNG: %v", err)
		}
		if b := img.Bounds(); b.Dx() < 100 || b.Dy() < 50 {
			t.Fatalf("tiny render %v", b)
		}
		conv := taskByName(job, "convert")
		if conv["engine"] != "pdfium" || conv["engine_version"] == nil || conv["credits"] == nil {
			t.Errorf("convert task engine/credits: %s", jsonStr(conv))
		}
	})
	t.Run("merge PDFs", func(t *testing.T) {
		code := ex["create_job/Merge PDFs"]
		code = strings.Replace(code, "https://example.com/page1.pdf", p1, 1)
		code = strings.Replace(code, "https://example.com/page2.pdf", p2, 1)
		res := runLua(t, rt, code+"return result.data.id\n")
		job := e.waitJob(res.Values[0].(string))
		if job["status"] != "finished" {
			t.Fatalf("job %s", jsonStr(job))
		}
		f := taskByName(job, "export")["result"].(map[string]any)["files"].([]any)[0].(map[string]any)
		n, err := api.PageCount(bytes.NewReader(download(t, f["url"].(string))), nil)
		if err != nil || n != 2 {
			t.Fatalf("merged PDF: %d pages, %v", n, err)
		}
	})
	t.Run("capture website", func(t *testing.T) {
		if testing.Short() {
			t.Skip("Chromium capture is slow; skipped in -short mode")
		}
		if !chromiumAvailable(registry()) {
			t.Skip("Chromium is not installed; install the chromium package to run this test (the unavailable case is tested below)")
		}
		code := strings.Replace(ex["create_job/Capture a website"], "https://example.com", e.files.URL+"/index.html", 1)
		res := runLua(t, rt, code+"return result.data.id\n")
		job := e.waitJob(res.Values[0].(string))
		if job["status"] != "finished" {
			t.Fatalf("job %s", jsonStr(job))
		}
		f := taskByName(job, "export")["result"].(map[string]any)["files"].([]any)[0].(map[string]any)
		img, err := png.Decode(bytes.NewReader(download(t, f["url"].(string))))
		if err != nil {
			t.Fatalf("not a PNG: %v", err)
		}
		if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 800 {
			t.Errorf("screenshot size %v, want 1280x800", b)
		}
	})
	t.Run("get_job", func(t *testing.T) {
		code := uuidRE.ReplaceAllString(ex["get_job"], pngJobID)
		out := runLua(t, rt, code).Output
		for _, want := range []string{"Status: finished", "import (import/url): finished", "convert (convert): finished", "export (export/url): finished"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("list_jobs", func(t *testing.T) {
		out := runLua(t, rt, ex["list_jobs"]).Output
		if !strings.Contains(out, pngJobID+" - finished") {
			t.Errorf("output lacks %s:\n%s", pngJobID, out)
		}
	})
	t.Run("get_task", func(t *testing.T) {
		code := uuidRE.ReplaceAllString(ex["get_task"], exportTaskID)
		out := runLua(t, rt, code).Output
		if !strings.HasPrefix(out, "Download: "+e.URL+"/files/") {
			t.Errorf("output %q", out)
		}
	})
	t.Run("list_tasks", func(t *testing.T) {
		out := runLua(t, rt, ex["list_tasks"]).Output
		if !strings.Contains(out, "(convert): finished") || strings.Contains(out, "import/url") {
			t.Errorf("output:\n%s", out)
		}
	})
	t.Run("create_task", func(t *testing.T) {
		docx := e.serve("report.docx", []byte("not really a docx"))
		code := strings.Replace(ex["create_task"], "https://example.com/report.docx", docx, 1)
		out := runLua(t, rt, code).Output
		id := uuidRE.FindString(out)
		if !strings.HasPrefix(out, "Task ID: ") || id == "" {
			t.Fatalf("output %q", out)
		}
		code2, body, _ := e.do("GET", "/sync/v2/tasks/"+id, nil)
		task := body["data"].(map[string]any)
		if code2 != 200 || task["job_id"] != nil || task["operation"] != "convert" || len(task["depends_on_task_ids"].([]any)) != 1 {
			t.Fatalf("task: %d %s", code2, jsonStr(body))
		}
		// With LibreOffice the task converts; without, it fails with a
		// clear code and message (the request itself succeeded).
		switch task["status"] {
		case "finished":
			if task["engine"] != "libreoffice" {
				t.Errorf("task: %s", jsonStr(task))
			}
		case "error":
			if task["code"] != engine.CodeEngineNotAvailable || task["message"] == nil {
				t.Errorf("task: %s", jsonStr(task))
			}
		default:
			t.Errorf("task: %s", jsonStr(task))
		}
	})
	t.Run("get_current_user", func(t *testing.T) {
		out := runLua(t, rt, ex["get_current_user"]).Output
		if out != "User: local\nCredits: 1000\n" {
			t.Errorf("output %q", out)
		}
	})
	t.Run("wait_job", func(t *testing.T) {
		code, ok := ex["wait_job"]
		if !ok || rt.Integration().Function("wait_job") == nil {
			t.Skip("wait_job is not in the generated bindings yet")
		}
		code = strings.Replace(code, "https://example.com/document.pdf", pdfURL, 1)
		out := runLua(t, rt, code).Output
		if !strings.Contains(out, "Status: finished") || !strings.Contains(out, "Download: "+e.URL+"/files/") {
			t.Errorf("output:\n%s", out)
		}
	})
}

func chromiumAvailable(r *engine.Registry) bool {
	for _, en := range r.Engines() {
		if en.Name == "chromium" {
			return en.Available
		}
	}
	return false
}

// TestCaptureWebsiteUnavailable forces Chromium away: the task fails with
// a clear code and message; the request itself succeeds.
func TestCaptureWebsiteUnavailable(t *testing.T) {
	reg := engine.NewRegistry(engine.Options{ChromiumPath: "-", LibreOfficePath: "-"})
	defer reg.Close()
	e := newEnv(t, func(c *Config) { c.Engines = reg })
	rt := e.lua(t)
	code := strings.Replace(docExamples(t)["create_job/Capture a website"], "https://example.com", e.files.URL+"/x.html", 1)
	res := runLua(t, rt, code+"return result.data.id\n")
	job := e.waitJob(res.Values[0].(string))
	capture := taskByName(job, "capture-website")
	if job["status"] != "error" || capture["status"] != "error" || capture["code"] != engine.CodeEngineNotAvailable ||
		!strings.Contains(fmt.Sprint(capture["message"]), "Chromium") {
		t.Fatalf("job: %s", jsonStr(job))
	}
	if exp := taskByName(job, "export"); exp["code"] != CodeInputTaskFailed {
		t.Errorf("export task: %s", jsonStr(exp))
	}
}
