package mcpserver

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestCommandWorkspaceFiles drives `cloudconvert mcp --write=allow
// --workspace W` with a real MCP client: the upload_file, create_task and
// download_file tools turn W/photo.jpg into W/out/photo.png; upload_file
// with a path out of W is an invalid_argument error and the server sees
// no request.
func TestCommandWorkspaceFiles(t *testing.T) {
	bin := buildCLI(t)
	api := newLocalAPI(t)
	w := t.TempDir()
	img := image.NewRGBA(image.Rect(0, 0, 80, 60))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	var jb bytes.Buffer
	if err := jpeg.Encode(&jb, img, nil); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(w, "photo.jpg"), jb.Bytes(), 0o644)
	outside := filepath.Join(t.TempDir(), "secret.jpg")
	os.WriteFile(outside, jb.Bytes(), 0o600)
	if err := os.Symlink(outside, filepath.Join(w, "link.jpg")); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // catches hangs only
	defer cancel()
	cmd := exec.Command(bin, "mcp", "--write=allow", "--workspace", w)
	cmd.Env = cliEnv(t, api.APIURL())
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "files-client", Version: "1"}, nil).Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connect: %v\nstderr: %s", err, stderr.String())
	}
	defer cs.Close()

	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"cloudconvert_upload_file", "cloudconvert_download_file"} {
		found := false
		for _, tool := range tools.Tools {
			if tool.Name == want {
				found = true
				if tool.Annotations == nil || tool.Annotations.DestructiveHint == nil || !*tool.Annotations.DestructiveHint {
					t.Errorf("%s is not marked as a write", want)
				}
			}
		}
		if !found {
			t.Errorf("no tool %s", want)
		}
	}

	data := func(res *mcp.CallToolResult) map[string]any {
		t.Helper()
		if res.IsError {
			t.Fatalf("tool error: %s", text(res))
		}
		m, _ := res.StructuredContent.(map[string]any)
		if d, ok := m["data"].(map[string]any); ok {
			return d
		}
		t.Fatalf("no data: %s", text(res))
		return nil
	}
	up := data(call(t, cs, "cloudconvert_upload_file", map[string]any{"path": "photo.jpg"}))
	if up["status"] != "finished" {
		t.Fatalf("upload: %v", up)
	}
	conv := data(call(t, cs, "cloudconvert_create_task", map[string]any{"operation": "convert", "input": up["id"], "output_format": "png"}))
	exp := data(call(t, cs, "cloudconvert_create_task", map[string]any{"operation": "export/url", "input": conv["id"]}))
	saved := data(call(t, cs, "cloudconvert_download_file", map[string]any{"task_id": exp["id"], "dir": "out"}))
	files, _ := saved["files"].([]any)
	if len(files) != 1 || files[0].(map[string]any)["path"] != "out/photo.png" {
		t.Fatalf("download: %v", saved)
	}
	b, err := os.ReadFile(filepath.Join(w, "out", "photo.png"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := png.Decode(bytes.NewReader(b)); err != nil || got.Bounds() != img.Bounds() {
		t.Fatalf("out/photo.png: %v", err)
	}

	for _, p := range []string{"../x", "/etc/passwd", "link.jpg", outside} {
		api.Reset()
		res := call(t, cs, "cloudconvert_upload_file", map[string]any{"path": p})
		if !res.IsError || errorField(res, "kind") != "invalid_argument" || errorField(res, "param") != "path" || !strings.Contains(text(res), "workspace "+w) {
			t.Errorf("%s: %s", p, text(res))
		}
		if reqs := api.AllRequests(); len(reqs) != 0 {
			t.Errorf("%s: the server saw %s %s", p, reqs[0].Method, reqs[0].Path)
		}
	}
}
