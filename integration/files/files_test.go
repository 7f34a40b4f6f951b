package files

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

func newWorkspace(t *testing.T) (*Workspace, string) {
	t.Helper()
	dir := t.TempDir()
	ws, err := NewWorkspace(dir)
	if err != nil {
		t.Fatal(err)
	}
	return ws, dir
}

// TestRel: relative paths resolve inside, absolute ones only when inside,
// and ".." that leaves is refused by name.
func TestRel(t *testing.T) {
	ws, dir := newWorkspace(t)
	for _, tc := range []struct {
		in, want, why string
	}{
		{in: "a.pdf", want: "a.pdf"},
		{in: "./out/../a.pdf", want: "a.pdf"},
		{in: ".", want: "."},
		{in: filepath.Join(dir, "sub", "b.png"), want: filepath.Join("sub", "b.png")},
		{in: dir, want: "."},
		{in: "../x", why: "leaves the workspace"},
		{in: "a/../../x", why: "leaves the workspace"},
		{in: "/etc/passwd", why: "is outside the workspace"},
		{in: filepath.Dir(dir), why: "is outside the workspace"},
		{in: "", why: "is empty"},
		{in: "a\x00b", why: "NUL"},
	} {
		got, err := ws.Rel(tc.in)
		switch {
		case tc.why == "" && (err != nil || got != tc.want):
			t.Errorf("Rel(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		case tc.why != "" && (err == nil || !strings.Contains(err.Error(), tc.why)):
			t.Errorf("Rel(%q) = %q, %v; want an error saying %q", tc.in, got, err, tc.why)
		}
	}
	if _, err := ws.Rel("../x"); !errors.Is(err, ErrOutside) {
		t.Errorf("../x: %v does not match ErrOutside", err)
	}
}

// TestOpenFileConfined: symbolic links that stay inside are followed, links
// out of the workspace (to a file or through a folder) are refused, and so
// are folders and missing files, each with its own message.
func TestOpenFileConfined(t *testing.T) {
	ws, dir := newWorkspace(t)
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("secret"), 0o600)
	os.WriteFile(filepath.Join(dir, "doc.pdf"), []byte("%PDF"), 0o644)
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	must(t, os.Symlink("doc.pdf", filepath.Join(dir, "inside-link.pdf")))
	must(t, os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(dir, "evil.txt")))
	must(t, os.Symlink(outside, filepath.Join(dir, "evildir")))
	must(t, os.Symlink("../../"+filepath.Base(outside)+"/secret.txt", filepath.Join(dir, "sub", "rel-evil.txt")))

	f, rel, err := ws.OpenFile("inside-link.pdf")
	if err != nil || rel != "inside-link.pdf" {
		t.Fatalf("a link inside: %q %v", rel, err)
	}
	b, _ := io.ReadAll(f)
	f.Close()
	if string(b) != "%PDF" {
		t.Fatalf("read %q", b)
	}
	for _, tc := range []struct{ path, why string }{
		{"evil.txt", "goes through the symbolic link evil.txt, which leads out of the workspace"},
		{"evildir/secret.txt", "goes through the symbolic link evildir"},
		{"sub/rel-evil.txt", "goes through the symbolic link sub/rel-evil.txt"},
		{filepath.Join(outside, "secret.txt"), "is outside the workspace"},
		{"../" + filepath.Base(outside) + "/secret.txt", "leaves the workspace"},
		{"sub", "is a folder, not a file"},
		{"missing.pdf", "does not exist in the workspace"},
	} {
		f, _, err := ws.OpenFile(tc.path)
		if err == nil {
			f.Close()
			t.Errorf("%s: opened", tc.path)
			continue
		}
		var pe *PathError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("%s: %v; want a PathError saying %q", tc.path, err, tc.why)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestNumberedName(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		want string
	}{
		{"report.pdf", 0, "report.pdf"},
		{"report.pdf", 1, "report-1.pdf"},
		{"page 1.png", 2, "page 1-2.png"},
		{"archive.tar.gz", 3, "archive-3.tar.gz"},
		{"README", 1, "README-1"},
		{"a.b.c", 1, "a.b-1.c"},
	} {
		if got := NumberedName(tc.name, tc.n); got != tc.want {
			t.Errorf("NumberedName(%q, %d) = %q, want %q", tc.name, tc.n, got, tc.want)
		}
	}
}

// TestSaveNeverOverwrites: a taken name gets -1, -2, ...; concurrent
// writers of one name each get their own; a failed fill leaves nothing,
// neither under the name nor as a temporary file.
func TestSaveNeverOverwrites(t *testing.T) {
	ws, dir := newWorkspace(t)
	root, err := ws.Root()
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	must(t, os.WriteFile(filepath.Join(dir, "out.png"), []byte("old"), 0o644))
	text := func(s string) func(io.Writer) error {
		return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
	}
	rel, n, err := Save(root, ".", "out.png", SaveOptions{}, text("new"))
	if err != nil || rel != "out-1.png" || n != 3 {
		t.Fatalf("Save = %q %d %v", rel, n, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "out.png")); string(b) != "old" {
		t.Fatalf("out.png was overwritten: %q", b)
	}
	var wg sync.WaitGroup
	names := make([]string, 8)
	for i := range names {
		wg.Go(func() {
			rel, _, err := Save(root, ".", "out.png", SaveOptions{}, text("x"))
			if err != nil {
				t.Error(err)
			}
			names[i] = rel
		})
	}
	wg.Wait()
	slices.Sort(names)
	if len(slices.Compact(names)) != 8 {
		t.Fatalf("concurrent saves shared names: %v", names)
	}
	_, _, err = Save(root, ".", "broken.png", SaveOptions{}, func(w io.Writer) error {
		io.WriteString(w, "half")
		return errors.New("connection reset")
	})
	if err == nil {
		t.Fatal("a failed fill succeeded")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "broken") || strings.Contains(e.Name(), ".part-") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
	rel, _, err = Save(root, ".", "out.png", SaveOptions{Overwrite: true}, text("replaced"))
	if b, _ := os.ReadFile(filepath.Join(dir, "out.png")); err != nil || rel != "out.png" || string(b) != "replaced" {
		t.Fatalf("overwrite: %q %v %q", rel, err, b)
	}
	if _, _, err := Save(root, ".", "../x", SaveOptions{}, text("x")); err == nil {
		t.Fatal("a name with a path was saved")
	}
}

func TestSanitizeName(t *testing.T) {
	for in, want := range map[string]string{
		"report.pdf":         "report.pdf",
		"../../etc/passwd":   "passwd",
		`C:\dir\a.png`:       "a.png",
		"..":                 "dl",
		".hidden":            "hidden",
		"a<b>c.png":          "a_b_c.png",
		"con.txt":            "_con.txt",
		"tab\there.png":      "tabhere.png",
		"trailing dots.. . ": "trailing dots",
	} {
		if got := SanitizeName(in, "dl"); got != want {
			t.Errorf("SanitizeName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestUploadRequest: the fields in order, the file last, a Content-Length
// that matches the body, and a body that GetBody gives again from the
// start.
func TestUploadRequest(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789"), 1000)
	var done int64
	req, err := UploadRequest(context.Background(), "https://up.example/bucket?sig=1", []Field{{"key", "k1"}, {"acl", "private"}}, "file", `a "b".pdf`, bytes.NewReader(content), int64(len(content)), func(d, _ int64) { done = d })
	if err != nil {
		t.Fatal(err)
	}
	if req.Header.Get("Authorization") != "" {
		t.Fatal("credentials on an upload")
	}
	for range 2 {
		body, _ := req.GetBody()
		b, _ := io.ReadAll(body)
		if int64(len(b)) != req.ContentLength || done != req.ContentLength {
			t.Fatalf("body %d bytes, Content-Length %d, progress %d", len(b), req.ContentLength, done)
		}
		r, _ := http.NewRequest(http.MethodPost, "/", bytes.NewReader(b))
		r.Header.Set("Content-Type", req.Header.Get("Content-Type"))
		mr, err := r.MultipartReader()
		if err != nil {
			t.Fatal(err)
		}
		var order []string
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			order = append(order, p.FormName())
			if p.FormName() == "file" {
				got, _ := io.ReadAll(p)
				if !bytes.Equal(got, content) || p.FileName() != `a "b".pdf` {
					t.Fatalf("file part: %d bytes, name %q", len(got), p.FileName())
				}
			}
		}
		if strings.Join(order, ",") != "key,acl,file" {
			t.Fatalf("parts %v", order)
		}
	}
	if _, err := UploadRequest(context.Background(), "file:///etc/passwd", nil, "file", "a", bytes.NewReader(nil), 0, nil); err == nil {
		t.Fatal("a file: URL was accepted")
	}
}
