package localserver

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// rawGet is GET path with the test key: status and the body's bytes.
func rawGet(t *testing.T, e *env, path string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", e.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+testKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// A finished job's answer is kept and served again byte for byte, and any
// change (a task deleted, the job deleted) is seen by the next GET.
func TestKeptAnswers(t *testing.T) {
	e := newEnv(t)
	status, body, _ := e.do("POST", "/v2/jobs", imageJob(testPNG(8, 8), "kept"))
	if status != 201 {
		t.Fatalf("create: %d %s", status, jsonStr(body))
	}
	id := body["data"].(map[string]any)["id"].(string)
	job := e.waitJob(id)
	exportID := taskByName(job, "export")["id"].(string)

	kept := func(kind, id string, escape bool) []byte {
		var gen uint64
		e.srv.rlocked(func() { gen = e.srv.gen })
		b, _ := e.srv.views.get(viewKey{kind: kind, id: id, escape: escape}, gen)
		return b
	}
	for _, c := range []struct {
		kind, path string
		escape     bool
	}{
		{"job", "/v2/jobs/" + id, true},
		{"job", "/sync/v2/jobs/" + id, false},
		{"task", "/v2/tasks/" + exportID, true},
		{"task", "/sync/v2/tasks/" + exportID, false},
	} {
		status, first := rawGet(t, e, c.path)
		if status != 200 {
			t.Fatalf("GET %s: %d %s", c.path, status, first)
		}
		if k := kept(c.kind, c.path[bytes.LastIndexByte([]byte(c.path), '/')+1:], c.escape); !bytes.Equal(k, first) {
			t.Fatalf("GET %s: kept %q, answered %q", c.path, k, first)
		}
		if _, again := rawGet(t, e, c.path); !bytes.Equal(again, first) {
			t.Fatalf("GET %s again: %s, first %s", c.path, again, first)
		}
		if escaped := bytes.Contains(first, []byte(`\/`)); escaped != c.escape {
			t.Fatalf("GET %s: %s (escaped %v, want %v)", c.path, first, escaped, c.escape)
		}
	}

	// A change: the export task deleted. The job's next answer lists two
	// tasks, the task's is 404.
	if status, body, _ := e.do("DELETE", "/v2/tasks/"+exportID, nil); status != 204 {
		t.Fatalf("delete task: %d %s", status, jsonStr(body))
	}
	if status, _, _ := e.do("GET", "/v2/tasks/"+exportID, nil); status != 404 {
		t.Fatalf("GET the deleted task: %d", status)
	}
	for _, p := range []string{"/v2/jobs/" + id, "/sync/v2/jobs/" + id} {
		status, body, _ := e.do("GET", p, nil)
		if n := len(body["data"].(map[string]any)["tasks"].([]any)); status != 200 || n != 2 {
			t.Fatalf("GET %s after a task was deleted: %d, %d tasks", p, status, n)
		}
	}
	if status, _, _ := e.do("DELETE", "/v2/jobs/"+id, nil); status != 204 {
		t.Fatalf("delete job: %d", status)
	}
	for _, p := range []string{"/v2/jobs/" + id, "/sync/v2/jobs/" + id} {
		if status, _ := rawGet(t, e, p); status != 404 {
			t.Fatalf("GET %s after the job was deleted: %d", p, status)
		}
	}
}

// Another user never gets a kept answer of someone else's job.
func TestKeptAnswersAreOwned(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.APIKey = ""
		c.Users = []UserConfig{{ID: 1, Username: "a", APIKeys: []string{testKey}}, {ID: 2, Username: "b", APIKeys: []string{"other-key-0123456789"}}}
	})
	status, body, _ := e.do("POST", "/v2/jobs", imageJob(testPNG(8, 8), "owned"))
	if status != 201 {
		t.Fatalf("create: %d %s", status, jsonStr(body))
	}
	id := body["data"].(map[string]any)["id"].(string)
	e.waitJob(id)
	if status, _ := rawGet(t, e, "/v2/jobs/"+id); status != 200 { // kept now
		t.Fatalf("owner: %d", status)
	}
	req, _ := http.NewRequest("GET", e.URL+"/v2/jobs/"+id, nil)
	req.Header.Set("Authorization", "Bearer other-key-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("another user's GET of a kept job: %d, want 404", resp.StatusCode)
	}
}

// The kept answers' memory is bounded.
func TestViewCacheBounded(t *testing.T) {
	var c viewCache
	big := make([]byte, maxViewSize)
	for i := range 3 * maxViewBytes / maxViewSize {
		c.put(viewKey{kind: "job", id: string(rune('a'+i%26)) + string(rune('0'+i/26))}, 1, big)
		if c.bytes > maxViewBytes {
			t.Fatalf("%d bytes kept, bound %d", c.bytes, maxViewBytes)
		}
	}
	c.put(viewKey{kind: "job", id: "huge"}, 1, make([]byte, maxViewSize+1))
	if _, ok := c.get(viewKey{kind: "job", id: "huge"}, 1); ok {
		t.Fatal("an answer over maxViewSize was kept")
	}
	c.put(viewKey{kind: "job", id: "x"}, 2, []byte("new"))
	c.put(viewKey{kind: "job", id: "x"}, 1, []byte("old"))
	if b, _ := c.get(viewKey{kind: "job", id: "x"}, 2); string(b) != "new" {
		t.Fatalf("an older answer replaced a newer one: %q", b)
	}
}

// The route cache answers what the router does, for every kind of
// pattern, and is not used where a pattern may match more than one route.
func TestRouteCache(t *testing.T) {
	base := "http://127.0.0.1:1"
	for _, c := range []struct {
		pattern, method, path string
		cached                bool
	}{
		{"GET /v2/jobs/{id}", "GET", "/v2/jobs/6559c281-ed85-4728-80db-414561c631e9", true},
		{"GET /sync/v2/jobs/{id}", "GET", "/sync/v2/jobs/abc", true},
		{"GET /v2/tasks/{id}", "GET", "/v2/tasks/x-y_z", true},
		{"GET /v2/users/me", "GET", "/v2/users/me", true},
		{"GET /v2/jobs", "GET", "/v2/jobs?per_page=5", true},
		{"POST /v2/jobs", "POST", "/v2/jobs", true},
		{"POST /v2/{operation...}", "POST", "/v2/import/url", false},
		{"POST /v2/{operation...}", "POST", "/v2/convert", false},
	} {
		t.Run(c.path, func(t *testing.T) {
			v, err := newValidator(base)
			if err != nil {
				t.Fatal(err)
			}
			mux := http.NewServeMux()
			mux.HandleFunc(c.pattern, func(w http.ResponseWriter, r *http.Request) {
				want, wantParams, err := v.findRoute(r)
				if err != nil {
					t.Fatalf("router: %v", err)
				}
				for range 2 { // the first fills the cache, the second uses it
					got, params, err := v.lookup(r)
					if err != nil || got.Operation != want.Operation || got.Path != want.Path || got.Method != want.Method || !reflect.DeepEqual(params, wantParams) {
						t.Fatalf("lookup: %v %v %v; router: %v %v", got, params, err, want, wantParams)
					}
				}
				if cached := v.known(r.Method+" "+r.Pattern) != nil; cached != c.cached {
					t.Fatalf("cached %v, want %v", cached, c.cached)
				}
			})
			mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(c.method, base+c.path, nil))
		})
	}

	// A literal path beside a templated one: /jobs/export would be matched
	// by GET /v2/jobs/{id}, so that pattern's route is not cached.
	v, err := newValidator(base)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", base+"/v2/jobs/abc", nil)
	route, _, err := v.findRoute(r)
	if err != nil {
		t.Fatal(err)
	}
	if v.cacheable("GET /v2/jobs/{id}", route) == nil {
		t.Fatal("GET /v2/jobs/{id} not cacheable in the generated document")
	}
	v.doc.Paths.Set("/jobs/export", &openapi3.PathItem{Get: &openapi3.Operation{}})
	if v.cacheable("GET /v2/jobs/{id}", route) != nil {
		t.Fatal("cached beside an overlapping literal path")
	}
}
