package localserver

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"
)

// Tests named after the findings of issue 9 (hostile and huge input).

// tallPNG is a 1 x 20000 one-bit PNG of about 140 bytes.
func tallPNG(t testing.TB) []byte {
	img := image.NewPaletted(image.Rect(0, 0, 1, 20000), color.Palette{color.Black, color.White})
	var b bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// within runs fn and fails the test if it does not return in d: the
// bound only catches hangs (a deadlocked server), it measures nothing.
func within(t *testing.T, d time.Duration, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not finish within %s: the server hangs", what, d)
	}
}

func createJob(t *testing.T, e *env, job map[string]any) string {
	t.Helper()
	status, body, _ := e.do("POST", "/v2/jobs", job)
	if status != 201 {
		t.Fatalf("create job: %d %s", status, jsonStr(body))
	}
	return body["data"].(map[string]any)["id"].(string)
}

// TestFinding1TallThumbnailJobFailsCleanly: the 1 x 20000 PNG with
// width 20000 and fit scale|upscale|crop used to allocate ~32 TB and kill
// the server, again at every start. Now each task fails with a message
// naming the size and the limit; the server keeps answering, and a restart
// comes up and serves.
func TestFinding1TallThumbnailJobFailsCleanly(t *testing.T) {
	e := newEnv(t)
	img := base64.StdEncoding.EncodeToString(tallPNG(t))
	var ids []string
	for _, op := range []string{"thumbnail", "convert"} {
		for _, fit := range []string{"scale", "upscale", "crop"} {
			ids = append(ids, createJob(t, e, map[string]any{"tag": op + "-" + fit, "tasks": map[string]any{
				"in":  map[string]any{"operation": "import/base64", "file": img, "filename": "tall.png"},
				"out": map[string]any{"operation": op, "input": "in", "output_format": "png", "width": 20000, "fit": fit},
			}}))
		}
	}
	check := func() {
		for _, id := range ids {
			job := e.waitJob(id)
			out := taskByName(job, "out")
			msg := fmt.Sprint(out["message"])
			if job["status"] != "error" || out["code"] != "INVALID_OPTIONS" || !strings.Contains(msg, "20000x400000000") || !strings.Contains(msg, "limit is 256.0 MiB") {
				t.Errorf("job %v: %s", job["tag"], jsonStr(out))
			}
		}
		if status, _, _ := e.do("GET", "/v2/users/me", nil); status != 200 {
			t.Errorf("the server stopped answering: %d", status)
		}
	}
	check()
	e.restart()
	check()
}

// TestFinding2HugePageDoesNotDeadlock: (page-1)*per_page overflowed and
// panicked under the read lock, which was never released; every later
// write hung. Now the page is refused (4xx, keyed by the parameter) and
// writes go on.
func TestFinding2HugePageDoesNotDeadlock(t *testing.T) {
	e := newEnv(t)
	within(t, 20*time.Second, "huge pages then writes", func() {
		for _, path := range []string{"/v2/jobs", "/v2/tasks", "/sync/v2/jobs"} {
			for _, q := range []string{"page=4611686018427387904", "page=9223372036854775807", "page=1000001", "page=0", "per_page=0&page=2"} {
				status, body, _ := e.do("GET", path+"?"+q, nil)
				if status == 404 && strings.HasPrefix(path, "/sync") {
					continue // no list on the sync host
				}
				errs, _ := body["errors"].(map[string]any)
				field := "page"
				if strings.HasPrefix(q, "per_page") {
					field = "per_page"
				}
				if status != 422 || errs[field] == nil || errs["body"] != nil {
					t.Errorf("GET %s?%s: %d %s", path, q, status, jsonStr(body))
				}
			}
		}
		createJob(t, e, map[string]any{"tasks": map[string]any{"a": map[string]any{"operation": "import/raw", "file": "x", "filename": "a.txt"}}})
		if status, body, _ := e.do("GET", "/v2/jobs?page=1&per_page=1", nil); status != 200 || len(body["data"].([]any)) != 1 {
			t.Errorf("list after: %d %s", status, jsonStr(body))
		}
	})
}

// TestFinding2LocksAreReleasedByDefer: no lock is held across code that
// can panic. In the package's code every Lock or RLock is followed at
// once by the deferred Unlock (locked/rlocked wrap the rest).
func TestFinding2LocksAreReleasedByDefer(t *testing.T) {
	fset := token.NewFileSet()
	files, _ := filepath.Glob("*.go")
	n := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(node ast.Node) bool {
			block, ok := node.(*ast.BlockStmt)
			if !ok {
				return true
			}
			for i, st := range block.List {
				lock := lockCall(st, "Lock", "RLock")
				if lock == "" {
					continue
				}
				n++
				if i+1 >= len(block.List) {
					t.Errorf("%s: %s is the last statement of its block", fset.Position(st.Pos()), lock)
					continue
				}
				d, ok := block.List[i+1].(*ast.DeferStmt)
				if !ok || lockCall(&ast.ExprStmt{X: d.Call}, "Unlock", "RUnlock") == "" {
					t.Errorf("%s: %s is not followed by a deferred unlock", fset.Position(st.Pos()), lock)
				}
			}
			return true
		})
	}
	if n < 5 {
		t.Fatalf("found only %d locks: the check does not see the code", n)
	}
}

// lockCall names a statement x.Lock() (one of names), or "".
func lockCall(st ast.Stmt, names ...string) string {
	es, ok := st.(*ast.ExprStmt)
	if !ok {
		return ""
	}
	call, ok := es.X.(*ast.CallExpr)
	if !ok {
		return ""
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return ""
	}
	for _, n := range names {
		if sel.Sel.Name == n {
			return n + "()"
		}
	}
	return ""
}

// TestFinding2PanicReleasesTheLock: a panic inside the lock helpers
// leaves the lock free for the next request.
func TestFinding2PanicReleasesTheLock(t *testing.T) {
	e := newEnv(t)
	for _, lock := range []func(func()){e.srv.locked, e.srv.rlocked} {
		func() {
			defer func() { recover() }()
			lock(func() { panic("boom") })
		}()
	}
	within(t, 10*time.Second, "a write after panics", func() {
		createJob(t, e, map[string]any{"tasks": map[string]any{"a": map[string]any{"operation": "import/raw", "file": "x", "filename": "a.txt"}}})
	})
}

// TestFinding2CrashLoop: a task running when the process dies is resumed
// once; when the process dies again during it, the next start marks it
// failed with a message saying so, instead of running it (and crashing)
// at every start. The server processes are killed with SIGKILL.
func TestFinding2CrashLoop(t *testing.T) {
	hang := newHangServer(t)
	dir := t.TempDir()
	private := "LOCALSERVER_CHILD_PRIVATE=1"
	c := startChild(t, dir, private)
	status, body := callURL(t, "POST", c.URL+"/v2/jobs", strings.NewReader(jsonStr(map[string]any{"tasks": map[string]any{
		"in":  map[string]any{"operation": "import/url", "url": hang.URL + "/slow.pdf"},
		"out": map[string]any{"operation": "export/url", "input": "in"},
	}})))
	if status != 201 {
		t.Fatalf("create: %d %s", status, body)
	}
	var created struct{ Data Job }
	json.Unmarshal(body, &created)
	jobID := created.Data.ID
	var taskID string
	for _, tk := range created.Data.Tasks {
		if *tk.Name == "in" {
			taskID = tk.ID
		}
	}
	taskState := func(base string) (string, string, string) {
		_, b := callURL(t, "GET", base+"/v2/tasks/"+taskID, nil)
		var v struct{ Data Task }
		json.Unmarshal(b, &v)
		code, msg := "", ""
		if v.Data.Code != nil {
			code = *v.Data.Code
		}
		if v.Data.Message != nil {
			msg = *v.Data.Message
		}
		return v.Data.Status, code, msg
	}
	waitProcessing := func(base string) {
		deadline := time.Now().Add(30 * time.Second)
		for {
			if st, _, _ := taskState(base); st == StatusProcessing && hang.waiting.Load() > 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("the import did not start")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitProcessing(c.URL)
	hang.waiting.Store(0)
	c.kill() // the first death: the task is resumed
	c = startChild(t, dir, private)
	waitProcessing(c.URL)
	c.kill() // the second death during the same task
	c = startChild(t, dir, private)
	st, code, msg := taskState(c.URL)
	if st != StatusError || code != CodeCrashLoop || !strings.Contains(msg, "died 2 times while this task was running") {
		t.Fatalf("after two crashes: %s %s %q", st, code, msg)
	}
	_, b := callURL(t, "GET", c.URL+"/sync/v2/jobs/"+jobID, nil)
	if !strings.Contains(string(b), `"status":"error"`) || !strings.Contains(string(b), CodeInputTaskFailed) {
		t.Errorf("job: %s", b)
	}
	if status, _ := callURL(t, "GET", c.URL+"/v2/users/me", nil); status != 200 {
		t.Errorf("users/me: %d", status)
	}
}

// hangServer accepts a request and never answers it.
type hangServer struct {
	URL     string
	waiting atomic.Int32
}

func newHangServer(t *testing.T) *hangServer {
	h := &hangServer{}
	ln := listen(t)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.waiting.Add(1)
		<-r.Context().Done()
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	h.URL = "http://" + ln.Addr().String()
	return h
}

// endless is a reader that never ends.
type endless struct{ n atomic.Int64 }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	e.n.Add(int64(len(p)))
	return len(p), nil
}

// TestFinding5UploadAuthenticatedBeforeBody: the upload target used to
// read every form field into memory before checking the signature or the
// task. Now the signed URL is checked before the body is read, so an
// endless body without a valid signature is answered (and not read);
// fields are bounded in count and size; a chunked body is capped.
func TestFinding5UploadAuthenticatedBeforeBody(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxFileSize = 64 << 10 })
	_, body, _ := e.do("POST", "/v2/import/upload", `{}`)
	form := body["data"].(map[string]any)["result"].(map[string]any)["form"].(map[string]any)
	good := form["url"].(string)
	params := form["parameters"].(map[string]any)
	id := body["data"].(map[string]any)["id"].(string)
	post := func(url string, body io.Reader, ctype string) (int, string) {
		req, _ := http.NewRequest("POST", url, body)
		req.Header.Set("Content-Type", ctype)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	const mp = "multipart/form-data; boundary=xyz"
	t.Run("endless bodies without a valid signature", func(t *testing.T) {
		for _, url := range []string{
			e.URL + "/uploads/x",
			e.URL + "/uploads/" + id,
			strings.Replace(good, "signature=", "signature=0", 1),
			e.URL + "/uploads/" + id + "?expires=1&signature=" + e.srv.sign("upload", id, "1"),
		} {
			src := &endless{}
			within(t, 20*time.Second, "an unsigned endless upload", func() {
				status, body := post(url, io.MultiReader(strings.NewReader("--xyz\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\n"), src), mp)
				if status != 403 || !strings.Contains(body, "AccessDenied") {
					t.Errorf("%s: %d %s", url, status, body)
				}
			})
			if n := src.n.Load(); n > 64<<20 {
				t.Errorf("%s: the server read %d bytes before refusing", url, n)
			}
		}
	})
	field := func(name string, size int) string {
		return "--xyz\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + strings.Repeat("v", size) + "\r\n"
	}
	file := "--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nhello\r\n--xyz--\r\n"
	var many strings.Builder
	for i := range maxFormFields + 1 {
		many.WriteString(field(fmt.Sprint("f", i), 1))
	}
	for _, c := range []struct {
		name, body string
		status     int
		msg        string
	}{
		{"too many fields", many.String() + file, 400, "more than 32 fields"},
		{"a field too long", field("acl", maxFormField+1) + file, 400, "longer than 8192 bytes"},
		{"a file over the cap", "--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\n" + strings.Repeat("x", 200<<10) + "\r\n--xyz--\r\n", 400, "EntityTooLarge"},
	} {
		t.Run(c.name, func(t *testing.T) {
			// chunked: no Content-Length to refuse early
			status, body := post(good, io.MultiReader(strings.NewReader(c.body)), mp)
			if status != c.status || !strings.Contains(body, c.msg) {
				t.Errorf("%d %s", status, body)
			}
		})
	}
	t.Run("the form as given works", func(t *testing.T) {
		var b strings.Builder
		for k, v := range params {
			b.WriteString(field(k, 0)[:len(field(k, 0))-2] + v.(string) + "\r\n")
		}
		status, body := post(good, strings.NewReader(b.String()+file), mp)
		if status != 201 {
			t.Fatalf("%d %s", status, body)
		}
	})
}

// TestFinding6InlineContentIsSpooled: the content of import/base64 and
// import/raw is streamed to disk while the body is read, never kept in the
// task payload, and never echoed back: the answers about a job with
// megabytes of base64 stay small, and the result is the decoded file.
func TestFinding6InlineContentIsSpooled(t *testing.T) {
	e := newEnv(t)
	data := make([]byte, 6<<20)
	for i := range data {
		data[i] = byte(i*7 + i/251)
	}
	b64 := base64.StdEncoding.EncodeToString(data)
	// Line-wrapped, as MIME encoders write it, and escaped slashes, as PHP writes JSON.
	var wrapped strings.Builder
	for i := 0; i < len(b64); i += 76 {
		wrapped.WriteString(b64[i:min(i+76, len(b64))] + "\n")
	}
	body := `{"tag":"big","tasks":{"in":{"operation":"import/base64","filename":"data.bin","file":` +
		strings.ReplaceAll(jsonStr(wrapped.String()), "/", `\/`) + `},` +
		`"raw":{"file":"caf\u00e9 \ud83d\ude00","operation":"import/raw","filename":"t.txt"},` +
		`"out":{"operation":"export/url","input":["in","raw"]}}}`
	status, created, _ := e.do("POST", "/v2/jobs", body)
	if status != 201 {
		t.Fatalf("create: %d %s", status, jsonStr(created))
	}
	id := created["data"].(map[string]any)["id"].(string)
	job := e.waitJob(id)
	if job["status"] != "finished" {
		t.Fatalf("job: %s", jsonStr(job))
	}
	for _, f := range taskByName(job, "out")["result"].(map[string]any)["files"].([]any) {
		f := f.(map[string]any)
		got := download(t, f["url"].(string))
		want := map[string][]byte{"data.bin": data, "t.txt": []byte("café 😀")}[f["filename"].(string)]
		if !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes, want %d", f["filename"], len(got), len(want))
		}
	}
	for _, path := range []string{"/v2/jobs/" + id, "/v2/jobs?include=tasks", "/v2/tasks?filter[job_id]=" + id} {
		req, _ := http.NewRequest("GET", e.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+testKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if len(b) > 16<<10 || bytes.Contains(b, []byte(b64[:64])) {
			t.Errorf("GET %s: %d bytes, content echoed: %v", path, len(b), bytes.Contains(b, []byte(b64[:64])))
		}
	}
	rec, err := e.srv.Store().GetTask(context.Background(), taskByName(job, "in")["id"].(string))
	if err != nil || len(rec.Doc) > 8<<10 {
		t.Errorf("stored task: %d bytes, %v", len(rec.Doc), err)
	}
	if left, _ := os.ReadDir(filepath.Join(e.dataDir, "spool")); len(left) != 0 {
		t.Errorf("spool not emptied after the imports finished: %d files", len(left))
	}
}

// TestFinding6BodyLimits: apart from file contents a body is at most
// 1 MiB and 64 levels deep; a refused request leaves no spooled file.
func TestFinding6BodyLimits(t *testing.T) {
	e := newEnv(t)
	big := strings.Repeat("x", maxJSONBody)
	cases := []struct {
		name, path, body string
		status           int
		msg              string
	}{
		{"tag of 1 MiB", "/v2/jobs", `{"tag":"` + big + `","tasks":{"a":{"operation":"import/raw","file":"x","filename":"a"}}}`, 413, "apart from the file contents"},
		{"deep nesting", "/v2/jobs", strings.Repeat("[", 100) + strings.Repeat("]", 100), 400, "nested more than 64 levels"},
		{"spooled, then invalid", "/v2/jobs", `{"tasks":{"a":{"operation":"import/base64","file":"QUJD","filename":"a"}},"x":}`, 400, "not valid JSON"},
		{"spooled, then refused", "/v2/jobs", `{"tasks":{"a":{"operation":"import/base64","file":"QUJD"}}}`, 422, "filename field is required"},
		{"big body elsewhere", "/v2/convert", `{"x":"` + big + `"}`, 413, "larger than"},
		{"trailing data", "/v2/import/raw", `{"file":"a","filename":"a"} {}`, 400, "not valid JSON"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Straight to the handler: the OpenAPI document lists no 413.
			req := httptest.NewRequest("POST", c.path, strings.NewReader(c.body))
			req.Host = "127.0.0.1"
			req.Header.Set("Authorization", "Bearer "+testKey)
			rec := httptest.NewRecorder()
			e.srv.Handler().ServeHTTP(rec, req)
			if rec.Code != c.status || !strings.Contains(rec.Body.String(), c.msg) {
				t.Errorf("%d %s", rec.Code, rec.Body.String())
			}
		})
	}
	if left, _ := os.ReadDir(filepath.Join(e.dataDir, "spool")); len(left) != 0 {
		t.Errorf("refused requests left %d spooled files", len(left))
	}
}

// FuzzFinding6SpoolReader: the rewritten body plus the spooled contents
// mean what the original body meant, and an invalid body is refused.
func FuzzFinding6SpoolReader(f *testing.F) {
	for _, s := range []string{
		`{"tasks":{"a":{"operation":"import/raw","file":"caf\u00e9\n\"x\"","filename":"a"}}}`,
		`{"tasks":{"a":{"file":"\ud83d\ude00 \ud800 \/"},"b":{"file":1},"c":{"file":["x"]}}}`,
		`{"tasks":{"a":{"file":"x","file":"y"}}}`, `{"tasks":{"a":{"file":"\x"}}}`, `[1,{"a":"b"},null,true,-1.5e3]`,
		`{"tasks":{"a":{"file":"unterminated`, `{"a":1}}`, ``, `  `, `"s"`, `{"tasks":{"a":{"file":"x\u00"}}}`,
	} {
		f.Add([]byte(s))
	}
	s := &Server{cfg: Config{DataDir: f.TempDir()}}
	s.log = testLogger()
	f.Fuzz(func(t *testing.T, in []byte) {
		out, spills, err := s.readJSONBody(bytes.NewReader(in), spillPaths("jobs"), "TOKEN")
		valid := json.Valid(in)
		if err != nil {
			if valid && len(in) < maxJSONBody/2 && !strings.Contains(err.Error(), "nested") {
				t.Fatalf("valid body refused: %v: %q", err, in)
			}
			return
		}
		if len(bytes.TrimSpace(in)) == 0 {
			return
		}
		if json.Valid(out) != valid {
			t.Fatalf("validity changed: %q -> %q", in, out)
		}
		if !valid {
			for _, sp := range spills {
				s.removeSpool(sp.taskID)
			}
			return
		}
		var orig, got any
		json.Unmarshal(in, &orig)
		json.Unmarshal(out, &got)
		if m, ok := got.(map[string]any); ok {
			if tasks, ok := m["tasks"].(map[string]any); ok {
				for name, sp := range spills {
					content, err := os.ReadFile(s.spoolPath(sp.taskID))
					if err != nil {
						t.Fatal(err)
					}
					if def, ok := tasks[name].(map[string]any); ok && def["file"] == "TOKEN" {
						def["file"] = string(content)
					}
					s.removeSpool(sp.taskID)
				}
			}
		}
		if jsonStr(orig) != jsonStr(got) {
			t.Fatalf("meaning changed:\n%s\n%s", jsonStr(orig), jsonStr(got))
		}
	})
}

// TestFinding7OutboundRequestsReachPublicAddressesOnly: import/url and
// webhooks refuse loopback, private, link-local, unspecified and multicast
// addresses, after DNS and on every redirect, unless AllowPrivateURLs;
// credentials are not forwarded to another host.
func TestFinding7OutboundRequestsReachPublicAddressesOnly(t *testing.T) {
	t.Run("addresses", func(t *testing.T) {
		for addr, want := range map[string]string{
			"127.0.0.1": "loopback", "::1": "loopback", "10.1.2.3": "private", "172.16.0.1": "private", "192.168.1.1": "private",
			"169.254.169.254": "link-local", "fe80::1": "link-local", "0.0.0.0": "unspecified", "::": "unspecified",
			"224.0.0.1": "multicast", "ff02::1": "multicast", "fc00::1": "private", "100.100.100.200": "shared",
			"::ffff:127.0.0.1": "loopback", "64:ff9b::a9fe:a9fe": "link-local", "2002:a00:1::": "private", "0.1.2.3": "this network",
			"255.255.255.255": "broadcast", "8.8.8.8": "", "2606:4700:4700::1111": "", "1.1.1.1": "",
		} {
			err := guardControl("tcp", net.JoinHostPort(addr, "80"), nil)
			if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
				t.Errorf("%s: %v, want %q", addr, err, want)
			}
		}
	})
	files := http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "internal data") })}
	ln := listen(t)
	go files.Serve(ln)
	defer files.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	importJob := func(e *env, url string) map[string]any {
		id := createJob(t, e, map[string]any{"tasks": map[string]any{
			"in":  map[string]any{"operation": "import/url", "url": url},
			"out": map[string]any{"operation": "export/url", "input": "in"}}})
		return e.waitJob(id)
	}
	t.Run("default server refuses", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.AllowPrivateURLs = false })
		for _, u := range []string{fmt.Sprintf("http://127.0.0.1:%d/", port), fmt.Sprintf("http://localhost:%d/x", port), fmt.Sprintf("http://[::ffff:127.0.0.1]:%d/", port)} {
			in := taskByName(importJob(e, u), "in")
			if in["status"] != "error" || !strings.Contains(fmt.Sprint(in["message"]), "loopback address; the local server only fetches public addresses (start it with --allow-private-urls") {
				t.Errorf("%s: %s", u, jsonStr(in))
			}
		}
	})
	t.Run("AllowPrivateURLs fetches", func(t *testing.T) {
		e := newEnv(t)
		job := importJob(e, fmt.Sprintf("http://127.0.0.1:%d/", port))
		if job["status"] != "finished" {
			t.Errorf("%s", jsonStr(job))
		}
	})
	t.Run("credentials stay with their host on redirects", func(t *testing.T) {
		seen := make(chan http.Header, 4)
		target := func(addr string) string {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				t.Skipf("%s: %v", addr, err)
			}
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/go" {
					http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
					return
				}
				seen <- r.Header.Clone()
				io.WriteString(w, "ok")
			})}
			go srv.Serve(ln)
			t.Cleanup(func() { srv.Close() })
			return "http://" + ln.Addr().String()
		}
		a, b := target("127.0.0.1:0"), target("127.0.0.2:0")
		e := newEnv(t)
		for _, c := range []struct {
			to   string
			kept bool
		}{{a + "/same", true}, {b + "/other", false}} {
			id := createJob(t, e, map[string]any{"tasks": map[string]any{"in": map[string]any{"operation": "import/url",
				"url": a + "/go?to=" + c.to, "headers": map[string]any{"Authorization": "Bearer secret", "X-Api-Key": "k"}}}})
			e.waitJob(id)
			h := <-seen
			if kept := h.Get("Authorization") != "" || h.Get("X-Api-Key") != ""; kept != c.kept {
				t.Errorf("redirect to %s: headers %v", c.to, h)
			}
		}
	})
	t.Run("webhooks", func(t *testing.T) {
		var hits atomic.Int32
		hook := http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })}
		hl := listen(t)
		go hook.Serve(hl)
		defer hook.Close()
		e := newEnv(t, func(c *Config) { c.AllowPrivateURLs = false })
		job := imageJob(testPNG(4, 4), "hook")
		job["webhook_url"] = "http://" + hl.Addr().String() + "/hook"
		e.waitJob(createJob(t, e, job))
		time.Sleep(300 * time.Millisecond) // a delivery would take a millisecond
		if hits.Load() != 0 {
			t.Errorf("a webhook reached a loopback address %d times", hits.Load())
		}
	})
}

// TestFinding8SafeDefaults: a loopback server refuses other Hosts (DNS
// rebinding); the webhook secret is random per data dir, kept in a file
// whose path the server tells, unless configured.
func TestFinding8SafeDefaults(t *testing.T) {
	dir := t.TempDir()
	s, err := Start(context.Background(), Config{DataDir: dir, APIKey: testKey, Engines: registry(), Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	port := s.listener.Addr().(*net.TCPAddr).Port
	for host, want := range map[string]int{
		"evil.example": 403, fmt.Sprintf("evil.example:%d", port): 403, "127.0.0.1.evil.example": 403,
		fmt.Sprintf("127.0.0.1:%d", port): 200, fmt.Sprintf("localhost:%d", port): 200, "[::1]": 200, "app.localhost": 200,
	} {
		req, _ := http.NewRequest("GET", s.APIURL()+"/users/me", nil)
		req.Host = host
		req.Header.Set("Authorization", "Bearer "+testKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want || (want == 403 && !strings.Contains(string(b), `"code":"FORBIDDEN"`)) {
			t.Errorf("Host %s: %d %s", host, resp.StatusCode, b)
		}
	}
	path := s.WebhookSecretPath()
	secret, err := os.ReadFile(path)
	st, _ := os.Stat(path)
	if err != nil || path != filepath.Join(dir, "webhook-secret") || len(strings.TrimSpace(string(secret))) != 64 || st.Mode().Perm() != 0o600 {
		t.Fatalf("secret file %s: %q %v %v", path, secret, err, st.Mode())
	}
	if u := s.users["1"]; u.WebhookSecret != strings.TrimSpace(string(secret)) || u.WebhookSecret == "local-webhook-secret" {
		t.Errorf("user secret %q", u.WebhookSecret)
	}
	s.Close()
	again, err := New(context.Background(), Config{DataDir: dir, BaseURL: "http://127.0.0.1:1", Engines: registry(), Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if again.users["1"].WebhookSecret != strings.TrimSpace(string(secret)) {
		t.Errorf("the secret changed across restarts")
	}
	again.Close()
	other, err := New(context.Background(), Config{DataDir: t.TempDir(), BaseURL: "http://127.0.0.1:1", Engines: registry(), Logger: testLogger(), WebhookSecret: "given"})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if other.users["1"].WebhookSecret != "given" || other.WebhookSecretPath() != "" {
		t.Errorf("configured secret: %q, path %q", other.users["1"].WebhookSecret, other.WebhookSecretPath())
	}
}

// TestFinding9TaskTimeout: a 3,000-page PDF -> PNG task runs out of its
// time limit, fails saying so, and its render stops.
func TestFinding9TaskTimeout(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.TaskTimeout = 2 * time.Second })
	pdf := base64.StdEncoding.EncodeToString(SamplePDF(3000, "long"))
	var job map[string]any
	within(t, 60*time.Second, "the timed-out task", func() {
		job = e.waitJob(createJob(t, e, map[string]any{"tasks": map[string]any{
			"in":  map[string]any{"operation": "import/base64", "file": pdf, "filename": "long.pdf"},
			"png": map[string]any{"operation": "convert", "input": "in", "output_format": "png"},
		}}))
	})
	task := taskByName(job, "png")
	if job["status"] != "error" || task["code"] != CodeTimeout || !strings.Contains(fmt.Sprint(task["message"]), "ran out of time: it did not finish within 2s") {
		t.Fatalf("%s", jsonStr(task))
	}
	n := 0
	e.srv.rlocked(func() { n = len(e.srv.running) })
	if n != 0 {
		t.Errorf("%d tasks still running", n)
	}
}

// TestFinding9SmallJobNotStarved: heavy work (PDF rendering) takes at
// most half of the workers, so while two big PDF jobs run on a two-worker
// server a small PNG -> JPG job still finishes at once (it used to wait
// for a render of minutes).
func TestFinding9SmallJobNotStarved(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Workers = 2; c.TaskTimeout = 3 * time.Minute })
	pdf := base64.StdEncoding.EncodeToString(SamplePDF(3000, "big"))
	var big []string
	for range 2 {
		big = append(big, createJob(t, e, map[string]any{"tasks": map[string]any{
			"in":  map[string]any{"operation": "import/base64", "file": pdf, "filename": "big.pdf"},
			"png": map[string]any{"operation": "convert", "input": "in", "output_format": "png"},
		}}))
	}
	deadline := time.Now().Add(30 * time.Second)
	for e.processing() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	within(t, 30*time.Second, "the small job", func() {
		job := e.waitJob(createJob(t, e, imageJob(testPNG(64, 64), "small")))
		if job["status"] != "finished" {
			t.Errorf("small job: %s", jsonStr(job))
		}
	})
	for _, id := range big {
		e.do("DELETE", "/v2/jobs/"+id, nil)
	}
}

// processing counts PDF renders in progress.
func (e *env) processing() int {
	n := 0
	e.srv.rlocked(func() {
		for _, t := range e.srv.tasks {
			if t.Status == StatusProcessing && t.Operation == "convert" {
				n++
			}
		}
	})
	return n
}

// TestFinding10SmallerLimits: names cut on character boundaries keeping
// the extension; query parameter errors keyed by the parameter;
// operation-specific required fields refused at creation (422) as the
// real API does; tags and names capped.
func TestFinding10SmallerLimits(t *testing.T) {
	e := newEnv(t)
	t.Run("long multibyte file name", func(t *testing.T) {
		name := strings.Repeat("é", 200) + ".txt"
		job := e.waitJob(createJob(t, e, map[string]any{"tasks": map[string]any{
			"in":  map[string]any{"operation": "import/raw", "file": "x", "filename": name},
			"out": map[string]any{"operation": "export/url", "input": "in"}}}))
		f := taskByName(job, "out")["result"].(map[string]any)["files"].([]any)[0].(map[string]any)
		got := f["filename"].(string)
		if !utf8.ValidString(got) || len(got) > 255 || !strings.HasSuffix(got, "é.txt") {
			t.Errorf("filename %q (%d bytes)", got, len(got))
		}
	})
	cases := []struct {
		name, method, path string
		body               any
		status             int
		field, msg         string
	}{
		{"page below 1", "GET", "/v2/tasks?page=0", nil, 422, "page", ""},
		{"per_page above the document's maximum", "GET", "/v2/jobs?per_page=1000", nil, 422, "per_page", ""},
		{"import/url without url", "POST", "/v2/import/url", `{}`, 422, "url", "The url field is required for import/url tasks."},
		{"import/url with a number", "POST", "/v2/import/url", `{"url":5}`, 422, "url", "must be a string"},
		{"import/base64 without filename", "POST", "/v2/import/base64", `{"file":"QQ=="}`, 422, "filename", ""},
		{"convert without output_format", "POST", "/v2/jobs", `{"tasks":{"i":{"operation":"import/raw","file":"x","filename":"a"},"c":{"operation":"convert","input":"i"}}}`, 422, "tasks.c.output_format", ""},
		{"export without input", "POST", "/v2/jobs", `{"tasks":{"e":{"operation":"export/url"}}}`, 422, "tasks.e.input", "input field is required"},
		{"job import/url without url", "POST", "/v2/jobs", `{"tasks":{"a":{"operation":"import/url"}}}`, 422, "tasks.a.url", ""},
		{"tag too long", "POST", "/v2/jobs", `{"tag":"` + strings.Repeat("t", 256) + `","tasks":{"a":{"operation":"import/raw","file":"x","filename":"a"}}}`, 422, "tag", "255"},
		{"task name too long", "POST", "/v2/jobs", `{"tasks":{"` + strings.Repeat("n", 200) + `":{"operation":"import/raw","file":"x","filename":"a"}}}`, 422, "", "not be longer than 128"},
		{"too many tasks", "POST", "/v2/jobs", manyTasks(maxJobTasks + 1), 422, "tasks", "at most 200 tasks"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body, _ := e.do(c.method, c.path, c.body)
			errs, _ := body["errors"].(map[string]any)
			if status != c.status || (c.field != "" && errs[c.field] == nil) || errs["body"] != nil || !strings.Contains(jsonStr(body), c.msg) {
				t.Errorf("%d %s", status, jsonStr(body))
			}
		})
	}
}

func manyTasks(n int) string {
	tasks := map[string]any{}
	for i := range n {
		tasks[fmt.Sprint("t", i)] = map[string]any{"operation": "import/raw", "file": "x", "filename": "a"}
	}
	return jsonStr(map[string]any{"tasks": tasks})
}

func testLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
