package catalogue_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cctoolkit/cloudconvert/internal/localtest"
	"github.com/cctoolkit/cloudconvert/sdk/catalogue"
)

const key = "catalogue-test-key-0123456789"

func localServer(t *testing.T) *localtest.Server {
	t.Helper()
	return localtest.Start(t, localtest.Options{APIKey: key})
}

// httpClientNoRetry fails at once where nothing listens.
var httpClientNoRetry = http.Client{Timeout: 10 * time.Second}

func operationsRequests(s *localtest.Server) int {
	n := 0
	for _, r := range s.Requests() {
		if r.Path == "/v2/operations" {
			n++
		}
	}
	return n
}

// TestSourceCaches: the catalogue is fetched once (with include=options)
// and kept on disk per server URL; another Source of the same server reads
// the disk; an old or damaged file is fetched again.
func TestSourceCaches(t *testing.T) {
	s := localtest.Start(t, localtest.Options{APIKey: key})
	dir := t.TempDir()
	ctx := context.Background()
	src := &catalogue.Source{BaseURL: s.URL + "/v2", APIKey: key, CacheDir: dir}
	c, err := src.Catalogue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	reqs := s.Requests()
	if len(reqs) != 1 || reqs[0].Path != "/v2/operations" || reqs[0].Query != "include=options" || reqs[0].Auth != "Bearer "+key {
		t.Fatalf("requests %+v", reqs)
	}
	if c.URL != s.URL+"/v2/operations" || len(c.Operations) < 100 {
		t.Fatalf("catalogue of %s: %d operations", c.URL, len(c.Operations))
	}
	var pdfPNG *catalogue.Operation
	for i, o := range c.Operations {
		if o.Operation == "convert" && o.InputFormat == "pdf" && o.OutputFormat == "png" {
			pdfPNG = &c.Operations[i]
		}
	}
	if pdfPNG == nil || pdfPNG.Option("pixel_density") == nil || pdfPNG.Option("pixel_density").Type != "integer" || !pdfPNG.IsAvailable() {
		t.Fatalf("convert pdf -> png: %+v", pdfPNG)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "operations-*.json"))
	if len(files) != 1 {
		t.Fatalf("cache files %v", files)
	}
	if st, err := os.Stat(files[0]); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("cache file: %v %v", st.Mode(), err)
	}

	// Another Source (another run) reads the disk.
	again := &catalogue.Source{BaseURL: s.URL + "/v2", CacheDir: dir}
	if c2, err := again.Catalogue(ctx); err != nil || len(c2.Operations) != len(c.Operations) || len(s.Requests()) != 1 {
		t.Fatalf("from disk: %v, %d requests", err, len(s.Requests()))
	}
	// Past the TTL it is fetched again.
	old := &catalogue.Source{BaseURL: s.URL + "/v2", CacheDir: dir, TTL: time.Nanosecond}
	if _, err := old.Catalogue(ctx); err != nil || len(s.Requests()) != 2 {
		t.Fatalf("past the TTL: %v, %d requests", err, len(s.Requests()))
	}
	// A damaged file is fetched again, and replaced.
	os.WriteFile(files[0], []byte(`{"url": "x", "operations": [`), 0o600)
	damaged := &catalogue.Source{BaseURL: s.URL + "/v2", CacheDir: dir}
	if _, err := damaged.Catalogue(ctx); err != nil || len(s.Requests()) != 3 {
		t.Fatalf("damaged file: %v, %d requests", err, len(s.Requests()))
	}
	if data, _ := os.ReadFile(files[0]); !json.Valid(data) {
		t.Fatal("the damaged file was not replaced")
	}
	// Another server, another file.
	other := &catalogue.Source{BaseURL: s.URL + "/sync/../v2", CacheDir: dir}
	other.Catalogue(ctx)
	if files, _ := filepath.Glob(filepath.Join(dir, "operations-*.json")); len(files) != 2 {
		t.Fatalf("cache files %v", files)
	}
}

// TestCheck: tasks are checked against the local server's catalogue: a
// misspelt option with a did-you-mean, a pair it does not perform, values
// of the wrong type or out of range, an operation it does not perform,
// a missing required option; good tasks pass.
func TestCheck(t *testing.T) {
	s := localServer(t)
	src := &catalogue.Source{BaseURL: s.URL + "/v2"}
	c, err := src.Catalogue(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	png := `"in":{"operation":"import/base64","file":"eA==","filename":"photo.PNG"}`
	pdf := `"in":{"operation":"import/url","url":"https://example.com/files/report.pdf?x=1"}`
	cases := []struct {
		name, job string
		field     string // the refused field; "" when the job passes
		msg       string
	}{
		{"good png -> jpg", `{"tasks":{` + png + `,"c":{"operation":"convert","input":"in","output_format":"jpeg","quality":80},"out":{"operation":"export/url","input":"c"}}}`, "", ""},
		{"good pdf -> png", `{"tasks":{` + pdf + `,"c":{"operation":"convert","input":"in","output_format":"png","pixel_density":300,"pages":"1-2","fit":"crop"}}}`, "", ""},
		{"misspelt option", `{"tasks":{` + png + `,"c":{"operation":"convert","input":"in","output_format":"jpg","qualty":80}}}`,
			"qualty", `"qualty" is not an option of convert from png to jpg (did you mean "quality"?); its options: engine, engine_version, filename, fit, height, quality, timeout, width`},
		{"option of another pair", `{"tasks":{` + png + `,"c":{"operation":"convert","input":"in","output_format":"png","pixel_density":300}}}`,
			"pixel_density", `"pixel_density" is not an option of convert from png to png`},
		{"nested options are options", `{"tasks":{` + png + `,"c":{"operation":"convert","input":"in","output_format":"jpg","options":{"qualty":80}}}}`,
			"qualty", `(did you mean "quality"?)`},
		{"unsupported pair", `{"tasks":{` + png + `,"c":{"operation":"convert","input":"in","output_format":"mp4"}}}`,
			"output_format", "convert from png to mp4 is not supported; convert from png makes: bmp, gif, jpg, pdf, png, tiff, webp"},
		{"out of range", `{"tasks":{` + png + `,"c":{"operation":"convert","input":"in","output_format":"jpg","quality":500}}}`,
			"quality", "option quality of convert from png to jpg must be between 1 and 100, got 500"},
		{"not an integer", `{"tasks":{` + png + `,"c":{"operation":"convert","input":"in","output_format":"jpg","quality":"high"}}}`,
			"quality", `must be an integer, got "high"`},
		{"enum", `{"tasks":{` + png + `,"c":{"operation":"convert","input":"in","output_format":"jpg","fit":"crp"}}}`,
			"fit", `must be one of max, crop, scale, upscale, got "crp" (did you mean "crop"?)`},
		{"numbers as strings pass", `{"tasks":{` + png + `,"c":{"operation":"convert","input":"in","output_format":"jpg","quality":"80","width":"100"}}}`, "", ""},
		{"rotation enum of numbers", `{"tasks":{` + pdf + `,"r":{"operation":"pdf/rotate-pages","input":"in","rotation":"+90"}}}`, "", ""},
		{"required option", `{"tasks":{` + pdf + `,"x":{"operation":"pdf/extract-pages","input":"in"}}}`,
			"pages", "pdf/extract-pages from pdf needs the option pages: Pages to keep"},
		{"real service only", `{"tasks":{` + pdf + `,"o":{"operation":"pdf/ocr","input":"in"}}}`,
			"operation", "pdf/ocr from pdf is not available on this server: runs on the real CloudConvert service only: text recognition"},
		{"import option", `{"tasks":{"in":{"operation":"import/url","url":"https://example.com/a.pdf","filname":"a.pdf"}}}`,
			"filname", `"filname" is not an option of import/url (did you mean "filename"?)`},
		{"task-level field the catalogue leaves out here", `{"tasks":{` + pdf + `,"m":{"operation":"metadata","input":"in","filename":"x"}}}`,
			"filename", `"filename" is not an option of metadata from pdf`},
		{"input format through the chain", `{"tasks":{` + pdf + `,"w":{"operation":"watermark","input":"in","text":"x"},"c":{"operation":"convert","input":"w","output_format":"docx"}}}`,
			"output_format", "convert from pdf to docx is not supported"},
		{"explicit input format", `{"tasks":{"c":{"operation":"convert","input_format":"xyz","output_format":"pdf"}}}`,
			"input_format", "convert does not take xyz files; it takes:"},
		{"a name the catalogue does not know: the server sniffs", `{"tasks":{"in":{"operation":"import/base64","file":"eA==","filename":"scan.dat"},"c":{"operation":"convert","input":"in","output_format":"jpg","quality":80}}}`, "", ""},
		{"several inputs", `{"tasks":{"a":{"operation":"import/url","url":"https://e.com/a.png"},"b":{"operation":"import/url","url":"https://e.com/b.pdf"},"m":{"operation":"merge","input":["a","b"],"output_format":"pdf"}}}`, "", ""},
		{"tasks as an array", `{"tasks":[{"name":"in","operation":"import/base64","file":"eA==","filename":"a.png"},{"operation":"convert","input":"in","output_format":"jpg","qualty":1}]}`,
			"qualty", `did you mean "quality"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tasks, err := catalogue.JobTasks([]byte(tc.job))
			if err != nil {
				t.Fatal(err)
			}
			e := c.Check(tasks)
			if tc.field == "" {
				if e != nil {
					t.Fatalf("refused: %v", e)
				}
				return
			}
			if e == nil || e.Field != tc.field || !strings.Contains(e.Message, tc.msg) || e.Catalogue != s.URL+"/v2/operations" || e.Task == "" {
				t.Fatalf("got %+v\nwant field %s, message with %q", e, tc.field, tc.msg)
			}
		})
	}
	task, err := catalogue.TaskOf("convert", []byte(`{"input":"6559c281","input_format":"png","output_format":"mp4"}`))
	if err != nil {
		t.Fatal(err)
	}
	if e := c.Check([]catalogue.Task{task}); e == nil || e.Task != "" || e.Field != "output_format" ||
		!strings.HasPrefix(e.Error(), "convert from png to mp4 is not supported") {
		t.Fatalf("standalone task: %v", e)
	}
}

// TestCheckRefreshes: a refusal made with a catalogue read from disk is
// checked against a fresh one, so a server that has learnt an operation
// since is not refused for the cache's life.
func TestCheckRefreshes(t *testing.T) {
	s := localtest.Start(t, localtest.Options{APIKey: key})
	dir := t.TempDir()
	ctx := context.Background()
	if _, err := (&catalogue.Source{BaseURL: s.URL + "/v2", CacheDir: dir}).Catalogue(ctx); err != nil {
		t.Fatal(err)
	}
	// The file on disk now lacks png -> webp, as an older server's would.
	files, _ := filepath.Glob(filepath.Join(dir, "operations-*.json"))
	data, _ := os.ReadFile(files[0])
	var c catalogue.Catalogue
	json.Unmarshal(data, &c)
	var kept []catalogue.Operation
	for _, o := range c.Operations {
		if !(o.Operation == "convert" && o.OutputFormat == "webp") {
			kept = append(kept, o)
		}
	}
	c.Operations = kept
	data, _ = json.Marshal(c)
	os.WriteFile(files[0], data, 0o600)
	tasks, _ := catalogue.JobTasks([]byte(`{"tasks":{"in":{"operation":"import/base64","file":"eA==","filename":"a.png"},"c":{"operation":"convert","input":"in","output_format":"webp"}}}`))
	src := &catalogue.Source{BaseURL: s.URL + "/v2", CacheDir: dir}
	if err := src.Check(ctx, tasks); err != nil {
		t.Fatalf("refused with the old list: %v", err)
	}
	if n := operationsRequests(s); n != 2 {
		t.Fatalf("%d fetches, want 2 (the first, then the refresh)", n)
	}
	// A refusal the fresh list confirms is not fetched again.
	bad, _ := catalogue.JobTasks([]byte(`{"tasks":{"in":{"operation":"import/base64","file":"eA==","filename":"a.png"},"c":{"operation":"convert","input":"in","output_format":"mp4"}}}`))
	var ce *catalogue.Error
	if err := src.Check(ctx, bad); !errors.As(err, &ce) || ce.Field != "output_format" || operationsRequests(s) != 2 {
		t.Fatalf("%v, %d fetches", err, operationsRequests(s))
	}
}

// TestCheckWithoutCatalogue: when the catalogue cannot be had, Check says
// so once through Notice and lets the tasks go unchecked.
func TestCheckWithoutCatalogue(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	var notices []string
	src := &catalogue.Source{BaseURL: "http://" + addr + "/v2", HTTPClient: &httpClientNoRetry, Notice: func(m string) { notices = append(notices, m) }}
	tasks, _ := catalogue.JobTasks([]byte(`{"tasks":{"c":{"operation":"convert","input_format":"png","output_format":"mp4"}}}`))
	for range 2 {
		if err := src.Check(context.Background(), tasks); err != nil {
			t.Fatalf("checked without a catalogue: %v", err)
		}
	}
	if len(notices) != 1 || !strings.Contains(notices[0], "the operations catalogue is not available") || !strings.Contains(notices[0], "sent without checking") {
		t.Fatalf("notices %q", notices)
	}
}

// TestParseForms: the real API's answer (no available field, options as a
// list or an object keyed by name, values and label) reads the same, and a
// catalogue that lists no task-level fields is not asked about them.
func TestParseForms(t *testing.T) {
	ops, next, err := catalogue.Parse([]byte(`{"data":[
		{"operation":"convert","input_format":"pdf","output_format":"png","engine":"mupdf","options":[{"name":"pixel_density","type":"integer","default":300}]},
		{"operation":"metadata/write","input_format":"pdf","engine":"exiftool","options":{"metadata":{"type":"dictionary","required":true,"label":"Metadata fields"},"remove":{"type":"enum","values":["Author","Title"]}}}],
		"links":{"next":"https://api.example.com/v2/operations?page=2"}}`))
	if err != nil || next != "https://api.example.com/v2/operations?page=2" || len(ops) != 2 {
		t.Fatalf("%v %q %v", err, next, ops)
	}
	if !ops[0].IsAvailable() || ops[1].Option("metadata").Description != "Metadata fields" || ops[1].Option("remove").PossibleValues[1] != "Title" {
		t.Fatalf("%+v", ops)
	}
	c := &catalogue.Catalogue{Operations: ops}
	tasks, _ := catalogue.JobTasks([]byte(`{"tasks":{"in":{"operation":"import/url","url":"https://e.com/a.pdf","whatever":1},"c":{"operation":"convert","input":"in","output_format":"png","filename":"x.png","engine":"mupdf","pixel_density":150}}}`))
	if e := c.Check(tasks); e != nil {
		t.Fatalf("refused: %v", e)
	}
	tasks, _ = catalogue.JobTasks([]byte(`{"tasks":{"c":{"operation":"metadata/write","input_format":"pdf","remove":"Titl"}}}`))
	if e := c.Check(tasks); e == nil || e.Field != "remove" || !strings.Contains(e.Message, `(did you mean "Title"?)`) {
		t.Fatalf("enum: %v", e)
	}
	tasks, _ = catalogue.JobTasks([]byte(`{"tasks":{"c":{"operation":"metadata/write","input_format":"pdf","remove":"Title"}}}`))
	if e := c.Check(tasks); e == nil || e.Field != "metadata" || !strings.Contains(e.Message, "needs the option metadata: Metadata fields") {
		t.Fatalf("required: %v", e)
	}
	if _, _, err := catalogue.Parse([]byte(`{"data":[{"input_format":"pdf"}]}`)); err == nil {
		t.Fatal("an item without an operation was read")
	}
	if _, _, err := catalogue.Parse([]byte(`<html>`)); err == nil || !strings.Contains(err.Error(), "not the API's JSON") {
		t.Fatalf("HTML: %v", err)
	}
}

// TestDocPages: one page per family, from the local server's catalogue,
// with formats, options and what is not available.
func TestDocPages(t *testing.T) {
	s := localServer(t)
	c, err := (&catalogue.Source{BaseURL: s.URL + "/v2"}).Catalogue(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	pages := catalogue.DocPages(c.Operations, catalogue.PageOptions{Prefix: "cc.operations", Intro: "INTRO",
		Describe: func(op string) string { return "About " + op }})
	byName := map[string]string{}
	for _, p := range pages {
		byName[p.Name] = p.Text
		if !strings.Contains(p.Text, "INTRO") {
			t.Errorf("%s has no intro", p.Name)
		}
	}
	for _, fam := range []string{"archive", "capture-website", "command", "convert", "export", "import", "merge", "metadata", "optimize", "pdf", "thumbnail", "watermark"} {
		if byName["cc.operations."+fam] == "" {
			t.Errorf("no page for %s", fam)
		}
		if !strings.Contains(byName["cc.operations"], "`cc.operations."+fam+"`") {
			t.Errorf("the index does not list %s", fam)
		}
	}
	conv := byName["cc.operations.convert"]
	for _, want := range []string{"## convert", "About convert", "| pdf | jpg, png, webp | pdfium | yes |",
		"| `pixel_density` | integer (10 to 1200) | `150` | Resolution of the rendered pages in DPI. Only pdf -> jpg, png, webp. |",
		"| `fit` | enum | `max` |", "Values: max, crop, scale, upscale."} {
		if !strings.Contains(conv, want) {
			t.Errorf("the convert page lacks %q", want)
		}
	}
	if p := byName["cc.operations.pdf"]; !strings.Contains(p, "## pdf/ocr") || !strings.Contains(p, "no: runs on the real CloudConvert service only") ||
		!strings.Contains(p, "| `pages` | string, required |") {
		t.Errorf("the pdf page:\n%s", p)
	}
	if p := byName["cc.operations.import"]; !strings.Contains(p, "| `url` | string, required |") {
		t.Errorf("the import page:\n%s", p)
	}
}
