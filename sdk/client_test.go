package sdk

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cctoolkit/cloudconvert/apierror"
	"github.com/cctoolkit/cloudconvert/generated/cloudconvert/client"
	"github.com/cctoolkit/cloudconvert/generated/cloudconvert/meta"
	"github.com/cctoolkit/cloudconvert/sdk/ccfake"
)

const testKey = "test-key-SECRET-0123456789"

// fastRetry keeps the tests quick.
func fastRetry() RetryPolicy {
	return RetryPolicy{MaxAttempts: 4, MaxElapsed: 10 * time.Second, AttemptTimeout: 2 * time.Second, InitialInterval: 10 * time.Millisecond, MaxInterval: 50 * time.Millisecond, MaxRetryAfter: 3 * time.Second}
}

func newFake(t *testing.T) (*ccfake.Server, *Client) {
	t.Helper()
	s := ccfake.New(testKey)
	t.Cleanup(s.Close)
	c, err := New(testKey, WithBaseURL(s.BaseURL()), WithSyncURL(s.SyncURL()), WithRetryPolicy(fastRetry()))
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := ccfake.Fixture("..", name)
	if err != nil {
		t.Skip("shared fixtures not present:", err)
	}
	return b
}

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

func TestCreateTaskOpsMatchCatalog(t *testing.T) {
	var want []string
	for _, o := range meta.Integration().Operations {
		want = append(want, o.Name)
	}
	slices.Sort(want)
	if got := Operations(); !slices.Equal(got, want) {
		t.Errorf("create_task operations = %v\ncatalog = %v", got, want)
	}
}

// TestFixtureAnswers serves the official SDKs' recorded answers and checks
// each function decodes them (and the error answers come back typed).
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
			w.WriteHeader(401)
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

	// Error answers: typed, with function, code, fields and sentinel.
	_, err = c.CreateTask(ctx, "convert", TaskRequest(map[string]any{"output_format": "png"}, "x"))
	var ae *apierror.Error
	if !errors.As(err, &ae) || !errors.Is(err, apierror.ErrValidation) || ae.Function != "create_task" || ae.Code != "INVALID_DATA" || len(ae.Errors["status"]) != 1 {
		t.Errorf("validation error = %#v", err)
	}
	_, err = c.GetJob(ctx, "out-of-credits")
	if !errors.Is(err, apierror.ErrCreditsExceeded) || !strings.Contains(err.Error(), "get_job: 402 CREDITS_EXCEEDED") {
		t.Errorf("402 = %v", err)
	}
	_, err = c.GetTask(ctx, "nope")
	if !errors.Is(err, apierror.ErrNotFound) {
		t.Errorf("404 = %v", err)
	}
	_, err = c.CreateTask(ctx, "export/aws-s3", TaskRequest(nil))
	if err == nil || !strings.Contains(err.Error(), `unknown operation "export/aws-s3"`) {
		t.Errorf("unknown operation = %v", err)
	}
	bad, _ := New("wrong", WithBaseURL(srv.URL+"/v2"))
	if _, err := bad.GetCurrentUser(ctx); !errors.Is(err, apierror.ErrUnauthorized) {
		t.Errorf("401 = %v", err)
	}
}

func TestConvertFilesAgainstFake(t *testing.T) {
	s, c := newFake(t)
	dir := t.TempDir()
	a := filepath.Join(dir, "a.png")
	b := filepath.Join(dir, "b.jpg")
	os.WriteFile(a, []byte("png bytes"), 0o644)
	os.WriteFile(b, []byte("jpg bytes"), 0o644)
	out := filepath.Join(dir, "out")
	var phases []ConvertPhase
	res, err := ConvertFiles(context.Background(), c, ConvertRequest{Files: []string{a, b}, To: "pdf", OutDir: out, Progress: func(e ConvertEvent) {
		if len(phases) == 0 || phases[len(phases)-1] != e.Phase {
			phases = append(phases, e.Phase)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) != 2 {
		t.Fatalf("files = %v", res.Files)
	}
	got, _ := os.ReadFile(filepath.Join(out, "a.pdf"))
	if string(got) != "a.png converted to pdf" {
		t.Errorf("a.pdf = %q", got)
	}
	want := []string{"acl", "key", "success_action_status", "X-Amz-Algorithm", "expires", "max_file_size", "signature", "file"}
	if !slices.Equal(s.UploadFields, want) {
		t.Errorf("upload fields %v, want %v", s.UploadFields, want)
	}
	if phases[0] != PhaseCreate || phases[len(phases)-1] != PhaseDone || !slices.Contains(phases, PhaseUpload) || !slices.Contains(phases, PhaseDownload) {
		t.Errorf("phases %v", phases)
	}
	// Again: no overwrite, so free names.
	res, err = ConvertFiles(context.Background(), c, ConvertRequest{Files: []string{a}, To: "pdf", OutDir: out})
	if err != nil || filepath.Base(res.Files[0]) != "a (1).pdf" {
		t.Errorf("second run: %v %v", err, res)
	}

	// Bad arguments: one clear line each, before any request.
	before := s.JobsCreated.Load()
	for _, tc := range []struct {
		req  ConvertRequest
		want string
	}{
		{ConvertRequest{Files: []string{filepath.Join(dir, "missing.pdf")}, To: "png"}, "convert: " + filepath.Join(dir, "missing.pdf") + ": no such file"},
		{ConvertRequest{Files: []string{a}}, "convert: no output format (--to)"},
		{ConvertRequest{Files: []string{a}, To: "xyz"}, "create_job: 422 INVALID_DATA: The given data was invalid. (tasks.convert-1.output_format: The output format xyz is not supported.)"},
	} {
		_, err := ConvertFiles(context.Background(), c, tc.req)
		if err == nil || err.Error() != tc.want {
			t.Errorf("err = %v\nwant  %s", err, tc.want)
		}
	}
	if s.JobsCreated.Load() != before {
		t.Error("a rejected convert created a job")
	}
	// A failed conversion says which task failed and why.
	res, err = ConvertFiles(context.Background(), c, ConvertRequest{Files: []string{a}, To: "fail", OutDir: out})
	if !errors.Is(err, ErrJobFailed) || !strings.Contains(err.Error(), "task convert-1 (convert): CONVERSION_FAILED: The engine could not convert the file") || res == nil || res.Job.Status != "error" {
		t.Errorf("failed job: %v", err)
	}
}

func TestWait(t *testing.T) {
	// A port nothing listens on: the sync host is "unavailable".
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := "http://" + l.Addr().String() + "/v2"
	l.Close()

	for _, tc := range []struct {
		name    string
		sync    func(s *ccfake.Server) string
		wantVia string
	}{
		{"sync", func(s *ccfake.Server) string { return s.SyncURL() }, "sync"},
		{"sync refused falls back", func(*ccfake.Server) string { return closed }, "poll"},
		{"sync 404 falls back", func(s *ccfake.Server) string { return s.URL + "/nosync/v2" }, "poll"},
		{"no sync", func(*ccfake.Server) string { return "" }, "poll"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := ccfake.New(testKey)
			defer s.Close()
			c, err := New(testKey, WithBaseURL(s.BaseURL()), WithSyncURL(tc.sync(s)), WithRetryPolicy(fastRetry()))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			j, err := c.CreateJob(ctx, NewJob("w", map[string]TaskDefinition{"import": TaskDef("import/upload", nil), "convert": TaskDef("convert", map[string]any{"output_format": "png"}, "import")}))
			if err != nil {
				t.Fatal(err)
			}
			var upID string
			for _, tk := range *j.Tasks {
				if tk.Operation == "import/upload" {
					upID = tk.Id
				}
			}
			if err := c.Upload(ctx, upID, "in.pdf", strings.NewReader("%PDF"), 4, nil); err != nil {
				t.Fatal(err)
			}
			var seen []Progress
			res, err := c.WaitJobResult(ctx, j.Id, &WaitOptions{PollInterval: 5 * time.Millisecond, Progress: func(p Progress) { seen = append(seen, p) }})
			if err != nil {
				t.Fatal(err)
			}
			if res.Via != tc.wantVia || res.Job.Status != "finished" || !bytes.Contains(res.Raw, []byte(`"data"`)) {
				t.Errorf("via %s status %s", res.Via, res.Job.Status)
			}
			if len(seen) == 0 || seen[len(seen)-1].Status != "finished" || seen[len(seen)-1].Percent != 100 {
				t.Errorf("progress %+v", seen)
			}
			if tc.wantVia == "poll" && len(seen) < 2 {
				t.Errorf("polling reported only %d changes", len(seen))
			}
			// WaitTask over the same paths.
			tk, err := c.WaitTask(ctx, upID, nil)
			if err != nil || tk.Status != "finished" {
				t.Errorf("wait_task: %v", err)
			}
		})
	}
	t.Run("deadline", func(t *testing.T) {
		s, c := newFake(t)
		_ = s
		j, err := c.CreateJob(context.Background(), NewJob("", map[string]TaskDefinition{"import": TaskDef("import/upload", nil)}))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err = c.WaitJob(ctx, j.Id, &WaitOptions{NoSync: true, PollInterval: 10 * time.Millisecond})
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "still waiting") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestPagination(t *testing.T) {
	s, c := newFake(t)
	ctx := context.Background()
	for i := range 7 {
		tag := "keep"
		if i%2 == 1 {
			tag = "other"
		}
		if _, err := c.CreateJob(ctx, NewJob(tag, map[string]TaskDefinition{"import": TaskDef("import/url", map[string]any{"url": "https://example.com/x.pdf"})})); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		tag  string
		per  int
		want int
	}{{"", 3, 7}, {"keep", 2, 4}, {"other", 1, 3}, {"none", 5, 0}} {
		p := &ListJobsParams{PerPage: &tc.per}
		if tc.tag != "" {
			p.FilterTag = &tc.tag
		}
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
		if n != tc.want {
			t.Errorf("tag %q per %d: %d jobs, want %d", tc.tag, tc.per, n, tc.want)
		}
	}
	// Stop early: no more pages fetched.
	per := 1
	for range c.Jobs(ctx, &ListJobsParams{PerPage: &per}) {
		break
	}
	n := 0
	op := client.ListTasksParamsFilterOperation("import/url")
	for _, err := range c.Tasks(ctx, &ListTasksParams{PerPage: &per, FilterOperation: &op}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 7 || s.JobsCreated.Load() != 7 {
		t.Errorf("tasks %d jobs %d", n, s.JobsCreated.Load())
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
	if !errors.Is(err, ErrTransport) || !strings.Contains(err.Error(), "get_job: GET /jobs/x: no response") || !strings.Contains(logs.String(), "retrying") {
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
