package localserver

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/api"

	"github.com/cctoolkit/cloudconvert/accounts"
	cloudconvert "github.com/cctoolkit/cloudconvert/generated/cloudconvert"
	"github.com/cctoolkit/cloudconvert/integration/invoke"
	"github.com/cctoolkit/cloudconvert/localserver/engine"
	"github.com/cctoolkit/cloudconvert/luaruntime"
	"github.com/cctoolkit/cloudconvert/sdk/webhook"
)

// docExamples lists every Lua example the generated descriptor carries:
// each function's examples, keyed "create_job/Convert a PDF to PNG" (the
// function's name alone for an untitled one), and the Lua blocks of the
// docs pages that are not one of those, keyed "docs:<page>#<n>". Nothing
// here is a hand-kept list: a new example in the spec shows up here.
func docExamples(t testing.TB) map[string]string {
	t.Helper()
	desc := cloudconvert.Descriptor()
	out := map[string]string{}
	known := map[string]bool{}
	for _, fn := range desc.Functions {
		for _, ex := range fn.Examples {
			key := fn.Name
			if ex.Title != "" {
				key += "/" + ex.Title
			}
			if _, dup := out[key]; dup {
				t.Fatalf("two examples are called %s", key)
			}
			out[key] = ex.Lua
			known[strings.TrimSpace(ex.Lua)] = true
		}
	}
	for _, page := range desc.Docs {
		lines := strings.Split(page.Text, "\n")
		n := 0
		for i := 0; i < len(lines); i++ {
			if strings.TrimSpace(lines[i]) != "```lua" {
				continue
			}
			var code []string
			for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
				code = append(code, lines[i])
			}
			text := strings.Join(code, "\n") + "\n"
			if known[strings.TrimSpace(text)] {
				continue
			}
			known[strings.TrimSpace(text)] = true
			n++
			out[fmt.Sprintf("docs:%s#%d", page.Name, n)] = text
		}
	}
	if len(out) < 16 {
		t.Fatalf("only %d examples found in the descriptor", len(out))
	}
	return out
}

// lua is a runtime whose default account, and the named ones, use the
// server.
func (e *env) lua(t testing.TB, named ...string) *luaruntime.Runtime {
	t.Helper()
	return e.luaIn(t, "", named...)
}

// luaIn is lua with a workspace for upload_file and download_file.
func (e *env) luaIn(t testing.TB, workspace string, named ...string) *luaruntime.Runtime {
	t.Helper()
	acct := func(name string) *accounts.Account {
		return &accounts.Account{Name: name, APIKey: accounts.NewSecret(testKey),
			BaseURL: e.URL + "/v2", SyncURL: e.URL + "/sync/v2", Source: "test"}
	}
	var others []*accounts.Account
	for _, n := range named {
		others = append(others, acct(n))
	}
	inv, err := invoke.New(invoke.Options{Integration: cloudconvert.Descriptor(), Accounts: accounts.NewSet(acct(accounts.DefaultName), others...), Policy: invoke.Headless(true), Workspace: workspace})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := luaruntime.New(luaruntime.Options{Invoker: inv})
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

// replace swaps a URL or an ID of an example for a local one; an example
// that no longer contains it has changed, and its checks must be looked at.
func replace(t testing.TB, code, old, new string) string {
	t.Helper()
	if !strings.Contains(code, old) {
		t.Fatalf("the example no longer contains %q; update this test:\n%s", old, code)
	}
	return strings.ReplaceAll(code, old, new)
}

var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// TestDocExamplesLua runs every Lua example of the docs through the Lua
// runtime against a real server, inputs served from loopback, and checks
// each one's output. An example without a run here fails the test, naming
// it.
func TestDocExamplesLua(t *testing.T) {
	ex := docExamples(t)
	e := newEnv(t, func(c *Config) { c.WebhookSecret = testHookSecret })
	rt := e.lua(t)
	pdfURL := e.serve("document.pdf", SamplePDF(1, "seed example"))
	p1 := e.serve("page1.pdf", SamplePDF(1, "first"))
	p2 := e.serve("page2.pdf", SamplePDF(1, "second"))
	e.serve("index.html", []byte("<html><body style='background:#36c'><h1>local capture</h1></body></html>"))
	hooks := newHookReceiver(t)
	accountHooks := newRawHooks(t, nil)

	var pngJobID, exportTaskID string
	runs := []struct {
		key string
		run func(t *testing.T, code string)
	}{
		{"create_job/Convert a PDF to PNG", func(t *testing.T, code string) {
			res := runLua(t, rt, replace(t, code, "https://example.com/document.pdf", pdfURL)+"return jobId\n")
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
		}},
		{"create_job/Merge PDFs", func(t *testing.T, code string) {
			code = replace(t, code, "https://example.com/page1.pdf", p1)
			code = replace(t, code, "https://example.com/page2.pdf", p2)
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
		}},
		{"create_job/Capture a website", func(t *testing.T, code string) {
			res := runLua(t, rt, replace(t, code, "https://example.com", e.files.URL+"/index.html")+"return result.data.id\n")
			job := e.waitJob(res.Values[0].(string))
			if !chromiumAvailable(registry()) {
				// Without Chromium the request succeeds and the task says
				// why it failed (TestCaptureWebsiteUnavailable forces it).
				if c := taskByName(job, "capture-website"); c["code"] != engine.CodeEngineNotAvailable {
					t.Fatalf("job %s", jsonStr(job))
				}
				return
			}
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
		}},
		{"docs:cloudconvert#1", func(t *testing.T, code string) {
			code = replace(t, code, "https://example.com/document.pdf", pdfURL)
			code = replace(t, code, "https://example.com/hooks/cloudconvert", hooks.URL+"/hooks/cloudconvert")
			out := runLua(t, rt, code).Output
			id := uuidRE.FindString(out)
			if !strings.Contains(out, `tag = "invoices-2026"`) || id == "" {
				t.Fatalf("output:\n%s", out)
			}
			if ev := hooks.wait(t, id); ev.Event != webhook.JobFinished || ev.Job.Status != "finished" {
				t.Errorf("webhook %+v", ev)
			}
		}},
		{"docs:cloudconvert.errors#1", func(t *testing.T, code string) {
			// The errors page's example: an API error and an argument error, caught.
			if out := runLua(t, rt, code).Output; out != "api_error\t404\tNOT_FOUND\nJob not found\ninvalid_argument\tjob_id\n" {
				t.Errorf("output %q", out)
			}
		}},
		{"docs:integrations.cloudconvert#1", func(t *testing.T, code string) {
			// The accounts the docs name, configured here.
			named := cloudconvert.Descriptor().Accounts
			res := runLua(t, e.lua(t, named...), code)
			var got []string
			for _, c := range res.Calls {
				if c.Function != "cloudconvert.list_jobs" || c.Outcome != "ok" {
					t.Errorf("call %+v", c)
				}
				got = append(got, c.Account)
			}
			if want := append([]string{accounts.DefaultName, accounts.DefaultName}, named...); !slices.Equal(got, want) {
				t.Errorf("accounts used %v, want %v", got, want)
			}
		}},
		{"get_job", func(t *testing.T, code string) {
			out := runLua(t, rt, uuidRE.ReplaceAllString(code, pngJobID)).Output
			for _, want := range []string{"Status: finished", "import (import/url): finished", "convert (convert): finished", "export (export/url): finished"} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		}},
		{"wait_job", func(t *testing.T, code string) {
			out := runLua(t, rt, replace(t, code, "https://example.com/document.pdf", pdfURL)).Output
			if !strings.Contains(out, "Status: finished") || !strings.Contains(out, "Download: "+e.URL+"/files/") {
				t.Errorf("output:\n%s", out)
			}
		}},
		{"delete_job", func(t *testing.T, code string) {
			out := runLua(t, rt, replace(t, code, "https://example.com/document.pdf", pdfURL)).Output
			id := uuidRE.FindString(out)
			if out != "Deleted "+id+"\n" {
				t.Fatalf("output %q", out)
			}
			if code, _, _ := e.do("GET", "/v2/jobs/"+id, nil); code != 404 {
				t.Errorf("the deleted job answers %d", code)
			}
		}},
		{"list_jobs", func(t *testing.T, code string) {
			out := runLua(t, rt, code).Output
			if !strings.Contains(out, pngJobID+" - finished") {
				t.Errorf("output lacks %s:\n%s", pngJobID, out)
			}
		}},
		{"create_task", func(t *testing.T, code string) {
			docx := e.serve("report.docx", []byte("not really a docx"))
			out := runLua(t, rt, replace(t, code, "https://example.com/report.docx", docx)).Output
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
		}},
		{"get_task", func(t *testing.T, code string) {
			out := runLua(t, rt, uuidRE.ReplaceAllString(code, exportTaskID)).Output
			if !strings.HasPrefix(out, "Download: "+e.URL+"/files/") {
				t.Errorf("output %q", out)
			}
		}},
		{"wait_task", func(t *testing.T, code string) {
			if out := runLua(t, rt, code).Output; out != "import/base64: finished\n" {
				t.Errorf("output %q", out)
			}
		}},
		{"cancel_task", func(t *testing.T, code string) {
			if out := runLua(t, rt, code).Output; out != "error CANCELLED\n" {
				t.Errorf("output %q", out)
			}
		}},
		{"retry_task", func(t *testing.T, code string) {
			out := runLua(t, rt, code).Output
			ids := uuidRE.FindAllString(out, -1)
			if len(ids) != 2 || ids[0] == ids[1] || out != "Retry "+ids[0]+" of "+ids[1]+"\n" {
				t.Fatalf("output %q", out)
			}
			_, body, _ := e.do("GET", "/v2/tasks/"+ids[0], nil)
			if task := body["data"].(map[string]any); task["retry_of_task_id"] != ids[1] || task["operation"] != "import/base64" {
				t.Errorf("retry: %s", jsonStr(body))
			}
		}},
		{"delete_task", func(t *testing.T, code string) {
			out := runLua(t, rt, code).Output
			id := uuidRE.FindString(out)
			if out != "Deleted "+id+"\n" {
				t.Fatalf("output %q", out)
			}
			if code, _, _ := e.do("GET", "/v2/tasks/"+id, nil); code != 404 {
				t.Errorf("the deleted task answers %d", code)
			}
		}},
		{"list_tasks", func(t *testing.T, code string) {
			out := runLua(t, rt, code).Output
			if !strings.Contains(out, "(convert): finished") || strings.Contains(out, "import/url") {
				t.Errorf("output:\n%s", out)
			}
		}},
		{"get_current_user", func(t *testing.T, code string) {
			if out := runLua(t, rt, code).Output; out != "User: local\nCredits: 1000\n" {
				t.Errorf("output %q", out)
			}
		}},
		{"create_webhook", func(t *testing.T, code string) {
			res := runLua(t, rt, replace(t, code, "https://example.com/hooks/cloudconvert", accountHooks.URL+"/hooks/cloudconvert")+"\nreturn secret\n")
			id := uuidRE.FindString(res.Output)
			if res.Output != "Webhook "+id+" for job.finished, job.failed\n" {
				t.Fatalf("output %q", res.Output)
			}
			secret := res.Values[0].(string)
			// The webhook receives the next job's end, signed with its own secret.
			_, body, _ := e.do("POST", "/v2/jobs", map[string]any{"tasks": map[string]any{
				"in": map[string]any{"operation": "import/base64", "file": "aGVsbG8=", "filename": "a.txt"}}})
			jobID := body["data"].(map[string]any)["id"].(string)
			waitFor(t, "the account webhook's delivery", func() bool { return len(accountHooks.on("/hooks/cloudconvert")) > 0 })
			d := accountHooks.on("/hooks/cloudconvert")[0]
			if err := webhook.Verify(secret, d.body, d.sig); err != nil || d.event.Event != webhook.JobFinished || d.event.Job.Id != jobID {
				t.Errorf("delivery %s (%v)", d.body, err)
			}
		}},
		{"list_webhooks", func(t *testing.T, code string) {
			out := runLua(t, rt, replace(t, code, "https://example.com/hooks/cloudconvert", accountHooks.URL+"/hooks/cloudconvert")).Output
			id := uuidRE.FindString(out)
			if out != id+" "+accountHooks.URL+"/hooks/cloudconvert (active): job.finished, job.failed\n" {
				t.Errorf("output %q", out)
			}
		}},
		{"delete_webhook", func(t *testing.T, code string) {
			out := runLua(t, rt, replace(t, code, "https://example.com/hooks/cloudconvert", accountHooks.URL+"/hooks/cloudconvert")).Output
			id := uuidRE.FindString(out)
			if out != "Deleted "+id+"\n" {
				t.Fatalf("output %q", out)
			}
			if _, body, _ := e.do("GET", "/v2/users/me/webhooks", nil); strings.Contains(jsonStr(body), id) || len(body["data"].([]any)) != 1 {
				t.Errorf("after deleting %s: %s", id, jsonStr(body))
			}
		}},
		{"upload_file/Convert a local PDF to PNG and save the result", func(t *testing.T, code string) {
			ws := t.TempDir()
			if err := os.WriteFile(filepath.Join(ws, "document.pdf"), SamplePDF(1, "upload example"), 0o644); err != nil {
				t.Fatal(err)
			}
			out := runLua(t, e.luaIn(t, ws), code).Output
			b, err := os.ReadFile(filepath.Join(ws, "out", "document.png"))
			if err != nil || out != fmt.Sprintf("import/upload: finished\nout/document.png (%d bytes)\n", len(b)) {
				t.Fatalf("output %q, file: %v", out, err)
			}
			if _, err := png.Decode(bytes.NewReader(b)); err != nil {
				t.Fatalf("not a PNG: %v", err)
			}
		}},
		{"download_file/Convert a PDF and save the pages", func(t *testing.T, code string) {
			ws := t.TempDir()
			out := runLua(t, e.luaIn(t, ws), replace(t, code, "https://example.com/document.pdf", pdfURL)).Output
			b, err := os.ReadFile(filepath.Join(ws, "pages", "document.png"))
			if err != nil || out != "Saved pages/document.png\n" {
				t.Fatalf("output %q, file: %v", out, err)
			}
			if _, err := png.Decode(bytes.NewReader(b)); err != nil {
				t.Fatalf("not a PNG: %v", err)
			}
		}},
		{"list_operations", func(t *testing.T, code string) {
			out := runLua(t, rt, code).Output
			if out != "convert pdf -> png: density, engine, engine_version, filename, fit, height, pages, pixel_density, timeout, width\n" {
				t.Errorf("output %q", out)
			}
		}},
	}
	for _, r := range runs {
		code, ok := ex[r.key]
		if !ok {
			t.Errorf("the docs have no example %q any more (renamed or removed?): update this test", r.key)
			continue
		}
		t.Run(r.key, func(t *testing.T) { r.run(t, code) })
	}
	covered := map[string]bool{}
	for _, r := range runs {
		covered[r.key] = true
	}
	for _, key := range slices.Sorted(maps.Keys(ex)) {
		if covered[key] {
			continue
		}
		t.Errorf("the docs example %q is not run against the local server: add it to TestDocExamplesLua\n%s", key, ex[key])
	}
}

// hookReceiver collects the webhooks the server sends, checking their
// signatures.
type hookReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	events map[string][]*webhook.Event // job ID -> events
	bad    []string
}

// testHookSecret signs the webhooks of the servers these tests start.
const testHookSecret = "test-webhook-secret"

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{events: map[string][]*webhook.Event{}}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		if err := webhook.Verify(testHookSecret, body, r.Header.Get(webhook.SignatureHeader)); err != nil {
			h.bad = append(h.bad, err.Error())
			w.WriteHeader(400)
			return
		}
		ev, err := webhook.Decode(body)
		if err != nil {
			h.bad = append(h.bad, err.Error())
			w.WriteHeader(400)
			return
		}
		h.events[ev.Job.Id] = append(h.events[ev.Job.Id], ev)
	}))
	t.Cleanup(h.Close)
	return h
}

// wait returns the job's last event once it has ended (finished or failed).
func (h *hookReceiver) wait(t *testing.T, jobID string) *webhook.Event {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		evs, bad := h.events[jobID], h.bad
		h.mu.Unlock()
		if len(bad) > 0 {
			t.Fatalf("bad webhooks: %v", bad)
		}
		if n := len(evs); n > 0 && (evs[n-1].Event == webhook.JobFinished || evs[n-1].Event == webhook.JobFailed) {
			return evs[n-1]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no webhook for job %s within a minute", jobID)
	return nil
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
	code := replace(t, docExamples(t)["create_job/Capture a website"], "https://example.com", e.files.URL+"/x.html")
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
