// Package localtest runs the real local CloudConvert server in process for
// the tests of the client-side packages (luaruntime, mcpserver): on a
// loopback port, with its state in a temp dir, behind a recorder that
// records every request and can inject faults.
//
// The fault hook is the one fake these tests have: it answers in the
// server's place only for what the local server cannot produce (a 5xx that
// echoes the API key, an HTML gateway error, an unavailable sync host, a
// reset connection, a 429). Everything else is the local server's answer.
package localtest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cctoolkit/cloudconvert/internal/testcache"
	"github.com/cctoolkit/cloudconvert/localserver"
	"github.com/cctoolkit/cloudconvert/localserver/engine"
)

// Options configure a Server.
type Options struct {
	// APIKey is the key of the one default user (id 1, "local") when
	// Users is empty.
	APIKey string
	Users  []localserver.UserConfig
	// PDFiumCacheDir keeps PDFium's compiled module; a temp dir of the
	// test when empty. Share one temp dir per test binary run (never the
	// user's ~/.cache) when several tests render PDFs: the first render
	// compiles PDFium (seconds; a minute or more under -race).
	PDFiumCacheDir string
}

// Request is one request the server answered (or the fault hook did).
type Request struct {
	Method string
	Path   string // as sent, escapes kept (/v2/jobs/a%2Fb)
	Query  string
	Auth   string // the Authorization header
	Body   []byte
	Status int // 0 while the request is being answered
	// Response is the answer's body, kept for POST requests only.
	Response []byte
}

// Server is the local server behind the recorder.
type Server struct {
	*localserver.Server
	// URL is the root (http://127.0.0.1:port), without /v2.
	URL string
	Key string // the first API key, for direct requests

	mu    sync.Mutex
	reqs  []Request
	gen   int // counts Resets, so a late answer does not land in a new list
	fault func(w http.ResponseWriter, r *http.Request) bool
}

// Start starts a server that lives until the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	hs := httptest.NewUnstartedServer(nil)
	base := "http://" + hs.Listener.Addr().String()
	cache := o.PDFiumCacheDir
	if cache == "" {
		// A CI run shares one cache between its test binaries (see
		// testcache); alone, a test compiles PDFium into its own temp dir.
		cache = os.Getenv(testcache.Env)
	}
	if cache == "" {
		cache = t.TempDir()
	}
	key := o.APIKey
	if len(o.Users) > 0 && len(o.Users[0].APIKeys) > 0 {
		key = o.Users[0].APIKeys[0]
	}
	ls, err := localserver.New(context.Background(), localserver.Config{
		// The tests import from, and receive webhooks on, loopback
		// servers, which the default SSRF protection refuses.
		AllowPrivateURLs: true,
		DataDir:          t.TempDir(),
		BaseURL:          base,
		APIKey:           o.APIKey,
		Users:            o.Users,
		// Tests make many requests a minute; at the default limit of 500
		// the transport would hold requests back.
		RateLimit:     1 << 20,
		EngineOptions: engine.Options{PDFiumCacheDir: cache},
		Logger:        slog.New(slog.DiscardHandler),
	})
	if err != nil {
		hs.Close()
		t.Fatal(err)
	}
	s := &Server{Server: ls, URL: base, Key: key}
	hs.Config.Handler = s.recorder(ls.Handler())
	hs.Start()
	// Cleanups run last-in first-out: the local server closes (which ends
	// blocked sync waits) before the listener waits for open requests.
	t.Cleanup(hs.Close)
	t.Cleanup(func() { ls.Close() })
	return s
}

// SetFault installs a hook that sees every request first and answers it
// itself by returning true; nil removes it.
func (s *Server) SetFault(f func(w http.ResponseWriter, r *http.Request) bool) {
	s.mu.Lock()
	s.fault = f
	s.mu.Unlock()
}

func (s *Server) recorder(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := Request{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Auth: r.Header.Get("Authorization"), Body: body}
		// Recorded as it arrives (a blocked sync wait shows with Status 0)
		// and completed when answered.
		s.mu.Lock()
		fault := s.fault
		s.reqs = append(s.reqs, rec)
		i, gen := len(s.reqs)-1, s.gen
		s.mu.Unlock()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK, keep: r.Method == http.MethodPost}
		if fault == nil || !fault(sw, r) {
			next.ServeHTTP(sw, r)
		}
		s.mu.Lock()
		if s.gen == gen {
			s.reqs[i].Status, s.reqs[i].Response = sw.status, sw.body.Bytes()
		}
		s.mu.Unlock()
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	keep   bool
	body   bytes.Buffer
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.keep && w.body.Len() < 1<<20 {
		w.body.Write(p)
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection (Flush, Hijack).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Requests returns the API requests (under /v2 and /sync) recorded since
// the last Reset; file downloads and uploads are left out.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Request
	for _, r := range s.reqs {
		if strings.HasPrefix(r.Path, "/v2/") || strings.HasPrefix(r.Path, "/sync/") {
			out = append(out, r)
		}
	}
	return out
}

// AllRequests returns every request recorded since the last Reset, file
// uploads and downloads included.
func (s *Server) AllRequests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.reqs))
	copy(out, s.reqs)
	return out
}

// Reset forgets the recorded requests.
func (s *Server) Reset() {
	s.mu.Lock()
	s.reqs = nil
	s.gen++
	s.mu.Unlock()
}

// Get sends an authenticated GET (path under the root, e.g. /v2/jobs/x)
// beside the code under test and decodes the JSON answer.
func (s *Server) Get(t testing.TB, path string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.Key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil && resp.StatusCode != http.StatusNoContent {
		t.Fatalf("GET %s: %d, not JSON: %v", path, resp.StatusCode, err)
	}
	return resp.StatusCode, m
}

// Download fetches a file URL the server handed out.
func (s *Server) Download(t testing.TB, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("download %s: %d %v", url, resp.StatusCode, err)
	}
	return b
}

// WaitJob blocks on the sync API until the job has ended and returns its
// data. The deadline only catches hangs: the first PDF render of a run
// compiles PDFium.
func (s *Server) WaitJob(t testing.TB, id string) map[string]any {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Minute); time.Now().Before(deadline); {
		status, m := s.Get(t, "/sync/v2/jobs/"+id)
		if status != http.StatusOK {
			t.Fatalf("wait for job %s: status %d: %v", id, status, m)
		}
		data, _ := m["data"].(map[string]any)
		if st := data["status"]; st == "finished" || st == "error" {
			return data
		}
	}
	t.Fatalf("job %s did not end", id)
	return nil
}
