package gen

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSecondIntegration generates a made-up integration (two functions,
// one read and one write) and proves its outputs build and work: nothing in
// gen/ or templates/ may be specific to CloudConvert.
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
		"generated/notes/meta/meta.go",
		"generated/notes/meta/metadata.json",
		"generated/notes/docs/notes.md",
		"generated/notes/docs/reference.md",
		"generated/notes/docs/functions/get_note.md",
		"generated/notes/docs/functions/create_note.md",
		"generated/notes/luabind/luabind.gen.go",
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
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"example.com/notesdemo/generated/notes/client"
	"example.com/notesdemo/generated/notes/docs"
	"example.com/notesdemo/generated/notes/meta"
)

func TestContract(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromFile("generated/notes/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var failures []error
	srv := httptest.NewServer(nil)
	defer srv.Close()
	doc.Servers = openapi3.Servers{{URL: srv.URL + "/v1"}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen++
		route, params, err := router.FindRoute(r)
		if err == nil {
			err = openapi3filter.ValidateRequest(r.Context(), &openapi3filter.RequestValidationInput{
				Request: r, PathParams: params, Route: route,
				Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
			})
		}
		if err != nil {
			failures = append(failures, err)
		}
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusCreated)
		}
		w.Write([]byte(` + "`" + `{"data":{"id":7,"title":"Groceries","body":null,"tags":["home"]}}` + "`" + `))
	})
	c, err := client.NewClientWithResponses(srv.URL + "/v1")
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
	if seen != 2 || len(failures) > 0 {
		t.Fatalf("saw %d requests, failures: %v", seen, failures)
	}
	in := meta.Integration()
	if in.Counts.Read != 1 || in.Counts.Write != 1 || len(in.Functions) != 2 {
		t.Errorf("metadata counts: %+v", in.Counts)
	}
	if f, ok := in.Function("create_note"); !ok || f.Operation != "write" || f.Slug != "notes_create_note" {
		t.Errorf("create_note metadata: %+v", f)
	}
	if len(docs.Pages()) != 4 {
		t.Errorf("docs pages: %v", docs.Pages())
	}
}
`
