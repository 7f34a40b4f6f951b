package luaruntime

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/png"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/api"

	cloudconvert "github.com/cctoolkit/cloudconvert/generated/cloudconvert"
	"github.com/cctoolkit/cloudconvert/integration"
	"github.com/cctoolkit/cloudconvert/internal/localtest"
	"github.com/cctoolkit/cloudconvert/localserver"
)

// Every Lua example the generated descriptor carries (each function's
// Examples and every ```lua block of every docs page) runs against the
// local server, and what it prints (or does) is checked against what it
// promises. An example without a promise below fails the test, naming it;
// so does a promise or an exclusion for an example that no longer exists.

// example is one distinct example, with every place it appears.
type example struct {
	key   string // create_job/Merge PDFs, get_job, or docs:<page> § <heading>
	code  string
	where []string
}

var luaBlock = regexp.MustCompile("(?s)```lua\n(.*?)```")

// descriptorExamples enumerates the examples of an integration. A docs
// block with the code of a function example is that example; other blocks
// are named after their page and the heading above them.
func descriptorExamples(in *integration.Integration) []*example {
	var out []*example
	byCode := map[string]*example{}
	add := func(key, code, where string) {
		code = strings.TrimSpace(code) + "\n"
		if ex := byCode[code]; ex != nil {
			ex.where = append(ex.where, where)
			return
		}
		for n := 2; slices.ContainsFunc(out, func(e *example) bool { return e.key == key }); n++ {
			key = fmt.Sprintf("%s #%d", strings.TrimSuffix(key, fmt.Sprintf(" #%d", n-1)), n)
		}
		ex := &example{key: key, code: code, where: []string{where}}
		out = append(out, ex)
		byCode[code] = ex
	}
	for _, fn := range in.Functions {
		for i, ex := range fn.Examples {
			key := fn.Name
			if ex.Title != "" {
				key += "/" + ex.Title
			}
			add(key, ex.Lua, fmt.Sprintf("spec: %s example %d", fn.Name, i+1))
		}
	}
	for _, page := range in.Docs {
		text := page.Text
		for _, m := range luaBlock.FindAllStringSubmatchIndex(text, -1) {
			// The block's place: its section (##) and the heading right
			// above it, e.g. "get_job › Example".
			section, nearest := "", ""
			for _, line := range strings.Split(text[:m[0]], "\n") {
				if !strings.HasPrefix(line, "#") {
					continue
				}
				title := strings.TrimSpace(strings.TrimLeft(line, "#"))
				switch {
				case strings.HasPrefix(line, "# "):
					section = "" // the page's title
				case strings.HasPrefix(line, "## "):
					section = title
				}
				nearest = title
			}
			place := nearest
			if section != "" && nearest != section {
				place = section + " › " + nearest
			}
			add("docs:"+page.Name+" § "+place, text[m[2]:m[3]], "docs: "+page.Name+" § "+place)
		}
	}
	return out
}

// cannotRunLocally lists the examples that are not run, each with the
// reason. Every example of the spec and docs runs today; an entry here
// must name an example that exists.
var cannotRunLocally = map[string]string{}

// exampleEnv is what the examples run against: the local server, a
// loopback file server for their URLs, and a finished job (import, convert
// a PDF to PNG, export) whose IDs stand in for the docs' placeholder IDs.
type exampleEnv struct {
	api *localtest.Server
	rt  *Runtime

	fileURL string
	// workspace is the examples' workspace: it holds document.pdf, which
	// the upload examples send.
	workspace string
	mu        sync.Mutex
	hooks     []map[string]any // webhooks received
	unknown   []string         // file requests for paths the file server does not have

	jobID, exportTaskID string
}

var (
	placeholderJob  = regexp.MustCompile(`(job_id\s*=\s*)"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"`)
	placeholderTask = regexp.MustCompile(`(task_id\s*=\s*)"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"`)
	exampleURL      = regexp.MustCompile(`https://example\.com(/[^"'\s]*)?`)
)

// rewrite is the one place an example is changed before it runs, so that
// it runs offline against the local server:
//   - https://example.com/... (unreachable offline) becomes the loopback
//     file server, which serves the documents the examples import and
//     receives their webhooks;
//   - the docs' placeholder ID in job_id = "<uuid>" or task_id = "<uuid>"
//     becomes the finished job, or its export task, made for the run.
//
// Nothing else of an example is touched.
func (e *exampleEnv) rewrite(code string) string {
	code = exampleURL.ReplaceAllStringFunc(code, func(u string) string {
		path := strings.TrimPrefix(u, "https://example.com")
		if path == "" {
			path = "/"
		}
		return e.fileURL + path
	})
	code = placeholderJob.ReplaceAllString(code, `${1}"`+e.jobID+`"`)
	return placeholderTask.ReplaceAllString(code, `${1}"`+e.exportTaskID+`"`)
}

// serveFile is the loopback file server.
func (e *exampleEnv) serveFile(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/hooks/cloudconvert":
		var hook map[string]any
		json.NewDecoder(r.Body).Decode(&hook)
		e.mu.Lock()
		e.hooks = append(e.hooks, hook)
		e.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	case r.URL.Path == "/":
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<html><body style='background:#36c'><h1>local capture</h1></body></html>")
	case r.URL.Path == "/document.pdf":
		w.Write(localserver.SamplePDF(1, "document"))
	case r.URL.Path == "/page1.pdf" || r.URL.Path == "/page2.pdf":
		w.Write(localserver.SamplePDF(1, strings.TrimSuffix(r.URL.Path[1:], ".pdf")))
	case r.URL.Path == "/favicon.ico":
		http.NotFound(w, r) // Chromium asks for it while capturing the page
	case r.URL.Path == "/report.docx":
		// Only the import is promised (the conversion needs LibreOffice).
		w.Write([]byte("PK\x03\x04 a stand-in for a report"))
	default:
		e.mu.Lock()
		e.unknown = append(e.unknown, r.Method+" "+r.URL.Path)
		e.mu.Unlock()
		http.NotFound(w, r)
	}
}

func (e *exampleEnv) webhooks() []map[string]any {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.hooks)
}

// run is one example's run: the result and the requests it made.
type run struct {
	res  *Result
	reqs []localRequest
}

// created returns the IDs in the answers to the run's POSTs to path.
func (r *run) created(path string) []string {
	var ids []string
	for _, q := range r.reqs {
		if q.Method != http.MethodPost || q.Path != path {
			continue
		}
		var m struct {
			Data struct{ ID string } `json:"data"`
		}
		if json.Unmarshal(q.Response, &m) == nil && m.Data.ID != "" {
			ids = append(ids, m.Data.ID)
		}
	}
	return ids
}

// promise is what an example promises: the lines it prints (patterns, in
// order) or, for listings, a pattern every line matches; and a check of
// what it did on the server.
type promise struct {
	lines []string
	each  string // every printed line matches; at least one line
	check func(t *testing.T, e *exampleEnv, r *run, m [][]string)
	// answered is the error status the example asks for on purpose
	// (the errors page's); any other status >= 400 fails it.
	answered int
}

const uuid = `[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`

// promises, by example key.
var promises = map[string]promise{
	"create_job/Convert a PDF to PNG": {lines: []string{`Job created: (` + uuid + `)`}, check: func(t *testing.T, e *exampleEnv, r *run, m [][]string) {
		if ids := r.created("/v2/jobs"); len(ids) != 1 || ids[0] != m[0][1] {
			t.Fatalf("printed %s, created %v", m[0][1], ids)
		}
		job := e.api.WaitJob(t, m[0][1])
		expectFinished(t, job)
		expectPNG(t, e, exportURL(t, job))
	}},
	"create_job/Capture a website": {check: func(t *testing.T, e *exampleEnv, r *run, _ [][]string) {
		ids := r.created("/v2/jobs")
		if len(ids) != 1 {
			t.Fatalf("created %v", ids)
		}
		job := e.api.WaitJob(t, ids[0])
		if chromium(e) {
			expectFinished(t, job)
			expectPNG(t, e, exportURL(t, job))
			return
		}
		// Without Chromium the local server says what to install.
		capture := taskNamed(t, job, "capture-website")
		if job["status"] != "error" || !strings.Contains(fmt.Sprint(capture["message"]), "needs Chromium, which is not installed; install the chromium package") {
			t.Fatalf("without Chromium: %s", mustJSON(job))
		}
	}},
	"create_job/Merge PDFs": {check: func(t *testing.T, e *exampleEnv, r *run, _ [][]string) {
		ids := r.created("/v2/jobs")
		if len(ids) != 1 {
			t.Fatalf("created %v", ids)
		}
		job := e.api.WaitJob(t, ids[0])
		expectFinished(t, job)
		pdf := e.api.Download(t, exportURL(t, job))
		if n, err := api.PageCount(bytes.NewReader(pdf), nil); err != nil || n != 2 {
			t.Fatalf("merged PDF: %d pages, %v", n, err)
		}
	}},
	"get_job": {lines: []string{`Status: finished`, `import \(import/base64\): finished`, `convert \(convert\): finished`, `export \(export/url\): finished`}},
	"wait_job": {lines: []string{`Status: finished`, `Download: (http://127\.0\.0\.1:\d+/\S+)`}, check: func(t *testing.T, e *exampleEnv, r *run, m [][]string) {
		expectPNG(t, e, m[1][1])
	}},
	"delete_job": {lines: []string{`Deleted (` + uuid + `)`}, check: func(t *testing.T, e *exampleEnv, r *run, m [][]string) {
		if status, _ := e.api.Get(t, "/v2/jobs/"+m[0][1]); status != http.StatusNotFound {
			t.Fatalf("the deleted job answers %d", status)
		}
	}},
	"list_jobs": {each: uuid + ` - finished`},
	"create_task": {lines: []string{`Task ID: (` + uuid + `)`}, check: func(t *testing.T, e *exampleEnv, r *run, m [][]string) {
		if ids := r.created("/v2/convert"); len(ids) != 1 || ids[0] != m[0][1] {
			t.Fatalf("printed %s, created %v", m[0][1], ids)
		}
	}},
	"get_task": {lines: []string{`Download: (http://127\.0\.0\.1:\d+/\S+)`}, check: func(t *testing.T, e *exampleEnv, r *run, m [][]string) {
		expectPNG(t, e, m[0][1])
	}},
	"wait_task":   {lines: []string{`import/base64: finished`}},
	"cancel_task": {lines: []string{`error CANCELLED`}},
	"retry_task": {lines: []string{`Retry (` + uuid + `) of (` + uuid + `)`}, check: func(t *testing.T, e *exampleEnv, r *run, m [][]string) {
		if created := r.created("/v2/import/base64"); m[0][1] == m[0][2] || len(created) != 1 || created[0] != m[0][2] {
			t.Fatalf("retry %s of %s; created %v", m[0][1], m[0][2], created)
		}
	}},
	"delete_task": {lines: []string{`Deleted (` + uuid + `)`}, check: func(t *testing.T, e *exampleEnv, r *run, m [][]string) {
		if status, _ := e.api.Get(t, "/v2/tasks/"+m[0][1]); status != http.StatusNotFound {
			t.Fatalf("the deleted task answers %d", status)
		}
	}},
	"list_tasks": {each: uuid + ` \(convert\): finished`},
	"upload_file/Convert a local PDF to PNG and save the result": {lines: []string{`import/upload: finished`, `out/document\.png \((\d+) bytes\)`}, check: func(t *testing.T, e *exampleEnv, r *run, m [][]string) {
		if ids := r.created("/v2/import/upload"); len(ids) != 1 {
			t.Fatalf("created upload tasks %v", ids)
		}
		expectPNGFile(t, filepath.Join(e.workspace, "out", "document.png"), m[1][1])
	}},
	"download_file/Convert a PDF and save the pages": {lines: []string{`Saved pages/document\.png`}, check: func(t *testing.T, e *exampleEnv, r *run, m [][]string) {
		if ids := r.created("/v2/jobs"); len(ids) != 1 {
			t.Fatalf("created jobs %v", ids)
		}
		expectPNGFile(t, filepath.Join(e.workspace, "pages", "document.png"), "")
	}},
	"get_current_user": {lines: []string{`User: local`, `Credits: 1000`}},
	"create_webhook": {lines: []string{`Webhook (` + uuid + `) for job\.finished, job\.failed`}, check: func(t *testing.T, e *exampleEnv, r *run, m [][]string) {
		if ids := r.created("/v2/webhooks"); len(ids) != 1 || ids[0] != m[0][1] {
			t.Fatalf("printed %s, created %v", m[0][1], ids)
		}
	}},
	// After create_webhook (examples run in key order): its webhook is listed.
	"list_webhooks": {each: uuid + ` http://127\.0\.0\.1:\d+/hooks/cloudconvert \(active\): job\.finished, job\.failed`},
	"delete_webhook": {lines: []string{`Deleted (` + uuid + `)`}, check: func(t *testing.T, e *exampleEnv, r *run, m [][]string) {
		if _, body := e.api.Get(t, "/v2/users/me/webhooks"); strings.Contains(fmt.Sprint(body), m[0][1]) {
			t.Fatalf("the deleted webhook is still listed: %s", body)
		}
	}},
	"list_operations": {lines: []string{`convert pdf -> png: density, engine, engine_version, filename, fit, height, pages, pixel_density, timeout, width`},
		check: func(t *testing.T, e *exampleEnv, r *run, _ [][]string) {
			if len(r.reqs) != 1 || r.reqs[0].Path != "/v2/operations" || !strings.Contains(r.reqs[0].Query, "include=options") {
				t.Fatalf("requests %+v, want one GET /v2/operations with include=options", r.reqs)
			}
		}},
	"docs:cloudconvert § Metadata-Derived Lua Example": {check: func(t *testing.T, e *exampleEnv, r *run, _ [][]string) {
		ids := r.created("/v2/jobs")
		if len(ids) != 1 || !strings.Contains(r.res.Output, `id = "`+ids[0]+`"`) || !strings.Contains(r.res.Output, `tag = "invoices-2026"`) {
			t.Fatalf("dump of the job: %s", r.res.Output)
		}
		expectFinished(t, e.api.WaitJob(t, ids[0]))
		// The job's webhook_url gets job.finished.
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			for _, h := range e.webhooks() {
				if job, _ := h["job"].(map[string]any); h["event"] == "job.finished" && job["id"] == ids[0] {
					return
				}
			}
		}
		t.Fatalf("no job.finished webhook for %s: %v", ids[0], e.webhooks())
	}},
	"docs:cloudconvert.errors § Example": {lines: []string{"api_error\t404\tNOT_FOUND", `Job not found`, "invalid_argument\tjob_id"}, answered: http.StatusNotFound, check: func(t *testing.T, e *exampleEnv, r *run, _ [][]string) {
		// One request, the 404; the argument error sent nothing.
		if len(r.reqs) != 1 || r.reqs[0].Method != http.MethodGet || r.reqs[0].Path != "/v2/jobs/does-not-exist" || r.reqs[0].Status != http.StatusNotFound {
			t.Fatalf("requests: %+v", r.reqs)
		}
	}},
	"docs:integrations.cloudconvert § Multi-Account Usage": {check: func(t *testing.T, e *exampleEnv, r *run, _ [][]string) {
		var got []string
		for _, c := range r.res.Calls {
			got = append(got, c.Function+"@"+c.Account+":"+c.Outcome)
		}
		want := []string{"cloudconvert.list_jobs@default:ok", "cloudconvert.list_jobs@default:ok", "cloudconvert.list_jobs@production:ok", "cloudconvert.list_jobs@staging:ok"}
		if !slices.Equal(got, want) {
			t.Fatalf("calls %v, want %v", got, want)
		}
	}},
}

// exampleCoverage says what is wrong with the promises and exclusions for
// these examples: an example neither promised nor excluded, both, or an
// entry that names no example.
func exampleCoverage(examples []*example) []string {
	var msgs []string
	keys := map[string]bool{}
	for _, ex := range examples {
		keys[ex.key] = true
		_, promised := promises[ex.key]
		reason, excluded := cannotRunLocally[ex.key]
		switch {
		case promised && excluded:
			msgs = append(msgs, fmt.Sprintf("example %q has a promise and is excluded (%s)", ex.key, reason))
		case !promised && !excluded:
			msgs = append(msgs, fmt.Sprintf("example %q (%s) is run by no test: add what it prints or does to promises in examples_test.go, or the reason it cannot run to cannotRunLocally\n%s",
				ex.key, strings.Join(ex.where, "; "), ex.code))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(promises)) {
		if !keys[k] {
			msgs = append(msgs, fmt.Sprintf("promises has %q, which is no example of the descriptor (renamed?)", k))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(cannotRunLocally)) {
		if !keys[k] {
			msgs = append(msgs, fmt.Sprintf("cannotRunLocally has %q, which is no example of the descriptor", k))
		}
	}
	return msgs
}

// TestExampleWithoutPromiseFails: an example added to the spec or the
// docs, or a renamed one, is reported by name.
func TestExampleWithoutPromiseFails(t *testing.T) {
	desc := cloudconvert.Descriptor()
	if msgs := exampleCoverage(descriptorExamples(desc)); len(msgs) != 0 {
		t.Fatalf("the descriptor's examples are not all covered: %v", msgs)
	}
	// A copy with one more docs block and one function example renamed
	// (the descriptor itself is shared and never modified).
	in := &integration.Integration{Docs: append(slices.Clone(desc.Docs), &integration.DocPage{Name: "recipes", Text: "# Recipes\n\n## Thumbnails\n\n### From a PDF\n\n```lua\nprint(app.integrations.cloudconvert.list_jobs({}))\n```\n"})}
	for _, fn := range desc.Functions {
		c := &integration.Function{Name: fn.Name, Examples: fn.Examples}
		if fn.Name == "get_current_user" {
			c.Name = "whoami"
		}
		in.Functions = append(in.Functions, c)
	}
	msgs := strings.Join(exampleCoverage(descriptorExamples(in)), "\n")
	for _, want := range []string{
		`example "docs:recipes § Thumbnails › From a PDF" (docs: recipes § Thumbnails › From a PDF) is run by no test`,
		`example "whoami" (spec: whoami example 1; docs: integrations.cloudconvert § get_current_user › Example; docs: cloudconvert.get_current_user § Example) is run by no test`,
		`promises has "get_current_user", which is no example of the descriptor`,
	} {
		if !strings.Contains(msgs, want) {
			t.Errorf("the report lacks %q:\n%s", want, msgs)
		}
	}
}

func TestEveryExampleRunsLocally(t *testing.T) {
	desc := cloudconvert.Descriptor()
	examples := descriptorExamples(desc)
	if len(examples) < 15 {
		t.Fatalf("found only %d examples", len(examples))
	}
	for _, msg := range exampleCoverage(examples) {
		t.Error(msg)
	}
	if t.Failed() {
		return
	}

	e := newExampleEnv(t)
	sort.Slice(examples, func(i, j int) bool { return examples[i].key < examples[j].key })
	ran := 0
	for _, ex := range examples {
		if _, skip := cannotRunLocally[ex.key]; skip {
			continue
		}
		ran++
		t.Run(ex.key, func(t *testing.T) {
			code := e.rewrite(ex.code)
			if strings.Contains(code, "example.com") {
				t.Fatalf("an example.com URL was left: the rewrite rule misses it\n%s", code)
			}
			e.api.Reset()
			res := e.rt.Execute(context.Background(), code)
			r := &run{res: res, reqs: e.api.Requests()}
			if res.Error != nil {
				t.Fatalf("%v\n--- output:\n%s--- code (%s):\n%s", res.Error, res.Output, strings.Join(ex.where, "; "), code)
			}
			if len(r.reqs) == 0 {
				t.Fatal("sent no request")
			}
			p := promises[ex.key]
			for _, q := range r.reqs {
				if q.Status >= 400 && q.Status != p.answered {
					t.Errorf("%s %s answered %d", q.Method, q.Path, q.Status)
				}
			}
			m := matchOutput(t, res.Output, p)
			if p.check != nil && !t.Failed() {
				p.check(t, e, r, m)
			}
		})
	}
	if got := e.unknownFiles(); len(got) > 0 {
		t.Errorf("examples asked the file server for what it does not serve: %v", got)
	}
	places := 0
	for _, ex := range examples {
		places += len(ex.where)
	}
	t.Logf("%d distinct examples ran (%d distinct, %d places in the spec and docs)", ran, len(examples), places)
}

// matchOutput checks the printed lines against the promise and returns
// each line's submatches.
func matchOutput(t *testing.T, out string, p promise) [][]string {
	t.Helper()
	var lines []string
	if out != "" {
		lines = strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	}
	if p.each != "" {
		re := regexp.MustCompile("^" + p.each + "$")
		if len(lines) == 0 {
			t.Fatalf("printed nothing; want lines like %s", p.each)
		}
		var m [][]string
		for _, l := range lines {
			sub := re.FindStringSubmatch(l)
			if sub == nil {
				t.Fatalf("line %q does not match %s", l, p.each)
			}
			m = append(m, sub)
		}
		return m
	}
	if p.lines == nil {
		if p.check == nil {
			t.Fatal("the promise says nothing")
		}
		return nil
	}
	if len(lines) != len(p.lines) {
		t.Fatalf("printed %d lines, want %d:\n%s", len(lines), len(p.lines), out)
	}
	var m [][]string
	for i, l := range lines {
		sub := regexp.MustCompile("^" + p.lines[i] + "$").FindStringSubmatch(l)
		if sub == nil {
			t.Fatalf("line %d %q does not match %s", i+1, l, p.lines[i])
		}
		m = append(m, sub)
	}
	return m
}

func newExampleEnv(t *testing.T) *exampleEnv {
	e := &exampleEnv{api: newLocalAPI(t), workspace: t.TempDir()}
	e.fileURL = newFileServer(t, e.serveFile).URL
	if err := os.WriteFile(filepath.Join(e.workspace, "document.pdf"), localserver.SamplePDF(1, "document"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.rt = newTestRuntime(t, e.api.URL, rtOptions{limits: Limits{Timeout: 5 * time.Minute}, workspace: e.workspace})
	// The finished job the placeholder IDs stand for. Its PDF render also
	// compiles PDFium (seconds; minutes under -race), so that examples
	// that wait 25 s for a conversion measure the conversion only.
	pdf := base64.StdEncoding.EncodeToString(localserver.SamplePDF(1, "fixture"))
	res := e.rt.Execute(context.Background(), fmt.Sprintf(`
local cc = app.integrations.cloudconvert
local job = cc.create_job({tasks = {
  {operation = "import/base64", file = %q, filename = "fixture.pdf"},
  {operation = "convert", input = "import", output_format = "png"},
  {operation = "export/url", input = "convert"},
}})
return job.data.id`, pdf))
	if res.Error != nil {
		t.Fatal(res.Error)
	}
	e.jobID = res.Values[0].(string)
	job := e.api.WaitJob(t, e.jobID)
	expectFinished(t, job)
	e.exportTaskID = taskNamed(t, job, "export")["id"].(string)
	return e
}

func (e *exampleEnv) unknownFiles() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.unknown)
}

func chromium(e *exampleEnv) bool {
	for _, eng := range e.api.Engines().Engines() {
		if strings.EqualFold(eng.Name, "chromium") {
			return eng.Available
		}
	}
	return false
}

func expectFinished(t *testing.T, job map[string]any) {
	t.Helper()
	if job["status"] != "finished" {
		t.Fatalf("job %v ended %v: %s", job["id"], job["status"], mustJSON(job))
	}
}

func taskNamed(t *testing.T, job map[string]any, name string) map[string]any {
	t.Helper()
	tasks, _ := job["tasks"].([]any)
	for _, x := range tasks {
		if task, _ := x.(map[string]any); task["name"] == name {
			return task
		}
	}
	t.Fatalf("job has no task %q: %s", name, mustJSON(job))
	return nil
}

// exportURL is the URL of the first file of a job's export/url task.
func exportURL(t *testing.T, job map[string]any) string {
	t.Helper()
	tasks, _ := job["tasks"].([]any)
	for _, x := range tasks {
		task, _ := x.(map[string]any)
		if task["operation"] != "export/url" {
			continue
		}
		result, _ := task["result"].(map[string]any)
		files, _ := result["files"].([]any)
		if len(files) > 0 {
			if u, ok := files[0].(map[string]any)["url"].(string); ok {
				return u
			}
		}
	}
	t.Fatalf("no exported file: %s", mustJSON(job))
	return ""
}

// expectPNGFile checks a PNG the examples wrote into the workspace (of
// size bytes, when given).
func expectPNGFile(t *testing.T, path, size string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if size != "" && strconv.Itoa(len(b)) != size {
		t.Errorf("%s has %d bytes; the example printed %s", path, len(b), size)
	}
	if img, err := png.Decode(bytes.NewReader(b)); err != nil || img.Bounds().Dx() < 50 {
		t.Fatalf("%s is not a PNG render: %v", path, err)
	}
}

func expectPNG(t *testing.T, e *exampleEnv, url string) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(e.api.Download(t, url)))
	if err != nil {
		t.Fatalf("%s is not a PNG: %v", url, err)
	}
	if b := img.Bounds(); b.Dx() < 50 || b.Dy() < 50 {
		t.Fatalf("%s: a tiny render %v", url, b)
	}
}
