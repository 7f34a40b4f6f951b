package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/pdfcpu/pdfcpu/pkg/api"

	"github.com/cctoolkit/cloudconvert/apierror"
	cloudconvert "github.com/cctoolkit/cloudconvert/generated/cloudconvert"
	"github.com/cctoolkit/cloudconvert/generated/cloudconvert/client"
	"github.com/cctoolkit/cloudconvert/integration"
	"github.com/cctoolkit/cloudconvert/internal/faultproxy"
)

func TestNewOptions(t *testing.T) {
	tests := []struct {
		name      string
		key       string
		opts      []Option
		base      string
		sync      string
		wantError string
	}{
		{"live", "k", nil, "https://api.cloudconvert.com/v2", "https://sync.api.cloudconvert.com/v2", ""},
		{"sandbox", "k", []Option{WithSandbox()}, "https://api.sandbox.cloudconvert.com/v2", "https://sync.api.sandbox.cloudconvert.com/v2", ""},
		{"region", "k", []Option{WithRegion("eu-central")}, "https://eu-central.api.cloudconvert.com/v2", "https://eu-central.sync.api.cloudconvert.com/v2", ""},
		{"custom base polls", "k", []Option{WithBaseURL("http://127.0.0.1:1/v2")}, "http://127.0.0.1:1/v2", "", ""},
		{"custom base and sync", "k", []Option{WithBaseURL("http://h/v2/"), WithSyncURL("http://s/v2")}, "http://h/v2", "http://s/v2", ""},
		{"sync off", "k", []Option{WithSyncURL("")}, "https://api.cloudconvert.com/v2", "", ""},
		{"no key", "", nil, "", "", "no API key"},
		{"no key allowed", "", []Option{WithoutAPIKey(), WithBaseURL("http://localhost:8080/v2")}, "http://localhost:8080/v2", "", ""},
		{"bad region", "k", []Option{WithRegion("mars")}, "", "", `unknown region "mars"`},
		{"sandbox+region", "k", []Option{WithSandbox(), WithRegion("us-east")}, "", "", "no regions"},
		{"bad url", "k", []Option{WithBaseURL("ftp://x")}, "", "", "not an http(s) URL"},
		{"creds in url", "k", []Option{WithBaseURL("https://u:p@x/v2")}, "", "", "credentials in the URL"},
		{"nil http client", "k", []Option{WithHTTPClient(nil)}, "", "", "WithHTTPClient(nil)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.key, tt.opts...)
			if tt.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantError) {
					t.Fatalf("err = %v, want %q", err, tt.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.BaseURL() != tt.base || c.SyncURL() != tt.sync {
				t.Errorf("urls = %s %s, want %s %s", c.BaseURL(), c.SyncURL(), tt.base, tt.sync)
			}
		})
	}
}

// TestOperationsMatchOpenAPI: the operations CreateTask knows (from the
// descriptor) are the task routes of the OpenAPI document the generated
// client and the local server are built from: two emitters of one spec
// agree.
func TestOperationsMatchOpenAPI(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(cloudconvert.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	var routes []string
	for path, item := range doc.Paths.Map() {
		if item.Post != nil && !strings.Contains(path, "{") && path != "/jobs" && path != "/webhooks" {
			routes = append(routes, strings.TrimPrefix(path, "/"))
		}
	}
	slices.Sort(routes)
	ops := Operations()
	if len(ops) < 30 {
		t.Fatalf("only %d operations: %v", len(ops), ops)
	}
	if got := slices.Sorted(slices.Values(ops)); !slices.Equal(got, routes) {
		t.Errorf("create_task operations = %v\nOpenAPI task routes = %v", got, routes)
	}
}

// TestNoHandWrittenPaths: the sdk takes every function's path from the
// generated client and the descriptor (issue 10).
func TestNoHandWrittenPaths(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{`"/jobs`, `"/tasks`, `"/users`, `"/import/`, `"/export/`} {
			if bytes.Contains(b, []byte(p)) {
				t.Errorf("%s contains the path %s", f, p)
			}
		}
	}
}

// TestFixtureAnswers serves the official SDKs' recorded answers of the
// real API (which the local server does not reproduce byte for byte) and
// checks each function decodes them, and that error answers come back
// typed.
func TestFixtureAnswers(t *testing.T) {
	routes := map[string]struct {
		status int
		file   string
	}{
		"GET /v2/jobs/cd82535b-0614-4b23-bbba-b24ab0e892f7": {200, "cloudconvert-node/tests/unit/responses/job.json"},
		"GET /v2/jobs":                     {200, "cloudconvert-node/tests/unit/responses/jobs.json"},
		"GET /v2/tasks/4c80f1ae-5b3a-43d5": {200, "cloudconvert-node/tests/unit/responses/task.json"},
		"GET /v2/tasks":                    {200, "cloudconvert-php/tests/Unit/responses/tasks.json"},
		"GET /v2/users/me":                 {200, "cloudconvert-node/tests/unit/responses/user.json"},
		"POST /v2/jobs":                    {201, "cloudconvert-node/tests/unit/responses/job_created.json"},
		"POST /v2/import/upload":           {201, "cloudconvert-node/tests/unit/responses/upload_task_created.json"},
		"POST /v2/convert":                 {422, "cloudconvert-php/tests/Unit/responses/error400.json"},
		"GET /v2/jobs/out-of-credits":      {402, "cloudconvert-php/tests/Unit/responses/error402.json"},
	}
	bodies := map[string][]byte{}
	for k, r := range routes {
		bodies[k] = fixture(t, r.file)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testKey {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(401)
			w.Write([]byte(`{"message":"Unauthenticated.","code":"UNAUTHENTICATED"}`))
			return
		}
		k := r.Method + " " + r.URL.Path
		rt, ok := routes[k]
		if !ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(404)
			w.Write([]byte(`{"message":"Not found","code":"NOT_FOUND"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rt.status)
		w.Write(bodies[k])
	}))
	defer srv.Close()
	c, err := New(testKey, WithBaseURL(srv.URL+"/v2"), WithRetryPolicy(fastRetry()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	j, err := c.GetJob(ctx, "cd82535b-0614-4b23-bbba-b24ab0e892f7")
	if err != nil || j.Tasks == nil || len(*j.Tasks) == 0 {
		t.Fatalf("get_job: %v %+v", err, j)
	}
	if _, ok := (*j.Tasks)[0].AdditionalProperties["host_name"]; !ok {
		t.Error("unknown task field host_name was dropped")
	}
	l, err := c.ListJobs(ctx, nil)
	if err != nil || len(l.Data) != 1 || l.Data[0].Id != "bd7d06b4-60fb-472b-b3a3-9034b273df07" {
		t.Fatalf("list_jobs: %v %+v", err, l)
	}
	n := 0
	for task, err := range c.Tasks(ctx, nil) {
		if err != nil {
			t.Fatal(err)
		}
		if task.Id == "" {
			t.Error("task without id")
		}
		n++
	}
	if n == 0 {
		t.Error("tasks iterator yielded nothing")
	}
	u, err := c.GetCurrentUser(ctx)
	if err != nil || u.Username != "Username" || u.Id != 1 {
		t.Fatalf("get_current_user: %v %+v", err, u)
	}
	cj, err := c.CreateJob(ctx, NewJob("t", map[string]TaskDefinition{"import-it": TaskDef("import/upload", nil)}))
	if err != nil || cj.Id == "" {
		t.Fatalf("create_job: %v", err)
	}
	up, raw, err := c.createTaskRaw(ctx, "import/upload", TaskRequest(nil))
	if err != nil {
		t.Fatal(err)
	}
	form, err := ParseUploadForm(raw)
	if err != nil || form.URL == "" || up.Status != "waiting" {
		t.Fatalf("upload form: %v %+v", err, form)
	}
	if got := []string{form.Fields[0].Name, form.Fields[1].Name, form.Fields[2].Name, form.Fields[3].Name}; !slices.Equal(got, []string{"expires", "max_file_count", "max_file_size", "signature"}) {
		t.Errorf("field order %v", got)
	}

	// Error answers: an *integration.Error wrapping an *apierror.Error,
	// with function, code, fields and sentinel.
	_, err = c.CreateTask(ctx, "convert", TaskRequest(map[string]any{"output_format": "png"}, "x"))
	var ae *apierror.Error
	ie, _ := integration.AsError(err)
	if !errors.As(err, &ae) || ie == nil || !errors.Is(err, apierror.ErrValidation) || ae.Function != "create_task" || ae.Code != "INVALID_DATA" || len(ae.Errors["status"]) != 1 ||
		ie.Kind != integration.KindAPI || ie.Function != "create_task" || ie.Status != 422 || ie.Code != "INVALID_DATA" || len(ie.Errors["status"]) != 1 || ie.OutcomeUnknown {
		t.Errorf("validation error = %#v", err)
	}
	_, err = c.GetJob(ctx, "out-of-credits")
	if !errors.Is(err, apierror.ErrCreditsExceeded) || !strings.HasPrefix(err.Error(), "cloudconvert.get_job: 402 CREDITS_EXCEEDED: ") {
		t.Errorf("402 = %v", err)
	}
	_, err = c.GetTask(ctx, "nope")
	if !errors.Is(err, apierror.ErrNotFound) || StatusOf(err) != 404 {
		t.Errorf("404 = %v", err)
	}
	// An operation the spec does not have is refused before any request.
	_, err = c.CreateTask(ctx, "export/aws-s3", TaskRequest(nil))
	if ie, ok := integration.AsError(err); !ok || ie.Kind != integration.KindArgument || !strings.Contains(err.Error(), `"export/aws-s3"`) || !strings.Contains(err.Error(), "export/s3") {
		t.Errorf("unknown operation = %v", err)
	}
	bad, _ := New("wrong", WithBaseURL(srv.URL+"/v2"))
	if _, err := bad.GetCurrentUser(ctx); !errors.Is(err, apierror.ErrUnauthorized) {
		t.Errorf("401 = %v", err)
	}
}

// TestMalformedAnswers: a success status whose body is not the function's
// JSON is a bad_response error with the status, never a transport error;
// a write answered so is marked as of unknown outcome.
func TestMalformedAnswers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v2/users/me":
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html><title>Captive portal</title></html>"))
		case "/v2/jobs/cut":
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"data":{"id":"x",`))
		case "/v2/jobs/bad-error":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(404)
			w.Write([]byte(`{"message":`))
		default: // POST /v2/jobs
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(201)
			w.Write([]byte(`{"data":[]}`))
		}
	}))
	defer srv.Close()
	c, err := New(testKey, WithBaseURL(srv.URL+"/v2"), WithRetryPolicy(fastRetry()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, errUser := c.GetCurrentUser(ctx)
	_, errCut := c.GetJob(ctx, "cut")
	_, errCreate := c.CreateJob(ctx, NewJob("", map[string]TaskDefinition{"i": TaskDef("import/upload", nil)}))
	for _, tc := range []struct {
		err     error
		unknown bool
		want    string
	}{
		{errUser, false, `cloudconvert.get_current_user: the answer is not get_current_user's JSON (Content-Type "text/html", 42 bytes): invalid character '<'`},
		{errCut, false, "cloudconvert.get_job: the answer is not get_job's JSON (Content-Type \"application/json\", 18 bytes): unexpected end of JSON input"},
		{errCreate, true, "cloudconvert.create_job: the answer is not create_job's JSON"},
	} {
		ie, ok := integration.AsError(tc.err)
		if !ok || ie.Kind != integration.KindResponse || !errors.Is(tc.err, ErrMalformedResponse) || errors.Is(tc.err, ErrTransport) ||
			ie.Status < 200 || ie.Status > 201 || ie.OutcomeUnknown != tc.unknown || !strings.HasPrefix(tc.err.Error(), tc.want) {
			t.Errorf("err = %v\nwant %s... (outcome unknown %v)", tc.err, tc.want, tc.unknown)
		}
	}
	// An error status with a broken JSON body is still the API's answer.
	_, err = c.GetJob(ctx, "bad-error")
	if !errors.Is(err, apierror.ErrNotFound) || StatusOf(err) != 404 {
		t.Errorf("404 with a broken body = %v", err)
	}
}

// TestConvertFiles runs the one-call flow against the local server: real
// uploads, conversions and downloads.
func TestConvertFiles(t *testing.T) {
	_, c := newLocal(t)
	dir := writeImages(t)
	a, b := filepath.Join(dir, "a.png"), filepath.Join(dir, "b.jpg")
	out := filepath.Join(dir, "out")
	var phases []ConvertPhase
	var mu sync.Mutex
	res, err := ConvertFiles(context.Background(), c, ConvertRequest{Files: []string{a, b}, To: "pdf", OutDir: out, Progress: func(e ConvertEvent) {
		mu.Lock()
		defer mu.Unlock()
		if len(phases) == 0 || phases[len(phases)-1] != e.Phase {
			phases = append(phases, e.Phase)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{filepath.Join(out, "a.pdf"), filepath.Join(out, "b.pdf")}; !slices.Equal(res.Files, want) || res.Job.Status != "finished" {
		t.Fatalf("files = %v, want %v (job %s)", res.Files, want, res.Job.Status)
	}
	for _, f := range res.Files {
		if n, err := api.PageCountFile(f); err != nil || n != 1 {
			t.Errorf("%s: %d pages, %v", f, n, err)
		}
	}
	mu.Lock()
	if phases[0] != PhaseCreate || phases[len(phases)-1] != PhaseDone || !slices.Contains(phases, PhaseUpload) || !slices.Contains(phases, PhaseDownload) {
		t.Errorf("phases %v", phases)
	}
	mu.Unlock()
	// Again: no overwrite, so free names.
	res, err = ConvertFiles(context.Background(), c, ConvertRequest{Files: []string{a}, To: "pdf", OutDir: out})
	if err != nil || len(res.Files) != 1 || filepath.Base(res.Files[0]) != "a-1.pdf" {
		t.Errorf("second run: %v %v", err, res)
	}

	// Bad arguments: one clear line each, before any request.
	before := countJobs(t, c)
	for _, tc := range []struct {
		req  ConvertRequest
		want string
	}{
		{ConvertRequest{Files: []string{filepath.Join(dir, "missing.pdf")}, To: "png"}, "convert: " + filepath.Join(dir, "missing.pdf") + ": no such file"},
		{ConvertRequest{Files: []string{a}}, "convert: no output format (--to)"},
		{ConvertRequest{To: "png"}, "convert: no input files"},
		{ConvertRequest{Files: []string{dir}, To: "png"}, "convert: " + dir + " is not a regular file"},
	} {
		_, err := ConvertFiles(context.Background(), c, tc.req)
		if err == nil || err.Error() != tc.want {
			t.Errorf("err = %v\nwant  %s", err, tc.want)
		}
	}
	if n := countJobs(t, c); n != before {
		t.Errorf("a rejected convert created %d jobs", n-before)
	}
	// A conversion the server cannot do fails the job; the error names the
	// failed task, its code and message, and the job comes back too.
	for _, tc := range []struct {
		file, to, code string
	}{
		{"broken.png", "pdf", "INVALID_FILE"},
		{"a.png", "xyz", "UNSUPPORTED_CONVERSION"},
	} {
		res, err = ConvertFiles(context.Background(), c, ConvertRequest{Files: []string{filepath.Join(dir, tc.file)}, To: tc.to, OutDir: out})
		if !errors.Is(err, ErrJobFailed) || !strings.Contains(err.Error(), "wait_job: job ") || !strings.Contains(err.Error(), "failed: task convert-1 (convert): "+tc.code+": ") ||
			res == nil || res.Job == nil || res.Job.Status != "error" || len(res.Files) != 0 {
			t.Errorf("%s to %s: %v (result %+v)", tc.file, tc.to, err, res)
		}
	}
}

// TestUploadKeepsFormOrder: the form's parameters are sent in the order the
// API listed them (S3 checks the policy against it), values as written.
func TestUploadKeepsFormOrder(t *testing.T) {
	type part struct{ name, value string }
	var got []part
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mr, err := r.MultipartReader()
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			b, _ := io.ReadAll(p)
			got = append(got, part{p.FormName(), string(b)})
		}
		w.WriteHeader(201)
	}))
	defer target.Close()
	raw := []byte(`{"data":{"id":"t1","status":"waiting","result":{"form":{"url":"` + target.URL + `/bucket","parameters":` +
		`{"acl":"private","key":"t1/${filename}","success_action_status":"201","X-Amz-Algorithm":"AWS4-HMAC-SHA256","expires":1559588529,"max_file_size":10000000000,"signature":"79fda6c5","empty":null}}}}}`)
	form, err := ParseUploadForm(raw)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(testKey, WithBaseURL("http://127.0.0.1:1/v2"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.UploadToForm(context.Background(), form, "in.txt", strings.NewReader("hello"), 5, nil); err != nil {
		t.Fatal(err)
	}
	want := []part{{"acl", "private"}, {"key", "t1/${filename}"}, {"success_action_status", "201"}, {"X-Amz-Algorithm", "AWS4-HMAC-SHA256"},
		{"expires", "1559588529"}, {"max_file_size", "10000000000"}, {"signature", "79fda6c5"}, {"empty", ""}, {"file", "hello"}}
	if !slices.Equal(got, want) {
		t.Errorf("sent %v\nwant %v", got, want)
	}
}

func TestWait(t *testing.T) {
	// A port nothing listens on: the sync host is "unavailable".
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := "http://" + l.Addr().String() + "/v2"
	l.Close()
	img, err := os.ReadFile("testdata/photo.png")
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name    string
		sync    func(syncURL, root string) string
		wantVia string
	}{
		{"sync", func(s, _ string) string { return s }, "sync"},
		{"sync refused falls back", func(string, string) string { return closed }, "poll"},
		{"sync 404 falls back", func(_, root string) string { return root + "/nosync/v2" }, "poll"},
		{"no sync", func(string, string) string { return "" }, "poll"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startLocal(t)
			root := strings.TrimSuffix(s.APIURL(), "/v2")
			c, err := New(testKey, WithBaseURL(s.APIURL()), WithSyncURL(tc.sync(s.SyncURL(), root)), WithRetryPolicy(fastRetry()))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			j, err := c.CreateJob(ctx, NewJob("w", map[string]TaskDefinition{"import": TaskDef("import/upload", nil), "convert": TaskDef("convert", map[string]any{"output_format": "jpg"}, "import")}))
			if err != nil {
				t.Fatal(err)
			}
			var upID string
			for _, tk := range *j.Tasks {
				if tk.Operation == "import/upload" {
					upID = tk.Id
				}
			}
			// The upload is made once the wait has reported the job
			// waiting for it, so the wait sees at least two states.
			var mu sync.Mutex
			var seen []Progress
			first := make(chan struct{})
			type waited struct {
				res *WaitResult
				err error
			}
			done := make(chan waited, 1)
			go func() {
				res, err := c.WaitJobResult(ctx, j.Id, &WaitOptions{PollInterval: 5 * time.Millisecond, Progress: func(p Progress) {
					mu.Lock()
					defer mu.Unlock()
					if len(seen) == 0 {
						close(first)
					}
					seen = append(seen, p)
				}})
				done <- waited{res, err}
			}()
			select {
			case <-first:
			case w := <-done:
				t.Fatalf("the wait ended before the upload: %v", w.err)
			}
			if err := c.Upload(ctx, upID, "photo.png", bytes.NewReader(img), int64(len(img)), nil); err != nil {
				t.Fatal(err)
			}
			w := <-done
			if w.err != nil {
				t.Fatal(w.err)
			}
			if w.res.Via != tc.wantVia || w.res.Job.Status != "finished" || !bytes.HasPrefix(w.res.Raw, []byte(`{"data":`)) {
				t.Errorf("via %s status %s raw %.40s", w.res.Via, w.res.Job.Status, w.res.Raw)
			}
			mu.Lock()
			if len(seen) < 2 || seen[0].Status != "waiting" || seen[len(seen)-1].Status != "finished" || seen[len(seen)-1].Percent != 100 || seen[len(seen)-1].Via != tc.wantVia {
				t.Errorf("progress %+v", seen)
			}
			mu.Unlock()
			// WaitTask over the same paths.
			tk, err := c.WaitTask(ctx, upID, nil)
			if err != nil || tk.Status != "finished" || tk.Id != upID {
				t.Errorf("wait_task: %v", err)
			}
		})
	}
	t.Run("failed job", func(t *testing.T) {
		_, c := newLocal(t)
		ctx := context.Background()
		j, err := c.CreateJob(ctx, NewJob("", map[string]TaskDefinition{
			"import":  TaskDef("import/base64", map[string]any{"file": "bm90IGFuIGltYWdl", "filename": "x.png"}),
			"convert": TaskDef("convert", map[string]any{"output_format": "jpg"}, "import"),
			"export":  TaskDef("export/url", nil, "convert"),
		}))
		if err != nil {
			t.Fatal(err)
		}
		job, err := c.WaitJob(ctx, j.Id, nil)
		// The root cause first, then the tasks that failed because of it.
		if !errors.Is(err, ErrJobFailed) || job == nil || job.Status != "error" ||
			!strings.Contains(err.Error(), "failed: task convert (convert): INVALID_FILE: ") || !strings.Contains(err.Error(), "; task export (export/url): INPUT_TASK_FAILED") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		_, c := newLocal(t)
		j, err := c.CreateJob(context.Background(), NewJob("", map[string]TaskDefinition{"import": TaskDef("import/upload", nil)}))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, err = c.WaitJob(ctx, j.Id, &WaitOptions{NoSync: true, PollInterval: 10 * time.Millisecond})
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "wait_job: job "+j.Id+" still waiting") {
			t.Errorf("err = %v", err)
		}
	})
}

// pageOnlyNext rewrites links.next of list answers to carry only the page,
// as the real API's paginator writes it: the client must keep its filters.
func pageOnlyNext(resp *http.Response) error {
	if resp.Request.Method != http.MethodGet || !strings.HasSuffix(resp.Request.URL.Path, "s") {
		return nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	var env map[string]json.RawMessage
	var links map[string]*string
	if json.Unmarshal(body, &env) == nil && json.Unmarshal(env["links"], &links) == nil && links["next"] != nil {
		u, err := url.Parse(*links["next"])
		if err != nil {
			return err
		}
		u.RawQuery = "page=" + u.Query().Get("page")
		next := u.String()
		links["next"] = &next
		env["links"], _ = json.Marshal(links)
		body, _ = json.Marshal(env)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}

func TestPagination(t *testing.T) {
	s := startLocal(t)
	proxy := faultproxy.New(t, s.APIURL())
	proxy.SetModifyResponse(pageOnlyNext)
	c, err := New(testKey, WithBaseURL(proxy.URL+"/v2"), WithRetryPolicy(fastRetry()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 7 {
		tag := "keep"
		if i%2 == 1 {
			tag = "other"
		}
		if _, err := c.CreateJob(ctx, NewJob(tag, map[string]TaskDefinition{"import": TaskDef("import/upload", nil)})); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		tag         string
		per         int
		want, pages int
	}{{"", 3, 7, 3}, {"keep", 2, 4, 2}, {"other", 1, 3, 3}, {"none", 5, 0, 1}} {
		p := &ListJobsParams{PerPage: &tc.per}
		if tc.tag != "" {
			p.FilterTag = &tc.tag
		}
		proxy.Forget()
		n := 0
		for j, err := range c.Jobs(ctx, p) {
			if err != nil {
				t.Fatal(err)
			}
			if tc.tag != "" && nullString(j.Tag) != tc.tag {
				t.Errorf("tag %q leaked into filter %q (filters lost on links.next)", nullString(j.Tag), tc.tag)
			}
			n++
		}
		if n != tc.want || proxy.Count("GET", "/v2/jobs") != tc.pages {
			t.Errorf("tag %q per %d: %d jobs in %d pages, want %d in %d", tc.tag, tc.per, n, proxy.Count("GET", "/v2/jobs"), tc.want, tc.pages)
		}
	}
	// Stop early: no more pages fetched.
	per := 1
	proxy.Forget()
	for range c.Jobs(ctx, &ListJobsParams{PerPage: &per}) {
		break
	}
	if n := proxy.Count("GET", "/v2/jobs"); n != 1 {
		t.Errorf("breaking after the first job fetched %d pages", n)
	}
	n := 0
	op := client.ListTasksParamsFilterOperation("import/upload")
	for _, err := range c.Tasks(ctx, &ListTasksParams{PerPage: &per, FilterOperation: &op}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 7 {
		t.Errorf("%d import/upload tasks, want 7", n)
	}
}

func TestTaskCalls(t *testing.T) {
	_, c := newLocal(t)
	ctx := context.Background()
	// cancel_task: a waiting upload task.
	up, err := c.CreateTask(ctx, "import/upload", TaskRequest(nil))
	if err != nil {
		t.Fatal(err)
	}
	cancelled, err := c.CancelTask(ctx, up.Id)
	if err != nil || cancelled.Id != up.Id || cancelled.Status != "error" || nullString(cancelled.Code) != "CANCELLED" {
		t.Fatalf("cancel_task: %v %+v", err, cancelled)
	}
	// retry_task: a new task retrying the failed one.
	again, err := c.RetryTask(ctx, up.Id)
	if err != nil || again.Id == up.Id || nullString(again.RetryOfTaskId) != up.Id {
		t.Fatalf("retry_task: %v %+v", err, again)
	}
	// delete_task and delete_job: gone afterwards.
	if err := c.DeleteTask(ctx, again.Id); err != nil {
		t.Fatalf("delete_task: %v", err)
	}
	if _, err := c.GetTask(ctx, again.Id); !errors.Is(err, apierror.ErrNotFound) {
		t.Errorf("get_task after delete_task: %v", err)
	}
	j, err := c.CreateJob(ctx, NewJob("", map[string]TaskDefinition{"import": TaskDef("import/upload", nil)}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteJob(ctx, j.Id); err != nil {
		t.Fatalf("delete_job: %v", err)
	}
	if _, err := c.GetJob(ctx, j.Id); !errors.Is(err, apierror.ErrNotFound) {
		t.Errorf("get_job after delete_job: %v", err)
	}
	if err := c.DeleteJob(ctx, j.Id); !errors.Is(err, apierror.ErrNotFound) || !strings.HasPrefix(err.Error(), "cloudconvert.delete_job: 404 ") {
		t.Errorf("delete_job twice: %v", err)
	}
	// Bad IDs are refused before any request.
	for _, tc := range []struct {
		err  error
		want string
	}{
		{c.DeleteJob(ctx, ""), "delete_job: empty id"},
		{c.DeleteTask(ctx, "a/b"), `delete_task: "a/b" is not a valid id`},
	} {
		if tc.err == nil || tc.err.Error() != tc.want {
			t.Errorf("err = %v, want %s", tc.err, tc.want)
		}
	}
}

func TestSecretsNeverLeak(t *testing.T) {
	var logs bytes.Buffer
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	c, err := New(testKey, WithBaseURL("http://"+addr+"/v2"), WithRetryPolicy(fastRetry()), WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetJob(context.Background(), "x")
	for _, s := range []string{err.Error(), logs.String(), c.String(), c.GoString()} {
		if strings.Contains(s, testKey) {
			t.Errorf("API key leaked: %s", s)
		}
	}
	ie, _ := integration.AsError(err)
	if !errors.Is(err, ErrTransport) || ie == nil || ie.Attempts != 4 || ie.OutcomeUnknown ||
		!strings.HasPrefix(err.Error(), "cloudconvert.get_job: could not connect: ") || !strings.HasSuffix(err.Error(), "connection refused (after 4 attempts)") ||
		!strings.Contains(logs.String(), "transport: retrying") {
		t.Errorf("err = %v\nlogs = %s", err, logs.String())
	}
}

func TestSanitizeFilename(t *testing.T) {
	for in, want := range map[string]string{
		"file.pdf":                         "file.pdf",
		"../../etc/passwd":                 "passwd",
		`..\..\win.ini`:                    "win.ini",
		"..":                               "download",
		"":                                 "download",
		".hidden":                          "hidden",
		"a\x00b\nc.txt":                    "abc.txt",
		`what?<>:"|*.png`:                  "what_______.png",
		"CON.txt":                          "_CON.txt",
		"name. ":                           "name",
		"résumé.pdf":                       "résumé.pdf",
		"x\u202egnp.exe":                   "xgnp.exe",
		strings.Repeat("a", 300) + ".jpeg": strings.Repeat("a", 195) + ".jpeg",
	} {
		if got := SanitizeFilename(in); got != want {
			t.Errorf("SanitizeFilename(%q) = %q, want %q", in, got, want)
		}
	}
}
