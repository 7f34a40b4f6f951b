package mcpserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cctoolkit/cloudconvert/accounts"
	cloudconvert "github.com/cctoolkit/cloudconvert/generated/cloudconvert"
	"github.com/cctoolkit/cloudconvert/integration/invoke"
	"github.com/cctoolkit/cloudconvert/internal/localtest"
	"github.com/cctoolkit/cloudconvert/localserver"
	"github.com/cctoolkit/cloudconvert/luaruntime"
)

const (
	testKey    = "sk-test-SECRET-0123456789abcdef"
	stagingKey = "sk-staging-SECRET-fedcba9876543210"
)

// users of the local server: the default account's and "staging"'s keys
// belong to different users, so a test sees which account a call used.
var users = []localserver.UserConfig{
	{ID: 1, Username: "local", Email: "local@localhost", Credits: 1000, APIKeys: []string{testKey}},
	{ID: 2, Username: "staging", Email: "staging@localhost", Credits: 50, APIKeys: []string{stagingKey}},
}

// newLocalAPI starts the real local CloudConvert server behind a recorder
// (see localtest). Its fault hook answers only for the job or task ID
// "echo-key": a broken server that echoes the Authorization header back,
// which the local server never does.
func newLocalAPI(t testing.TB) *localtest.Server {
	t.Helper()
	api := localtest.Start(t, localtest.Options{Users: users})
	api.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, "/echo-key") {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, `{"message":"bad header %s","code":"SERVER_ERROR","errors":{"auth":[%q]}}`, r.Header.Get("Authorization"), r.Header.Get("Authorization"))
		return true
	})
	return api
}

// seedJob makes a finished job on the server (import/base64 -> export/url,
// tagged tag) without going through the code under test.
func seedJob(t testing.TB, api *localtest.Server, tag string) map[string]any {
	t.Helper()
	body := `{"tag":` + strconv.Quote(tag) + `,"tasks":{"import":{"operation":"import/base64","file":"aGVsbG8=","filename":"hello.txt"},"export":{"operation":"export/url","input":"import"}}}`
	req, _ := http.NewRequest(http.MethodPost, api.APIURL()+"/jobs", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var created struct {
		Data struct{ ID string } `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&created); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("seed job: %d %v", resp.StatusCode, err)
	}
	job := api.WaitJob(t, created.Data.ID)
	if job["status"] != "finished" {
		t.Fatalf("seed job: %s", mustJSON(job))
	}
	return job
}

// testAccounts: a default account and "staging" (another key, another
// user) at base (a REST base URL, …/v2).
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
	// policy, when set, replaces allowWrite's; denyHint is its hint.
	policy          invoke.Policy
	denyHint        string
	approvalTimeout time.Duration
}

func newServer(t testing.TB, s setup) *Server {
	t.Helper()
	policy, hint := invoke.Headless(s.allowWrite), "restart the MCP server with --write=allow"
	if s.policy != (invoke.Policy{}) {
		policy, hint = s.policy, s.denyHint
	}
	inv, err := invoke.New(invoke.Options{
		Integration: cloudconvert.Descriptor(),
		Accounts:    testAccounts(s.base),
		Policy:      policy,
		DenyHint:    hint,
		UserAgent:   "mcpserver-test",
	})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := luaruntime.New(luaruntime.Options{Invoker: inv})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Runtime: rt, MaxOutput: s.maxOutput, Name: "cloudconvert-test", Version: "test", ApprovalTimeout: s.approvalTimeout})
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
