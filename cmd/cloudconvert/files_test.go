package main

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cctoolkit/cloudconvert/internal/localtest"
	"github.com/cctoolkit/cloudconvert/localserver"
)

// TestLuaWorkspaceFiles: `cloudconvert lua --allow-write --workspace W`
// uploads W/doc.pdf, converts it to PNG, waits and downloads the pages
// into W/out; upload_file with a path out of W (.., absolute, a symbolic
// link) fails with a clear error, from lua and from call, and the server
// sees no request at all.
func TestLuaWorkspaceFiles(t *testing.T) {
	api := localtest.Start(t, localtest.Options{APIKey: key})
	env := map[string]string{"CLOUDCONVERT_API_KEY": key, "CLOUDCONVERT_BASE_URL": api.URL + "/v2", "CLOUDCONVERT_SYNC_URL": api.URL + "/sync/v2"}
	w := t.TempDir()
	if err := os.WriteFile(filepath.Join(w, "doc.pdf"), localserver.SamplePDF(2, "workspace"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := `
local cc = app.integrations.cloudconvert
local up = cc.upload_file({path = "` + filepath.Join(w, "doc.pdf") + `"})
local png = cc.create_task({operation = "convert", input = up.data.id, output_format = "png"})
local export = cc.create_task({operation = "export/url", input = png.data.id})
cc.wait_task({task_id = export.data.id})
local saved = cc.download_file({task_id = export.data.id, dir = "out"})
for _, f in ipairs(saved.data.files) do print(f.path, f.size) end`
	// The time limit only catches a hang: under -race, a cold PDFium
	// compile alone takes a minute or more.
	code, out, errOut := run(t, env, "lua", "--allow-write", "--workspace", w, "--timeout", "10m", "-e", script)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	for i, name := range []string{"doc-1.png", "doc-2.png"} {
		b, err := os.ReadFile(filepath.Join(w, "out", name))
		if err != nil {
			t.Fatal(err)
		}
		if line := strings.Split(out, "\n")[i]; line != "out/"+name+"\t"+strconv.Itoa(len(b)) {
			t.Errorf("line %d: %q", i, line)
		}
		if img, err := png.Decode(bytes.NewReader(b)); err != nil || img.Bounds().Dx() < 50 {
			t.Errorf("%s is not a page render: %v", name, err)
		}
	}

	outside := filepath.Join(t.TempDir(), "secret.pdf")
	os.WriteFile(outside, []byte("%PDF secret"), 0o600)
	if err := os.Symlink(outside, filepath.Join(w, "link.pdf")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, why string }{
		{"../x", `"../x" leaves the workspace ` + w},
		{"/etc/passwd", `"/etc/passwd" is outside the workspace ` + w},
		{"link.pdf", `"link.pdf" goes through the symbolic link link.pdf` + ", which leads out of the workspace " + w},
	} {
		api.Reset()
		code, out, errOut := run(t, env, "lua", "--allow-write", "--workspace", w, "-e",
			`local ok, e = pcall(app.integrations.cloudconvert.upload_file, {path = "`+tc.path+`"}) print(ok, e.kind, e.param) error(e)`)
		if code != 1 || out != "false\tinvalid_argument\tpath\n" || !strings.Contains(errOut, "cloudconvert.upload_file: path: "+tc.why) {
			t.Errorf("lua %s: exit %d, out %q, err %q", tc.path, code, out, errOut)
		}
		code, _, errOut = run(t, env, "call", "upload_file", "--allow-write", "--workspace", w, `{"path": "`+tc.path+`"}`)
		if code != 1 || !strings.Contains(errOut, tc.why) {
			t.Errorf("call %s: exit %d, err %q", tc.path, code, errOut)
		}
		if reqs := api.AllRequests(); len(reqs) != 0 {
			t.Errorf("%s: the server saw %s %s", tc.path, reqs[0].Method, reqs[0].Path)
		}
	}
	// The workspace defaults to the current directory; a missing one is a
	// usage error.
	if code, _, errOut := run(t, env, "lua", "--workspace", filepath.Join(w, "nope"), "-e", "return 1"); code != 2 || !strings.Contains(errOut, "--workspace") {
		t.Errorf("a missing workspace: exit %d, %q", code, errOut)
	}
}
