package goclient_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/cctoolkit/cloudconvert/generated/cloudconvert/client"
	"github.com/cctoolkit/cloudconvert/generated/cloudconvert/syncclient"
)

const fixtures = "../../../../shared/fixtures/cloudconvert-sdk"

func fixture(t *testing.T, rel string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtures, rel))
	if err != nil {
		t.Skipf("shared fixtures are not beside the repository: %v", err)
	}
	return data
}

func loadDoc(t testing.TB) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromFile("../../../generated/cloudconvert/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// recorded is one request the contract server saw.
type recorded struct {
	Method, Path string
	Query        map[string][]string
	Body         []byte
	Err          error // validation error, if any
}

// contractServer validates every request against the OpenAPI document and
// answers with a recorded response of the real API.
type contractServer struct {
	*httptest.Server
	mu   sync.Mutex
	seen []recorded
}

func newContractServer(t *testing.T, answers map[string][]byte) *contractServer {
	t.Helper()
	doc := loadDoc(t)
	cs := &contractServer{}
	cs.Server = httptest.NewUnstartedServer(nil)
	cs.Server.Start()
	doc.Servers = openapi3.Servers{{URL: cs.URL + "/v2"}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	cs.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := recorded{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Body: body}
		route, params, err := router.FindRoute(r)
		if err == nil {
			err = openapi3filter.ValidateRequest(r.Context(), &openapi3filter.RequestValidationInput{
				Request: r, PathParams: params, Route: route,
				Options: &openapi3filter.Options{AuthenticationFunc: bearerOnly},
			})
		}
		rec.Err = err
		cs.mu.Lock()
		cs.seen = append(cs.seen, rec)
		cs.mu.Unlock()
		if err != nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnprocessableEntity)
			json.NewEncoder(w).Encode(map[string]string{"message": err.Error(), "code": "INVALID_DATA"})
			return
		}
		answer := answers[r.Method+" "+r.URL.Path]
		status := http.StatusOK
		if r.Method == http.MethodPost {
			status = http.StatusCreated
		}
		// The answer must itself fit the document.
		if err := validateResponse(r.Context(), route, params, r, status, answer); err != nil {
			t.Errorf("the recorded answer for %s %s does not fit the document: %v", r.Method, r.URL.Path, err)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(answer)
	})
	t.Cleanup(cs.Close)
	return cs
}

func validateResponse(ctx context.Context, route *routers.Route, params map[string]string, r *http.Request, status int, body []byte) error {
	return openapi3filter.ValidateResponse(ctx, &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route},
		Status:                 status,
		Header:                 http.Header{"Content-Type": {"application/json"}},
		Body:                   io.NopCloser(bytes.NewReader(body)),
	})
}

func bearerOnly(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if !strings.HasPrefix(in.RequestValidationInput.Request.Header.Get("Authorization"), "Bearer ") {
		return errMissingBearer
	}
	return nil
}

var errMissingBearer = &json.UnsupportedValueError{Str: "missing bearer token"}

func (cs *contractServer) last(t *testing.T) recorded {
	t.Helper()
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if len(cs.seen) == 0 {
		t.Fatal("the server saw no request")
	}
	return cs.seen[len(cs.seen)-1]
}

func newClient(t *testing.T, url string) *client.ClientWithResponses {
	t.Helper()
	c, err := client.NewClientWithResponses(url+"/v2", client.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer test-key")
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ptr[T any](v T) *T { return &v }

// TestRequestsMatchTheDocument drives each of the seven functions through
// the generated client and validates the request the server saw.
func TestRequestsMatchTheDocument(t *testing.T) {
	answers := map[string][]byte{
		"POST /v2/jobs":    fixture(t, "cloudconvert-node/tests/unit/responses/job_created.json"),
		"GET /v2/jobs/j1":  fixture(t, "cloudconvert-node/tests/unit/responses/job.json"),
		"GET /v2/jobs":     fixture(t, "cloudconvert-node/tests/unit/responses/jobs.json"),
		"POST /v2/convert": fixture(t, "cloudconvert-node/tests/unit/responses/task_created.json"),
		"GET /v2/tasks/t1": fixture(t, "cloudconvert-node/tests/unit/responses/task.json"),
		"GET /v2/tasks":    fixture(t, "cloudconvert-node/tests/unit/responses/tasks.json"),
		"GET /v2/users/me": fixture(t, "cloudconvert-node/tests/unit/responses/user.json"),
	}
	cs := newContractServer(t, answers)
	c := newClient(t, cs.URL)
	ctx := context.Background()

	input := client.TaskInput{}
	if err := input.FromTaskInput0("import-1"); err != nil {
		t.Fatal(err)
	}
	jobStatus := client.ListJobsParamsFilterStatusFinished
	taskStatus := client.ListTasksParamsFilterStatusError
	op := client.ListTasksParamsFilterOperationConvert

	tests := []struct {
		name      string
		call      func() (int, error)
		method    string
		path      string
		query     map[string]string
		bodyCheck func(t *testing.T, body map[string]any)
	}{
		{
			name: "create_job", method: "POST", path: "/v2/jobs",
			call: func() (int, error) {
				r, err := c.CreateJobWithResponse(ctx, client.CreateJobRequest{
					Tag: ptr("t"),
					Tasks: map[string]client.TaskDefinition{
						"import-1": {Operation: client.TaskDefinitionOperationImporturl, AdditionalProperties: map[string]any{"url": "https://example.com/a.pdf"}},
						"convert":  {Operation: client.TaskDefinitionOperationConvert, Input: &input, AdditionalProperties: map[string]any{"output_format": "png"}},
					},
				})
				return status(r, err)
			},
			bodyCheck: func(t *testing.T, body map[string]any) {
				tasks, ok := body["tasks"].(map[string]any)
				if !ok {
					t.Fatalf("tasks is %T, want an object keyed by name", body["tasks"])
				}
				if _, ok := tasks["import-1"].(map[string]any)["url"]; !ok {
					t.Errorf("the operation's own fields were lost: %v", tasks["import-1"])
				}
			},
		},
		{
			name: "get_job", method: "GET", path: "/v2/jobs/j1",
			call: func() (int, error) { return status(c.GetJobWithResponse(ctx, "j1")) },
		},
		{
			name: "list_jobs", method: "GET", path: "/v2/jobs",
			query: map[string]string{"filter[status]": "finished", "filter[tag]": "x", "per_page": "10", "page": "2"},
			call: func() (int, error) {
				return status(c.ListJobsWithResponse(ctx, &client.ListJobsParams{FilterStatus: &jobStatus, FilterTag: ptr("x"), PerPage: ptr(10), Page: ptr(2)}))
			},
		},
		{
			name: "create_task", method: "POST", path: "/v2/convert",
			call: func() (int, error) {
				body := client.CreateTaskRequest{Input: &input, AdditionalProperties: map[string]any{"output_format": "pdf"}}
				return status(c.CreateTaskConvertWithResponse(ctx, body))
			},
			bodyCheck: func(t *testing.T, body map[string]any) {
				if body["output_format"] != "pdf" || body["input"] != "import-1" {
					t.Errorf("payload fields must be at the top level: %v", body)
				}
			},
		},
		{
			name: "get_task", method: "GET", path: "/v2/tasks/t1",
			call: func() (int, error) { return status(c.GetTaskWithResponse(ctx, "t1")) },
		},
		{
			name: "list_tasks", method: "GET", path: "/v2/tasks",
			query: map[string]string{"filter[status]": "error", "filter[operation]": "convert", "filter[job_id]": "j1"},
			call: func() (int, error) {
				return status(c.ListTasksWithResponse(ctx, &client.ListTasksParams{FilterStatus: &taskStatus, FilterOperation: &op, FilterJobId: ptr("j1")}))
			},
		},
		{
			name: "get_current_user", method: "GET", path: "/v2/users/me",
			call: func() (int, error) { return status(c.GetCurrentUserWithResponse(ctx)) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, err := tt.call()
			if err != nil {
				t.Fatal(err)
			}
			got := cs.last(t)
			if got.Err != nil {
				t.Fatalf("the request does not fit the OpenAPI document: %v", got.Err)
			}
			if code >= 300 {
				t.Fatalf("status %d", code)
			}
			if got.Method != tt.method || got.Path != tt.path {
				t.Errorf("request = %s %s, want %s %s", got.Method, got.Path, tt.method, tt.path)
			}
			for k, v := range tt.query {
				if g := got.Query[k]; len(g) != 1 || g[0] != v {
					t.Errorf("query %s = %v, want %q", k, g, v)
				}
			}
			if tt.bodyCheck != nil {
				var body map[string]any
				if err := json.Unmarshal(got.Body, &body); err != nil {
					t.Fatalf("body is not JSON: %v", err)
				}
				tt.bodyCheck(t, body)
			}
		})
	}
}

// TestValidationRejectsKnownMistakes proves the contract server can fail:
// the mistakes other integrations made are refused by the document.
func TestValidationRejectsKnownMistakes(t *testing.T) {
	cs := newContractServer(t, map[string][]byte{})
	tests := []struct {
		name, method, path, body string
	}{
		{"tasks as an array", "POST", "/v2/jobs", `{"tasks":[{"operation":"import/url"}]}`},
		{"unknown operation", "POST", "/v2/jobs", `{"tasks":{"a":{"operation":"export/aws-s3"}}}`},
		{"task without operation", "POST", "/v2/jobs", `{"tasks":{"a":{"input":"b"}}}`},
		{"status without filter[]", "GET", "/v2/jobs?filter[status]=done", ""},
		{"per_page over the maximum", "GET", "/v2/jobs?per_page=500", ""},
		{"standalone task posted to /tasks", "POST", "/v2/tasks", `{"operation":"convert"}`},
		{"google drive export", "POST", "/v2/export/google-drive", `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, cs.URL+tt.path, strings.NewReader(tt.body))
			req.Header.Set("Authorization", "Bearer k")
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := cs.last(t); got.Err == nil {
				t.Errorf("%s %s was accepted; the document should refuse it", tt.method, tt.path)
			}
		})
	}
}

type statusResponse interface{ StatusCode() int }

func status[R statusResponse](r R, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	return r.StatusCode(), nil
}

// The recorded fixtures, counted once: a fixture added or lost must be
// noticed, not skipped.
const (
	fixtureFiles     = 54 // every .json under the fixtures
	fixtureDocuments = 63 // the API documents in them (VCR cassettes hold several)
)

// fixtureDoc is one recorded API document: a response body, a webhook's
// job, or a response of a recorded interaction.
type fixtureDoc struct {
	name string
	raw  []byte
}

// fixtureDocs reads the API documents of one fixture file. A file that
// holds none is an error, never skipped.
func fixtureDocs(t *testing.T, path string, raw []byte) []fixtureDoc {
	var top map[string]any
	if err := json.Unmarshal(raw, &top); err != nil {
		t.Errorf("%s: not a JSON object: %v", path, err)
		return nil
	}
	switch {
	case top["interactions"] != nil:
		// A VCR cassette summary: every JSON answer of the API host.
		var cassette struct {
			Interactions []struct {
				Method       string `json:"method"`
				URI          string `json:"uri"`
				Status       int    `json:"status"`
				ResponseBody string `json:"response_body"`
			} `json:"interactions"`
		}
		if err := json.Unmarshal(raw, &cassette); err != nil {
			t.Errorf("%s: %v", path, err)
			return nil
		}
		var out []fixtureDoc
		for i, in := range cassette.Interactions {
			if strings.Contains(in.URI, "api.") && strings.HasPrefix(strings.TrimSpace(in.ResponseBody), "{") {
				out = append(out, fixtureDoc{name: fmt.Sprintf("%s#%d(%s %s %d)", path, i, in.Method, in.URI, in.Status), raw: []byte(in.ResponseBody)})
			}
		}
		return out
	case top["event"] != nil && top["job"] != nil:
		// A webhook payload: its job is a bare Job.
		job, _ := json.Marshal(top["job"])
		return []fixtureDoc{{name: path + "#job", raw: job}}
	}
	return []fixtureDoc{{name: path, raw: raw}}
}

// TestFixturesRoundTrip decodes every recorded document of the official
// SDKs' tests (responses, webhook payloads, recorded interactions) through
// the generated types, validates it against the document, and checks that
// encoding it again loses no field. The counts are exact.
func TestFixturesRoundTrip(t *testing.T) {
	doc := loadDoc(t)
	var files []string
	err := filepath.WalkDir(fixtures, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".json") {
			files = append(files, p)
		}
		return err
	})
	if err != nil || len(files) == 0 {
		t.Skipf("shared fixtures are not beside the repository: %v", err)
	}
	if len(files) != fixtureFiles {
		t.Errorf("found %d fixture files, want exactly %d: update the count when the fixtures change", len(files), fixtureFiles)
	}
	checked := 0
	for _, p := range files {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(fixtures, p)
		docs := fixtureDocs(t, rel, raw)
		if len(docs) == 0 {
			t.Errorf("%s: no API document in it; a fixture must be checked or the count changed", rel)
		}
		for _, fd := range docs {
			var generic map[string]any
			if err := json.Unmarshal(fd.raw, &generic); err != nil {
				t.Errorf("%s: not JSON: %v", fd.name, err)
				continue
			}
			typeName, target := classify(generic)
			if target == nil {
				t.Errorf("%s: not a document of a known type (keys %v)", fd.name, keys(generic))
				continue
			}
			checked++
			t.Run(fd.name, func(t *testing.T) {
				if err := doc.Components.Schemas[typeName].Value.VisitJSON(generic); err != nil {
					t.Errorf("does not validate as %s: %v", typeName, err)
				}
				if err := json.Unmarshal(fd.raw, target); err != nil {
					t.Fatalf("does not decode into client.%s: %v", typeName, err)
				}
				again, err := json.Marshal(target)
				if err != nil {
					t.Fatal(err)
				}
				var before, after any
				json.Unmarshal(fd.raw, &before)
				json.Unmarshal(again, &after)
				if !reflect.DeepEqual(before, after) {
					t.Errorf("the round trip through client.%s changed the document:\n%s", typeName, firstDifference("", before, after))
				}
			})
		}
	}
	if checked != fixtureDocuments {
		t.Errorf("checked %d documents, want exactly %d", checked, fixtureDocuments)
	}
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// classify picks the generated type of a recorded document.
func classify(doc map[string]any) (string, any) {
	if doc["data"] == nil {
		if _, ok := doc["operation"]; ok {
			return "Task", new(client.Task) // a bare task, as the Python SDK stores some
		}
		if _, ok := doc["message"]; ok {
			return "Error", new(client.Error)
		}
		if _, ok := doc["status"]; ok {
			if _, ok := doc["id"]; ok {
				return "Job", new(client.Job) // a bare job (Python SDK, webhook payloads)
			}
		}
		return "", nil
	}
	switch d := doc["data"].(type) {
	case []any:
		if len(d) > 0 {
			if _, ok := d[0].(map[string]any)["operation"]; ok {
				return "TaskList", new(client.TaskList)
			}
		}
		return "JobList", new(client.JobList)
	case map[string]any:
		if _, ok := d["username"]; ok {
			return "UserResponse", new(client.UserResponse)
		}
		if _, ok := d["operation"]; ok {
			return "TaskResponse", new(client.TaskResponse)
		}
		return "JobResponse", new(client.JobResponse)
	}
	return "", nil
}

// firstDifference names the first path at which two JSON values differ.
func firstDifference(path string, a, b any) string {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			return path + ": object became " + reflect.TypeOf(b).String()
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok {
				return path + "." + k + ": lost"
			}
			if d := firstDifference(path+"."+k, v, w); d != "" {
				return d
			}
		}
		for k := range y {
			if _, ok := x[k]; !ok {
				return path + "." + k + ": added"
			}
		}
		return ""
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return path + ": array changed"
		}
		for i := range x {
			if d := firstDifference(path+"["+string(rune('0'+i%10))+"]", x[i], y[i]); d != "" {
				return d
			}
		}
		return ""
	}
	if !reflect.DeepEqual(a, b) {
		b1, _ := json.Marshal(a)
		b2, _ := json.Marshal(b)
		return path + ": " + string(b1) + " became " + string(b2)
	}
	return ""
}

// TestSyncClientWaitsOnTheSyncHost: wait_job lives on the sync server, in a
// document and client of its own; its request must fit that document.
func TestSyncClientWaitsOnTheSyncHost(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromFile("../../../generated/cloudconvert/openapi-sync.yaml")
	if err != nil {
		t.Fatal(err)
	}
	answer := fixture(t, "cloudconvert-node/tests/unit/responses/job_finished.json")
	var verr error
	var path string
	srv := httptest.NewServer(nil)
	defer srv.Close()
	doc.Servers = openapi3.Servers{{URL: srv.URL + "/sync/v2"}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.Path
		route, params, err := router.FindRoute(r)
		if err == nil {
			err = openapi3filter.ValidateRequest(r.Context(), &openapi3filter.RequestValidationInput{
				Request: r, PathParams: params, Route: route,
				Options: &openapi3filter.Options{AuthenticationFunc: bearerOnly},
			})
		}
		verr = err
		w.Header().Set("Content-Type", "application/json")
		w.Write(answer)
	})
	c, err := syncclient.NewClientWithResponses(srv.URL+"/sync/v2", syncclient.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer test-key")
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.WaitJobWithResponse(context.Background(), "j1")
	if err != nil {
		t.Fatal(err)
	}
	if verr != nil {
		t.Fatalf("the request does not fit the sync document: %v", verr)
	}
	if path != "/sync/v2/jobs/j1" || got.JSON200 == nil || got.JSON200.Data.Status != "finished" {
		t.Errorf("path %s, answer %+v", path, got.JSON200)
	}
}
