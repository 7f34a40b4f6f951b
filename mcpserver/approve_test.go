package mcpserver

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cctoolkit/cloudconvert/integration/invoke"
	"github.com/cctoolkit/cloudconvert/internal/localtest"
)

// Protocol versions the approval tests run under: the SDK's latest, where
// a server asks through input_required results (SEP-2322), and the one
// before, where it sends elicitation/create while serving the call.
var approvalProtocols = []struct{ name, version string }{
	{"2026-07-28", ""},
	{"2025-11-25", "2025-11-25"},
}

// elicitor is the person at an elicitation-capable client: it answers
// each question with the next of its answers and records the questions.
type elicitor struct {
	mu        sync.Mutex
	answers   []*mcp.ElicitResult
	questions []*mcp.ElicitParams
}

func (e *elicitor) handle(_ context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.questions = append(e.questions, req.Params)
	if len(e.answers) == 0 {
		return &mcp.ElicitResult{Action: "cancel"}, nil
	}
	a := e.answers[0]
	e.answers = e.answers[1:]
	return a, nil
}

func (e *elicitor) asked() []*mcp.ElicitParams {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*mcp.ElicitParams(nil), e.questions...)
}

var (
	allow   = &mcp.ElicitResult{Action: "accept", Content: map[string]any{"allow": true}}
	notTick = &mcp.ElicitResult{Action: "accept", Content: map[string]any{"allow": false}}
	decline = &mcp.ElicitResult{Action: "decline"}
	dismiss = &mcp.ElicitResult{Action: "cancel"}
)

// connectClient connects a real SDK client to srv: with an elicitation
// handler when e is not nil, speaking version ("" for the SDK's latest).
func connectClient(t testing.TB, srv *Server, e *elicitor, version string, mrtr bool) *mcp.ClientSession {
	t.Helper()
	ctx := context.Background()
	ct, st := mcp.NewInMemoryTransports()
	ss, err := srv.MCP().Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := &mcp.ClientOptions{}
	if e != nil {
		opts.ElicitationHandler = e.handle
	}
	if !mrtr {
		opts.MultiRoundTrip = &mcp.MultiRoundTripOptions{Disabled: true}
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "approval-test-client", Version: "1"}, opts).Connect(ctx, ct, &mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cs.Close()
		ss.Wait()
	})
	want := version
	if want == "" {
		want = protocolInputRequests
	}
	if got := cs.InitializeResult().ProtocolVersion; got != want {
		t.Fatalf("the client speaks %s, want %s", got, want)
	}
	return cs
}

func askServer(t testing.TB, api *localtest.Server) *Server {
	return newServer(t, setup{base: api.APIURL(), policy: invoke.Policy{Read: invoke.Allow, Write: invoke.Ask},
		denyHint: "this MCP server was started with --write=ask; restart it with --write=allow to allow writes without asking"})
}

func posts(api *localtest.Server) []localtest.Request {
	var out []localtest.Request
	for _, r := range api.Requests() {
		if r.Method == http.MethodPost {
			out = append(out, r)
		}
	}
	return out
}

const importArgs = `"tasks": [{"operation": "import/base64", "file": "eA==", "filename": "a.txt"}]`

// TestWriteAskElicits: with --write=ask each write is put to the user
// through the client's elicitation; the call goes on only when the user
// accepts with allow = true, and says why it was refused otherwise.
func TestWriteAskElicits(t *testing.T) {
	api := newLocalAPI(t)
	srv := askServer(t, api)
	for _, proto := range approvalProtocols {
		t.Run(proto.name, func(t *testing.T) {
			for _, tc := range []struct {
				name   string
				answer *mcp.ElicitResult
				err    string // "" when the call goes through
			}{
				{"allowed", allow, ""},
				{"declined", decline, "the user declined it"},
				{"dismissed", dismiss, "the user dismissed the question without answering"},
				{"accepted without allow", notTick, "the user answered without allowing it"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					e := &elicitor{answers: []*mcp.ElicitResult{tc.answer}}
					cs := connectClient(t, srv, e, proto.version, true)
					api.Reset()
					res := call(t, cs, "cloudconvert_create_job", jsonArgs(t, `{"tag": "asked", `+importArgs+`}`))
					q := e.asked()
					if len(q) != 1 {
						t.Fatalf("asked %d times", len(q))
					}
					for _, want := range []string{`cloudconvert.create_job wants to write with the account "default"`, "POST " + api.APIURL() + "/jobs", `"tag":"asked"`, "Allow this call?"} {
						if !strings.Contains(q[0].Message, want) {
							t.Errorf("the question lacks %q:\n%s", want, q[0].Message)
						}
					}
					if tc.err == "" {
						if res.IsError || len(posts(api)) != 1 || posts(api)[0].Status != http.StatusCreated {
							t.Fatalf("allowed: %s; posts %+v", text(res), posts(api))
						}
						return
					}
					if !res.IsError || errorField(res, "kind") != "permission_denied" || !strings.Contains(text(res), tc.err) || !strings.Contains(text(res), "--write=allow") {
						t.Fatalf("refused: %s", text(res))
					}
					if p := posts(api); len(p) != 0 {
						t.Fatalf("a refused write was sent: %+v", p)
					}
				})
			}
			t.Run("reads are not asked", func(t *testing.T) {
				e := &elicitor{}
				cs := connectClient(t, srv, e, proto.version, true)
				if res := call(t, cs, "cloudconvert_get_current_user", nil); res.IsError || len(e.asked()) != 0 {
					t.Fatalf("%s; asked %d", text(res), len(e.asked()))
				}
			})
			// A script asks before each of its writes and runs once: the
			// first job is created once, the second refused, the read
			// between them is not asked.
			t.Run("execute_lua", func(t *testing.T) {
				e := &elicitor{answers: []*mcp.ElicitResult{allow, decline}}
				cs := connectClient(t, srv, e, proto.version, true)
				api.Reset()
				res := call(t, cs, "execute_lua", map[string]any{"code": `
local cc = app.integrations.cloudconvert
local first = cc.create_job({tag = "one", tasks = {{operation = "import/base64", file = "eA==", filename = "a.txt"}}})
print("created", first.data.tag)
print("user", cc.get_current_user({}).data.username)
local ok, err = pcall(cc.create_job, {tag = "two", tasks = {{operation = "import/base64", file = "eA==", filename = "a.txt"}}})
print(ok, err.kind)
return err.message`})
				if res.IsError {
					t.Fatalf("script: %s", text(res))
				}
				out := text(res)
				for _, want := range []string{"created\tone", "user\tlocal", "false\tpermission_denied", "the user declined it"} {
					if !strings.Contains(out, want) {
						t.Errorf("the report lacks %q:\n%s", want, out)
					}
				}
				if len(e.asked()) != 2 {
					t.Errorf("asked %d times, want 2", len(e.asked()))
				}
				p := posts(api)
				if len(p) != 1 || !strings.Contains(string(p[0].Body), `"tag":"one"`) {
					t.Fatalf("posts %+v", p)
				}
			})
		})
	}
}

// TestWriteAskWithoutElicitation: a client that cannot be asked gets every
// write refused, saying why and how to allow writes; reads still work.
func TestWriteAskWithoutElicitation(t *testing.T) {
	api := newLocalAPI(t)
	srv := askServer(t, api)
	for _, proto := range approvalProtocols {
		t.Run(proto.name, func(t *testing.T) {
			cs := connectClient(t, srv, nil, proto.version, true)
			api.Reset()
			res := call(t, cs, "cloudconvert_create_job", jsonArgs(t, `{`+importArgs+`}`))
			if !res.IsError || errorField(res, "kind") != "permission_denied" {
				t.Fatalf("%s", text(res))
			}
			for _, want := range []string{"write operations are set to ask", "this MCP client cannot be asked: it does not support elicitation", "restart it with --write=allow"} {
				if !strings.Contains(text(res), want) {
					t.Errorf("the refusal lacks %q: %s", want, text(res))
				}
			}
			res = call(t, cs, "execute_lua", map[string]any{"code": `return app.integrations.cloudconvert.create_job({tasks = {{operation = "import/base64", file = "eA==", filename = "a.txt"}}})`})
			if !res.IsError || !strings.Contains(text(res), "does not support elicitation") {
				t.Fatalf("script: %s", text(res))
			}
			if p := posts(api); len(p) != 0 {
				t.Fatalf("a refused write was sent: %+v", p)
			}
			if res := call(t, cs, "cloudconvert_get_current_user", nil); res.IsError {
				t.Fatalf("read: %s", text(res))
			}
			init := cs.InitializeResult()
			if init != nil && !strings.Contains(init.Instructions, "asks the user to approve it through the client") {
				t.Errorf("instructions: %s", init.Instructions)
			}
		})
	}
}

// TestApprovalRounds drives the input_required rounds by hand (the
// client's automatic retry off): an answer for an unknown state, for
// another call, and after the server stopped waiting are refused, and the
// waiting call never writes.
func TestApprovalRounds(t *testing.T) {
	api := newLocalAPI(t)
	srv := newServer(t, setup{base: api.APIURL(), policy: invoke.Policy{Read: invoke.Allow, Write: invoke.Ask}, approvalTimeout: 200 * time.Millisecond})
	cs := connectClient(t, srv, &elicitor{}, "", false)
	ctx := context.Background()
	first := func(args string) *mcp.CallToolResult {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "cloudconvert_create_job", Arguments: jsonArgs(t, args)})
		if err != nil {
			t.Fatal(err)
		}
		if !res.NeedsInput() || res.RequestState == "" || res.InputRequests["approval"] == nil {
			t.Fatalf("not input_required: %+v", res)
		}
		return res
	}
	answer := func(args, state string) *mcp.CallToolResult {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "cloudconvert_create_job", Arguments: jsonArgs(t, args),
			RequestState: state, InputResponses: mcp.InputResponseMap{"approval": allow}})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	args := `{"tag": "rounds", ` + importArgs + `}`
	api.Reset()

	if res := answer(args, "0123456789abcdef0123456789abcdef"); !res.IsError || !strings.Contains(text(res), "unknown or no longer waits") {
		t.Errorf("unknown state: %s", text(res))
	}
	r := first(args)
	if res := answer(`{"tag": "other", `+importArgs+`}`, r.RequestState); !res.IsError || !strings.Contains(text(res), "another tool or other arguments") {
		t.Errorf("other arguments: %s", text(res))
	}
	if res := answer(args, r.RequestState); !res.IsError || !strings.Contains(text(res), "unknown or no longer waits") {
		t.Errorf("a state used twice: %s", text(res))
	}
	r = first(args)
	time.Sleep(400 * time.Millisecond) // past the approval timeout
	if res := answer(args, r.RequestState); !res.IsError || !strings.Contains(text(res), "unknown or no longer waits") {
		t.Errorf("after the timeout: %s", text(res))
	}
	if p := posts(api); len(p) != 0 {
		t.Fatalf("a write was sent: %+v", p)
	}
	// The right answer to the right call goes through, once.
	r = first(args)
	if res := answer(args, r.RequestState); res.IsError || len(posts(api)) != 1 {
		t.Fatalf("approved: %s; posts %d", text(res), len(posts(api)))
	}
	srv.mu.Lock()
	n := len(srv.parked)
	srv.mu.Unlock()
	if n != 0 {
		t.Errorf("%d calls still parked", n)
	}
}

// jsonArgs decodes a JSON object of tool arguments.
func jsonArgs(t testing.TB, s string) map[string]any {
	t.Helper()
	m, ok := normalize(t, []byte(s)).(map[string]any)
	if !ok {
		t.Fatalf("not an object: %s", s)
	}
	return m
}

// TestCommandWriteAsk runs `cloudconvert mcp --write=ask` over stdio: a
// client with elicitation is asked before each write, one without is
// refused with the reason, and an account whose permissions in the
// accounts file deny writes is refused without asking.
func TestCommandWriteAsk(t *testing.T) {
	bin := buildCLI(t)
	api := newLocalAPI(t)
	env := cliEnv(t, api.APIURL())
	// staging: writes denied in the accounts file.
	for _, kv := range env {
		if conf, ok := strings.CutPrefix(kv, "CLOUDCONVERT_CONFIG="); ok {
			writeFile(t, conf, "accounts:\n  staging:\n    api_key_env: STAGING_KEY\n    base_url: "+api.APIURL()+"\n    permissions: {write: deny}\n")
		}
	}
	job := map[string]any{"tasks": []any{map[string]any{"operation": "import/base64", "file": "eA==", "filename": "x.txt"}}}
	for _, tc := range []struct {
		name string
		e    *elicitor
	}{
		{"elicitation", &elicitor{answers: []*mcp.ElicitResult{allow, decline}}},
		{"no elicitation", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.Command(bin, "mcp", "--write=ask")
			cmd.Env = env
			stderr := &syncBuffer{}
			cmd.Stderr = stderr
			opts := &mcp.ClientOptions{}
			if tc.e != nil {
				opts.ElicitationHandler = tc.e.handle
			}
			cs, err := mcp.NewClient(&mcp.Implementation{Name: "cmd-client", Version: "1"}, opts).Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
			if err != nil {
				t.Fatalf("connect: %v\nstderr: %s", err, stderr.String())
			}
			defer cs.Close()
			api.Reset()
			first := call(t, cs, "cloudconvert_create_job", job)
			second := call(t, cs, "cloudconvert_create_job", job)
			staging := call(t, cs, "cloudconvert_create_job", map[string]any{"account": "staging", "tasks": job["tasks"]})
			if tc.e != nil {
				if first.IsError || !second.IsError || !strings.Contains(text(second), "the user declined it; this MCP server was started with --write=ask; restart it with --write=allow to allow writes without asking") {
					t.Errorf("first: %s\nsecond: %s", text(first), text(second))
				}
				if n := len(tc.e.asked()); n != 2 {
					t.Errorf("asked %d times, want 2 (staging is denied without asking)", n)
				}
				if p := posts(api); len(p) != 1 {
					t.Errorf("posts %+v", p)
				}
			} else {
				if !first.IsError || !strings.Contains(text(first), "this MCP client cannot be asked") || len(posts(api)) != 0 {
					t.Errorf("first: %s; posts %d", text(first), len(posts(api)))
				}
			}
			if !staging.IsError || !strings.Contains(text(staging), `write operations of the account "staging" are not allowed; its permissions (config file`) || !strings.Contains(text(staging), "change permissions.write there") {
				t.Errorf("staging: %s", text(staging))
			}
		})
	}
}

func writeFile(t testing.TB, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestWriteAskOverHTTP: the same questions over streamable HTTP (whose
// stateful handler speaks 2025-11-25 at most, so the server asks while it
// serves the call, over the request's event stream): an execute_lua script
// with two writes is asked twice and runs once.
func TestWriteAskOverHTTP(t *testing.T) {
	api := newLocalAPI(t)
	srv := askServer(t, api)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	urls := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- srv.ServeHTTP(ctx, "127.0.0.1:0", func(u string) { urls <- u }) }()
	var url string
	select {
	case url = <-urls:
	case err := <-done:
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not start")
	}
	e := &elicitor{answers: []*mcp.ElicitResult{allow, allow}}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "http-client", Version: "1"}, &mcp.ClientOptions{ElicitationHandler: e.handle}).
		Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url}, nil)
	if err != nil {
		t.Fatal(err)
	}
	api.Reset()
	res := call(t, cs, "execute_lua", map[string]any{"code": `
local cc = app.integrations.cloudconvert
local a = cc.create_job({tag = "h1", tasks = {{operation = "import/base64", file = "eA==", filename = "a.txt"}}})
local b = cc.create_job({tag = "h2", tasks = {{operation = "import/base64", file = "eA==", filename = "a.txt"}}})
return a.data.tag .. b.data.tag`})
	if res.IsError || !strings.Contains(text(res), "h1h2") {
		t.Fatalf("script: %s", text(res))
	}
	if n := len(e.asked()); n != 2 {
		t.Errorf("asked %d times, want 2", n)
	}
	if p := posts(api); len(p) != 2 {
		t.Errorf("posts %+v", p)
	}
	cs.Close()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ServeHTTP: %v", err)
	}
}
