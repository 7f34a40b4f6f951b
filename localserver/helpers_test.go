package localserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cctoolkit/cloudconvert/internal/testcache"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/cctoolkit/cloudconvert/localserver/engine"
)

const testKey = "test-key-0123456789"

var (
	sharedOnce sync.Once
	sharedReg  *engine.Registry
	// cacheDir holds the PDFium compile cache of this test run: a
	// temporary directory, never the user's ~/.cache.
	cacheDir string
)

// registry is shared by the tests: PDFium compiles once per test binary
// (~8 s, ~90 s under -race), into this run's cache directory.
func registry() *engine.Registry {
	sharedOnce.Do(func() { sharedReg = engine.NewRegistry(engine.Options{PDFiumCacheDir: cacheDir}) })
	return sharedReg
}

func TestMain(m *testing.M) {
	if dir := os.Getenv("LOCALSERVER_CHILD_DATA"); dir != "" {
		os.Exit(runChild(dir))
	}
	dir, cleanup, err := testcache.PDFium("localserver-test-wazero-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "localserver tests: no temporary directory:", err)
		os.Exit(1)
	}
	cacheDir = dir
	code := m.Run()
	if sharedReg != nil {
		sharedReg.Close()
	}
	cleanup()
	os.Exit(code)
}

// env is a real server on a loopback port whose every API response is
// validated against the generated OpenAPI document.
type env struct {
	t       testing.TB
	srv     *Server
	http    *http.Server
	ln      net.Listener
	URL     string
	dataDir string
	cfg     Config
	files   *httptest.Server // serves the test inputs
	inputs  sync.Map         // path -> []byte
	checked *int64
	mu      sync.Mutex
	nCheck  int
}

type envOpt func(*Config)

func newEnv(t testing.TB, opts ...envOpt) *env {
	t.Helper()
	e := &env{t: t, dataDir: t.TempDir()}
	e.files = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b, ok := e.inputs.Load(r.URL.Path); ok {
			w.Write(b.([]byte))
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(e.files.Close)
	// The inputs are served from loopback: tests that need the default
	// (public addresses only) turn AllowPrivateURLs off.
	e.cfg = Config{DataDir: e.dataDir, APIKey: testKey, Engines: registry(), WebhookRetryDelay: 10 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), AllowPrivateURLs: true}
	for _, o := range opts {
		o(&e.cfg)
	}
	e.start()
	t.Cleanup(e.stop)
	return e
}

// start listens (on the previous port when restarting) and serves.
func (e *env) start() {
	e.t.Helper()
	addr := "127.0.0.1:0"
	if e.URL != "" {
		addr = strings.TrimPrefix(e.URL, "http://")
	}
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	e.ln = ln
	e.URL = "http://" + ln.Addr().String()
	cfg := e.cfg
	cfg.BaseURL = e.URL
	srv, err := New(context.Background(), cfg)
	if err != nil {
		ln.Close()
		e.t.Fatal(err)
	}
	e.srv = srv
	_, router, err := Document(e.URL)
	if err != nil {
		e.t.Fatal(err)
	}
	e.http = &http.Server{Handler: e.validating(router, srv.Handler())}
	go e.http.Serve(ln)
}

func (e *env) stop() {
	if e.srv == nil {
		return
	}
	e.http.Close()
	if err := e.srv.Close(); err != nil {
		e.t.Errorf("close: %v", err)
	}
	e.srv = nil
}

func (e *env) restart() {
	e.stop()
	e.start()
}

// serve makes data available at the returned loopback URL.
func (e *env) serve(name string, data []byte) string {
	e.inputs.Store("/"+name, data)
	return e.files.URL + "/" + name
}

type recorder struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.h }
func (r *recorder) WriteHeader(s int) {
	if r.status == 0 {
		r.status = s
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = 200
	}
	return r.body.Write(b)
}

// validating checks every response of a documented route against the
// document (openapi3filter.ValidateResponse).
func (e *env) validating(router routers.Router, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/v2/") && !strings.HasPrefix(r.URL.Path, "/sync/v2/") {
			h.ServeHTTP(w, r)
			return
		}
		rr := r.Clone(context.Background())
		u := *r.URL
		base := strings.TrimPrefix(e.URL, "http://")
		u.Scheme, u.Host, u.Path = "http", base, strings.TrimPrefix(r.URL.Path, "/sync")
		rr.URL, rr.Host = &u, base
		route, params, rerr := router.FindRoute(rr)
		rec := &recorder{h: w.Header()}
		h.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = 200
		}
		if rerr == nil {
			in := &openapi3filter.ResponseValidationInput{
				RequestValidationInput: &openapi3filter.RequestValidationInput{Request: rr, PathParams: params, Route: route},
				Status:                 rec.status, Header: rec.h, Body: io.NopCloser(bytes.NewReader(rec.body.Bytes())),
				Options: &openapi3filter.Options{IncludeResponseStatus: true},
			}
			if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
				e.t.Errorf("response of %s %s (%d) does not match the OpenAPI document: %v\n%s", r.Method, r.URL.Path, rec.status, err, rec.body.String())
			}
			e.mu.Lock()
			e.nCheck++
			e.mu.Unlock()
		}
		w.WriteHeader(rec.status)
		w.Write(rec.body.Bytes())
	})
}

// do sends a request with the test key and decodes a JSON answer.
func (e *env) do(method, path string, body any) (int, map[string]any, http.Header) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, e.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+testKey)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			e.t.Fatalf("%s %s: %d, not JSON: %q", method, path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, m, resp.Header
}

// waitJob waits on the sync endpoint and returns the job's data.
func (e *env) waitJob(id string) map[string]any {
	e.t.Helper()
	code, body, _ := e.do("GET", "/sync/v2/jobs/"+id, nil)
	if code != 200 {
		e.t.Fatalf("sync job %s: %d %v", id, code, body)
	}
	return body["data"].(map[string]any)
}

func taskByName(job map[string]any, name string) map[string]any {
	for _, t := range job["tasks"].([]any) {
		tm := t.(map[string]any)
		if tm["name"] == name {
			return tm
		}
	}
	return nil
}

// download fetches a URL without credentials.
func download(t testing.TB, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return b
}

func testPNG(w, h int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(x * 255 / w), uint8(y * 255 / h), 128, 255})
		}
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

func jsonStr(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

var _ = fmt.Sprint

func listen(t testing.TB) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// runChild is a server in a process of its own, for tests that kill it
// (kill -9 recovery) or measure its memory: it prints its URL, serves until
// its stdin closes (the test ended) or it is killed.
func runChild(dir string) int {
	cfg := Config{DataDir: dir, APIKey: testKey, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		AllowPrivateURLs: os.Getenv("LOCALSERVER_CHILD_PRIVATE") != "",
		EngineOptions:    engine.Options{PDFiumCacheDir: os.Getenv("LOCALSERVER_CHILD_CACHE")}}
	if d, err := time.ParseDuration(os.Getenv("LOCALSERVER_CHILD_TASK_TIMEOUT")); err == nil {
		cfg.TaskTimeout = d
	}
	srv, err := Start(context.Background(), cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("LISTENING", srv.URL())
	io.Copy(io.Discard, os.Stdin)
	srv.Close()
	return 0
}

// child is a server process started by startChild.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	URL   string
}

// startChild runs the test binary as a server on dir (see runChild).
func startChild(t testing.TB, dir string, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), "LOCALSERVER_CHILD_DATA="+dir, "LOCALSERVER_CHILD_CACHE="+cacheDir), env...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, stdin: stdin}
	t.Cleanup(c.kill)
	line, err := bufio.NewReader(out).ReadString('\n')
	if !strings.HasPrefix(line, "LISTENING ") {
		t.Fatalf("child server did not start: %q %v", line, err)
	}
	c.URL = strings.TrimSpace(strings.TrimPrefix(line, "LISTENING "))
	return c
}

// kill ends the child with SIGKILL, as a crash or the OOM killer would.
func (c *child) kill() {
	if c.cmd.ProcessState != nil {
		return
	}
	c.cmd.Process.Kill()
	c.stdin.Close()
	c.cmd.Wait()
}

// rss reads the child's peak and current resident memory (Linux).
func (c *child) rss(t testing.TB) (peak, now int64) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		var kb int64
		if _, err := fmt.Sscanf(l, "VmHWM: %d kB", &kb); err == nil {
			peak = kb << 10
		}
		if _, err := fmt.Sscanf(l, "VmRSS: %d kB", &kb); err == nil {
			now = kb << 10
		}
	}
	return peak, now
}

// callURL sends a request with the test key.
func callURL(t testing.TB, method, url string, body io.Reader) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, body)
	req.Header.Set("Authorization", "Bearer "+testKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}
