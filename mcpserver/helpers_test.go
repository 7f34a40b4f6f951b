package mcpserver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cctoolkit/cloudconvert/accounts"
	"github.com/cctoolkit/cloudconvert/luaruntime"
)

const (
	testKey    = "sk-test-SECRET-0123456789abcdef"
	stagingKey = "sk-staging-SECRET-fedcba9876543210"
)

// fixtureDir holds the official PHP SDK's recorded responses.
const fixtureDir = "../../shared/fixtures/cloudconvert-sdk/cloudconvert-php/tests/Unit/responses"

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, name))
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	return b
}

type request struct {
	Method, Path, Query, Auth string
	Body                      string
}

// fixtureAPI answers like the CloudConvert API with the recorded fixtures.
// Job IDs "missing" (404) and "echo-key" (a broken server that echoes the
// Authorization header back) trigger errors.
type fixtureAPI struct {
	*httptest.Server
	files map[string][]byte
	mu    sync.Mutex
	reqs  []request
}

func newFixtureAPI(t testing.TB) *fixtureAPI {
	t.Helper()
	f := &fixtureAPI{files: map[string][]byte{}}
	for _, n := range []string{"job.json", "job_created.json", "jobs.json", "task.json", "task_created.json", "tasks.json", "user.json", "error400.json"} {
		f.files[n] = fixture(t, n)
	}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fixtureAPI) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Auth: r.Header.Get("Authorization"), Body: string(body)})
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if a := r.Header.Get("Authorization"); a != "Bearer "+testKey && a != "Bearer "+stagingKey {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"message":"Unauthenticated.","code":"UNAUTHENTICATED"}`)
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/v2")
	seg := strings.Split(strings.Trim(p, "/"), "/")
	if len(seg) == 2 && (seg[0] == "jobs" || seg[0] == "tasks") {
		switch seg[1] {
		case "missing":
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"message":"Job not found","code":"NOT_FOUND"}`)
			return
		case "echo-key":
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, `{"message":"bad header %s","code":"SERVER_ERROR","errors":{"auth":[%q]}}`, r.Header.Get("Authorization"), r.Header.Get("Authorization"))
			return
		case "invalid":
			w.WriteHeader(http.StatusUnprocessableEntity)
			w.Write(f.files["error400.json"])
			return
		}
	}
	switch {
	case r.Method == "GET" && p == "/users/me":
		w.Write(f.files["user.json"])
	case r.Method == "GET" && p == "/jobs":
		w.Write(f.files["jobs.json"])
	case r.Method == "GET" && p == "/tasks":
		w.Write(f.files["tasks.json"])
	case r.Method == "GET" && len(seg) == 2 && seg[0] == "jobs":
		w.Write(f.files["job.json"])
	case r.Method == "GET" && len(seg) == 2 && seg[0] == "tasks":
		w.Write(f.files["task.json"])
	case r.Method == "POST" && p == "/jobs":
		w.WriteHeader(http.StatusCreated)
		w.Write(f.files["job_created.json"])
	case r.Method == "POST":
		w.WriteHeader(http.StatusCreated)
		w.Write(f.files["task_created.json"])
	default:
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"message":"no fixture","code":"NOT_FOUND"}`)
	}
}

func (f *fixtureAPI) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.reqs...)
}

func (f *fixtureAPI) reset() {
	f.mu.Lock()
	f.reqs = nil
	f.mu.Unlock()
}

// testAccounts: a default account and "staging" (another key) at base.
func testAccounts(base string) *accounts.Set {
	return accounts.NewSet(
		&accounts.Account{Name: "default", APIKey: accounts.NewSecret(testKey), BaseURL: base},
		&accounts.Account{Name: "staging", APIKey: accounts.NewSecret(stagingKey), BaseURL: base},
	)
}

type setup struct {
	allowWrite bool
	maxOutput  int
	base       string // REST base URL
}

func newServer(t testing.TB, s setup) *Server {
	t.Helper()
	rt, err := luaruntime.New(luaruntime.Options{
		Accounts: testAccounts(s.base),
		Policy:   luaruntime.Headless(s.allowWrite),
		DenyHint: "restart the MCP server with --write=allow",
	})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Runtime: rt, MaxOutput: s.maxOutput, Name: "cloudconvert-test", Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// connect starts srv on an in-memory transport and returns a client
// session (a real MCP client of the SDK).
func connect(t testing.TB, srv *Server) *mcp.ClientSession {
	t.Helper()
	ctx := context.Background()
	ct, st := mcp.NewInMemoryTransports()
	ss, err := srv.MCP().Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "1"}, nil)
	cs, err := client.Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cs.Close()
		ss.Wait()
	})
	return cs
}

// call calls a tool and checks the answer never holds an API key.
func call(t testing.TB, cs *mcp.ClientSession, name string, args any) *mcp.CallToolResult {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: protocol error: %v", name, err)
	}
	noKey(t, name, res)
	return res
}

// noKey fails when a result holds an API key anywhere.
func noKey(t testing.TB, what string, v any) {
	t.Helper()
	b, _ := json.Marshal(v)
	for _, k := range []string{testKey, stagingKey, "SECRET"} {
		if strings.Contains(string(b), k) {
			t.Errorf("%s: an API key leaked into the result: %s", what, b)
		}
	}
}

func text(r *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range r.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// errorField returns structuredContent.error[name].
func errorField(r *mcp.CallToolResult, name string) any {
	m, _ := r.StructuredContent.(map[string]any)
	e, _ := m["error"].(map[string]any)
	return e[name]
}

// normalize round-trips v through JSON into plain Go values.
func normalize(t testing.TB, v any) any {
	t.Helper()
	var b []byte
	switch v := v.(type) {
	case json.RawMessage:
		b = v
	case []byte:
		b = v
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("normalize: %v: %s", err, b)
	}
	return out
}
