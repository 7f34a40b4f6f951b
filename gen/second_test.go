package gen

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSecondIntegration generates a made-up integration (two functions,
// one read and one write) and proves its outputs build and work end to
// end: the generated client's requests fit the generated document, and the
// generated descriptor drives the toolkit's unchanged runtime packages (its
// functions called from Lua, listed and called as MCP tools over a real MCP
// client session). Nothing in gen/, templates/ or the runtime may be
// specific to CloudConvert.
func TestSecondIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a separate module; skipped with -short")
	}
	root, opts := repoOptions(t)
	opts.Specs = []string{"gen/testdata/second/notes.yaml"}
	opts.OutputModule = "example.com/notesdemo"
	files, err := Generate(opts)
	if err != nil {
		t.Fatalf("generating the second integration: %v", err)
	}
	for _, want := range []string{
		"generated/notes/openapi.yaml",
		"generated/notes/client/client.gen.go",
		"generated/notes/descriptor.go",
		"generated/notes/meta/metadata.json",
		"generated/notes/docs/notes.md",
		"generated/notes/docs/reference.md",
		"generated/notes/docs/functions/get_note.md",
		"generated/notes/docs/functions/create_note.md",
	} {
		if _, ok := files[want]; !ok {
			t.Errorf("%s was not generated; got %v", want, files.Paths())
		}
	}
	for p, data := range files {
		if strings.Contains(strings.ToLower(string(data)), "cloudconvert") && !strings.HasSuffix(p, ".go") {
			t.Errorf("%s mentions CloudConvert: the generator leaks its first integration", p)
		}
	}
	page := string(files["generated/notes/docs/notes.md"])
	if !strings.Contains(page, "2 functions 1 read 1 write API key auth") {
		t.Errorf("the integration page lacks the counts line:\n%s", page)
	}

	// Build the output in a module of its own and run a contract test
	// against it: the client's requests must fit the generated document.
	mod := t.TempDir()
	if err := Write(mod, "generated", files); err != nil {
		t.Fatal(err)
	}
	if err := Check(mod, "generated", files); err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(gomod), "module "+opts.ModulePath, "module example.com/notesdemo", 1)
	text += "\nrequire " + opts.ModulePath + " v0.0.0\nreplace " + opts.ModulePath + " => " + root + "\n"
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(mod, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", text)
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	write("go.sum", string(sum))
	write("contract_test.go", secondContractTest)

	cmd := exec.Command("go", "test", "-count=1", "./...")
	cmd.Dir = mod
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the second integration's output does not build or pass:\n%s", out)
	}
	vet := exec.Command("go", "vet", "./...")
	vet.Dir, vet.Env = mod, cmd.Env
	if out, err := vet.CombinedOutput(); err != nil {
		t.Fatalf("go vet on the second integration:\n%s", out)
	}
}

// secondContractTest runs inside the second integration's module.
const secondContractTest = `package notesdemo

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cctoolkit/cloudconvert/accounts"
	"github.com/cctoolkit/cloudconvert/integration"
	"github.com/cctoolkit/cloudconvert/integration/invoke"
	"github.com/cctoolkit/cloudconvert/luaruntime"
	"github.com/cctoolkit/cloudconvert/mcpserver"

	"example.com/notesdemo/generated/notes"
	"example.com/notesdemo/generated/notes/client"
)

// notesAPI answers every request with one note and checks each request
// against the generated document.
func notesAPI(t *testing.T) (*httptest.Server, func() (int, []error)) {
	doc, err := openapi3.NewLoader().LoadFromFile("generated/notes/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(nil)
	t.Cleanup(srv.Close)
	doc.Servers = openapi3.Servers{{URL: srv.URL + "/v1"}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := 0
	var failures []error
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route, params, err := router.FindRoute(r)
		if err == nil {
			err = openapi3filter.ValidateRequest(r.Context(), &openapi3filter.RequestValidationInput{
				Request: r, PathParams: params, Route: route,
				Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
			})
		}
		if err == nil && r.Header.Get("Authorization") != "Bearer notes-key" {
			err = errString("no bearer key on " + r.URL.Path)
		}
		mu.Lock()
		seen++
		if err != nil {
			failures = append(failures, err)
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusCreated)
		}
		w.Write([]byte(` + "`" + `{"data":{"id":7,"title":"Groceries","body":null,"tags":["home"]}}` + "`" + `))
	})
	return srv, func() (int, []error) { mu.Lock(); defer mu.Unlock(); return seen, failures }
}

type errString string

func (e errString) Error() string { return string(e) }

func TestContract(t *testing.T) {
	srv, stats := notesAPI(t)
	c, err := client.NewClientWithResponses(srv.URL + "/v1", client.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer notes-key")
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	got, err := c.GetNoteWithResponse(ctx, 7)
	if err != nil || got.JSON200 == nil || got.JSON200.Data.Title != "Groceries" {
		t.Fatalf("get_note: %v %+v", err, got)
	}
	folder := client.Archive
	tags := []string{"home"}
	created, err := c.CreateNoteWithResponse(ctx, &client.CreateNoteParams{Folder: &folder}, client.CreateNoteRequest{Title: "Groceries", Tags: &tags})
	if err != nil || created.JSON201 == nil {
		t.Fatalf("create_note: %v %+v", err, created)
	}
	if seen, failures := stats(); seen != 2 || len(failures) > 0 {
		t.Fatalf("saw %d requests, failures: %v", seen, failures)
	}
	d := notes.Descriptor()
	all, reads, writes := d.Counts()
	if all != 2 || reads != 1 || writes != 1 {
		t.Errorf("descriptor counts: %d %d %d", all, reads, writes)
	}
	if f := d.Function("create_note"); f == nil || f.Kind != integration.Write || f.ToolName != "notes_create_note" {
		t.Errorf("create_note descriptor: %+v", f)
	}
	if len(d.Docs) != 5 || !strings.Contains(d.Doc("notes.get_note").Text, "get_note") || d.Doc("notes.errors") == nil {
		t.Errorf("docs pages: %d", len(d.Docs))
	}
}

// TestRuntimes drives the unchanged Lua runtime and MCP server with the
// generated descriptor.
func TestRuntimes(t *testing.T) {
	srv, stats := notesAPI(t)
	acct := &accounts.Account{Name: accounts.DefaultName, APIKey: accounts.NewSecret("notes-key"), BaseURL: srv.URL + "/v1"}
	inv, err := invoke.New(invoke.Options{Integration: notes.Descriptor(), Accounts: accounts.NewSet(acct), Policy: invoke.Headless(true)})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := luaruntime.New(luaruntime.Options{Invoker: inv})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res := rt.Execute(ctx, ` + "`" + `
		local n = app.integrations.notes.create_note({ title = "Groceries", tags = {"home"}, folder = "archive" })
		local got = app.integrations.notes.get_note({ note_id = n.data.id })
		return got.data.title, got.data.tags[1]
	` + "`" + `)
	if res.Error != nil || len(res.Values) != 2 || res.Values[0] != "Groceries" || res.Values[1] != "home" {
		t.Fatalf("Lua: %+v", res)
	}
	bad := rt.Execute(ctx, ` + "`" + `return app.integrations.notes.get_note({ note_id = 0 })` + "`" + `)
	if bad.Error == nil || !strings.Contains(bad.Error.Error(), "note_id: must be at least 1") {
		t.Fatalf("a bad argument must be refused before sending: %v", bad.Error)
	}

	s, err := mcpserver.New(mcpserver.Options{Runtime: rt})
	if err != nil {
		t.Fatal(err)
	}
	ct, st := mcp.NewInMemoryTransports()
	ss, err := s.MCP().Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range tools.Tools {
		names = append(names, tool.Name)
	}
	if !strings.Contains(strings.Join(names, " "), "notes_get_note") || !strings.Contains(strings.Join(names, " "), "notes_create_note") {
		t.Fatalf("MCP tools: %v", names)
	}
	out, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "notes_get_note", Arguments: map[string]any{"note_id": 7}})
	if err != nil || out.IsError {
		t.Fatalf("MCP call: %v %+v", err, out)
	}
	b, _ := json.Marshal(out.StructuredContent)
	if !strings.Contains(string(b), "Groceries") {
		t.Fatalf("MCP result: %s", b)
	}
	if seen, failures := stats(); seen != 3 || len(failures) > 0 {
		t.Fatalf("saw %d requests, failures: %v", seen, failures)
	}
}
`
