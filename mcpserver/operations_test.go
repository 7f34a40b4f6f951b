package mcpserver

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestCommandOperations runs `cloudconvert mcp --write=allow` and drives it
// with a real MCP client: the operations pages are resources (and found by
// lua_search_docs), list_operations lists pdf -> png with its options, and
// a create_job with a misspelt option is refused before it is sent.
func TestCommandOperations(t *testing.T) {
	bin := buildCLI(t)
	api := newLocalAPI(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.Command(bin, "mcp", "--write=allow", "--max-output", "200000")
	cmd.Env = cliEnv(t, api.APIURL())
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	client := mcp.NewClient(&mcp.Implementation{Name: "operations-client", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connect: %v\nstderr: %s", err, stderr.String())
	}
	defer cs.Close()

	const uri = "cloudconvert-docs://cloudconvert.operations.convert"
	resources, err := cs.ListResources(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range resources.Resources {
		found = found || r.URI == uri
	}
	if !found {
		t.Fatalf("no resource %s", uri)
	}
	page, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: uri})
	if err != nil || len(page.Contents) != 1 || !strings.Contains(page.Contents[0].Text, "| `pixel_density` |") ||
		!strings.Contains(page.Contents[0].Text, "local CloudConvert server") {
		t.Fatalf("read %s: %v", uri, err)
	}
	if res := call(t, cs, "lua_search_docs", map[string]any{"query": "pixel_density"}); !strings.Contains(text(res), "cloudconvert.operations.convert") {
		t.Errorf("lua_search_docs: %s", text(res))
	}

	res := call(t, cs, "cloudconvert_list_operations", map[string]any{"input_format": "pdf", "output_format": "png"})
	if res.IsError || !strings.Contains(text(res), `"name": "pixel_density"`) || !strings.Contains(text(res), `"operation": "thumbnail"`) {
		t.Fatalf("list_operations: %s", text(res))
	}

	api.Reset()
	res = call(t, cs, "cloudconvert_create_job", map[string]any{"tasks": []any{
		map[string]any{"name": "in", "operation": "import/base64", "file": "eA==", "filename": "photo.png"},
		map[string]any{"name": "c", "operation": "convert", "input": "in", "output_format": "jpg", "qualty": 80},
	}})
	if !res.IsError || errorField(res, "kind") != "invalid_argument" || errorField(res, "param") != "tasks.c.qualty" ||
		!strings.Contains(text(res), `(did you mean \"quality\"?)`) && !strings.Contains(text(res), `(did you mean "quality"?)`) {
		t.Fatalf("create_job with a misspelt option: %s", text(res))
	}
	for _, r := range api.Requests() {
		if r.Method == "POST" {
			t.Errorf("sent %s %s", r.Method, r.Path)
		}
	}
}
