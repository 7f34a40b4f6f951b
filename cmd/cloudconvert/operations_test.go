package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	fp "github.com/cctoolkit/cloudconvert/internal/faultproxy"
)

// countSeen counts the proxy's requests of method to path.
func countSeen(p *fp.Proxy, method, path string) int {
	n := 0
	for _, r := range p.Seen() {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

// TestListOperationsCLI: `call list_operations` with formats lists the
// pdf -> png operations with their options (include=options is sent
// without being asked for), and the local server answers it.
func TestListOperationsCLI(t *testing.T) {
	b := newLocalBackend(t)
	code, out, errs := run(t, b.environ(), "call", "list_operations", `{"input_format":"pdf","output_format":"png"}`)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var list struct {
		Data []struct {
			Operation, InputFormat, OutputFormat string
			Options                              []struct{ Name, Type string }
		}
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	ops := map[string][]string{}
	for _, d := range list.Data {
		for _, o := range d.Options {
			ops[d.Operation] = append(ops[d.Operation], o.Name)
		}
	}
	if len(list.Data) != 2 || !strings.Contains(strings.Join(ops["convert"], ","), "pages,pixel_density") || len(ops["thumbnail"]) == 0 {
		t.Fatalf("pdf -> png: %s", out)
	}
}

// TestOperationsDocsCLI: the docs have one page per operation family,
// made from the engines' catalogue, found by searching for an option.
func TestOperationsDocsCLI(t *testing.T) {
	env := map[string]string{}
	code, out, _ := run(t, env, "docs", "--search", "pixel_density")
	if code != 0 || !strings.Contains(out, "- cloudconvert.operations.convert: Operations: convert") {
		t.Fatalf("search: exit %d\n%s", code, out)
	}
	code, out, _ = run(t, env, "docs")
	for _, fam := range []string{"convert", "optimize", "thumbnail", "merge", "watermark", "archive", "capture-website", "metadata", "pdf", "import", "export"} {
		if !strings.Contains(out, "- cloudconvert.operations."+fam+":") {
			t.Errorf("docs lists no page for %s", fam)
		}
	}
	code, out, _ = run(t, env, "docs", "cloudconvert.operations.convert")
	for _, want := range []string{"# Operations: convert", "describes what the **local CloudConvert server** performs",
		"The real CloudConvert service performs many more", "`list_operations`", "| `pixel_density` | integer (10 to 1200) | `150` |"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("the convert page lacks %q", want)
		}
	}
	// Scripts make the pages on first use (ExtraDocsFunc): they are there.
	code, out, errOut := run(t, env, "lua", "-e", `print(docs.read("operations.convert"):sub(1, 21), lua_search_docs("pixel_density"):find("cloudconvert.operations.convert", 1, true) ~= nil)`)
	if code != 0 || out != "# Operations: convert\ttrue\n" {
		t.Errorf("lua reading the operations pages: exit %d\n%s%s", code, out, errOut)
	}
}

// TestConvertChecksOptions: `convert` checks its tasks against the
// server's catalogue before anything is uploaded: a misspelt option names
// the right one, an output the server does not make from the input fails;
// the request recorder sees the catalogue asked for, and no job.
func TestConvertChecksOptions(t *testing.T) {
	b := newLocalBackend(t)
	proxy := fp.New(t, b.env["CLOUDCONVERT_BASE_URL"])
	env := map[string]string{"CLOUDCONVERT_API_KEY": key, "CLOUDCONVERT_BASE_URL": proxy.URL + "/v2", "CLOUDCONVERT_CACHE_DIR": t.TempDir()}
	dir := writeInputs(t)
	before := b.jobCount(t)
	cases := []struct {
		name string
		args []string
		err  string
	}{
		{"misspelt option", []string{"--to", "jpg", "--option", "qualty=80"}, `convert a.png: "qualty" is not an option of convert from png to jpg (did you mean "quality"?)`},
		{"unsupported pair", []string{"--to", "mp4"}, "convert a.png: convert from png to mp4 is not supported; convert from png makes: bmp, gif, jpg, pdf, png, tiff, webp"},
		{"out of range", []string{"--to", "jpg", "--option", "quality=500"}, "option quality of convert from png to jpg must be between 1 and 100, got 500"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			proxy.Forget()
			code, stdout, stderr := run(t, env, append([]string{"convert", filepath.Join(dir, "a.png"), "-o", t.TempDir()}, c.args...)...)
			if code == 0 || !strings.Contains(stderr, c.err) || !isOneLine(stderr) || stdout != "" {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
			for _, r := range proxy.Seen() {
				if r.Path != "/v2/operations" {
					t.Errorf("sent %s %s before the check refused", r.Method, r.Path)
				}
			}
		})
	}
	if n := b.jobCount(t); n != before {
		t.Fatalf("refused conversions created %d jobs", n-before)
	}
	// The catalogue was asked for once: the other runs read it from disk.
	proxy.Forget()
	code, stdout, stderr := run(t, env, "convert", filepath.Join(dir, "a.png"), "--to", "jpg", "--option", "quality=80", "-o", t.TempDir(), "-q")
	if code != 0 || countSeen(proxy, "GET", "/v2/operations") != 0 || countSeen(proxy, "POST", "/v2/jobs") != 1 {
		t.Fatalf("a good conversion: exit %d, %v\nstdout: %s\nstderr: %s", code, proxy.Seen(), stdout, stderr)
	}
	if files, _ := filepath.Glob(filepath.Join(env["CLOUDCONVERT_CACHE_DIR"], "operations", "operations-*.json")); len(files) != 1 {
		t.Fatalf("cache files %v", files)
	}
}

// TestCallChecksTasks: create_job and create_task, through call and Lua,
// are checked against the catalogue before they are sent; when the
// server serves no catalogue the call goes out unchecked and the CLI says
// so.
func TestCallChecksTasks(t *testing.T) {
	b := newLocalBackend(t)
	proxy := fp.New(t, b.env["CLOUDCONVERT_BASE_URL"])
	env := map[string]string{"CLOUDCONVERT_API_KEY": key, "CLOUDCONVERT_BASE_URL": proxy.URL + "/v2", "CLOUDCONVERT_CACHE_DIR": t.TempDir()}
	job := `{"tasks":[{"name":"in","operation":"import/base64","file":"eA==","filename":"a.png"},{"name":"c","operation":"convert","input":"in","output_format":"jpg","qualty":80}]}`
	cases := []struct {
		name string
		args []string
		code int
		out  string
		err  string
	}{
		{"call create_job", []string{"call", "create_job", job, "--allow-write"}, exitFailure, "",
			`cloudconvert: cloudconvert.create_job: tasks.c.qualty: "qualty" is not an option of convert from png to jpg (did you mean "quality"?); its options: engine, engine_version, filename, fit, height, quality, timeout, width (checked before sending against the operations catalogue, GET ` + proxy.URL + `/v2/operations)`},
		{"call create_task", []string{"call", "create_task", `{"operation":"convert","input":"6559c281","input_format":"png","output_format":"mp4"}`, "--allow-write", "--json"}, exitFailure,
			`"param": "output_format"`, ""},
		{"lua pcall", []string{"lua", "--allow-write", "-e", `local ok, e = pcall(app.integrations.cloudconvert.create_job, {tasks = {
  {operation = "import/url", url = "https://example.com/report.pdf"},
  {operation = "pdf/ocr", input = "import"}}})
print(ok, e.kind, e.param, e.message)`}, exitOK, "false\tinvalid_argument\ttasks.pdf.operation\tpdf/ocr from pdf is not available on this server: runs on the real CloudConvert service only", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			proxy.Forget()
			code, stdout, stderr := run(t, env, c.args...)
			if code != c.code || !strings.Contains(stdout, c.out) || !strings.Contains(stderr, c.err) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, c.code, stdout, stderr)
			}
			for _, r := range proxy.Seen() {
				if r.Method == "POST" {
					t.Errorf("sent %s %s", r.Method, r.Path)
				}
			}
		})
	}
	// A good job passes.
	code, stdout, stderr := run(t, env, "call", "create_job", strings.Replace(job, "qualty", "quality", 1), "--allow-write")
	if code != 0 || !strings.Contains(stdout, `"status"`) {
		t.Fatalf("a good job: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}

	// No catalogue: the server answers /v2/operations 502. The job goes
	// out unchecked (the server fails its task), and the CLI says so.
	proxy.Plan("GET /v2/operations", true, fp.BadGateway)
	noCache := map[string]string{"CLOUDCONVERT_API_KEY": key, "CLOUDCONVERT_BASE_URL": proxy.URL + "/v2", "CLOUDCONVERT_CACHE_DIR": t.TempDir()}
	proxy.Forget()
	code, stdout, stderr = run(t, noCache, "call", "create_job", job, "--allow-write")
	if code != 0 || countSeen(proxy, "POST", "/v2/jobs") != 1 ||
		!strings.Contains(stderr, "cloudconvert: note: the operations catalogue is not available") || !strings.Contains(stderr, "tasks are sent without checking") {
		t.Fatalf("without a catalogue: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if entries, _ := os.ReadDir(filepath.Join(noCache["CLOUDCONVERT_CACHE_DIR"], "operations")); len(entries) != 0 {
		t.Fatalf("a failed fetch left %v on disk", entries)
	}
}
