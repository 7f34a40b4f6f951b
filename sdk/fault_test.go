package sdk

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cctoolkit/cloudconvert/apierror"
	"github.com/cctoolkit/cloudconvert/localserver"
)

// The fault-injection test puts a proxy between the client and a backend
// that keeps API state: the local CloudConvert-compatible server, unless
// CC_FAULT_BACKEND names the REST base URL of another (key in
// CC_FAULT_KEY). Jobs are counted through the backend's own list_jobs, so
// the count works against any.

type fault int

const (
	pass          fault = iota
	resetBefore         // close the connection without forwarding
	resetAfter          // forward, then close the connection without answering
	tooMany             // 429 with Retry-After: 1
	html502             // 502 with an HTML page, not forwarded
	slow                // forward, then answer after the attempt timeout
	truncated           // forward, send half the body with the full Content-Length, close
	truncatedJSON       // forward, send half the body with a matching Content-Length
)

type faultProxy struct {
	*httptest.Server
	rp      *httputil.ReverseProxy
	mu      sync.Mutex
	plan    map[string][]fault // "METHOD /v2/path-prefix" -> faults in order; the last repeats if sticky
	sticky  map[string]bool
	posts   atomic.Int64
	slowFor time.Duration
}

func newFaultProxy(t *testing.T, backend string) *faultProxy {
	u, _ := url.Parse(backend)
	p := &faultProxy{rp: httputil.NewSingleHostReverseProxy(&url.URL{Scheme: u.Scheme, Host: u.Host}), plan: map[string][]fault{}, sticky: map[string]bool{}, slowFor: 2500 * time.Millisecond}
	p.rp.ErrorLog = nil
	p.Server = httptest.NewServer(p)
	t.Cleanup(p.Close)
	return p
}

func (p *faultProxy) set(route string, sticky bool, faults ...fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.plan, p.sticky = map[string][]fault{route: faults}, map[string]bool{route: sticky}
}

func (p *faultProxy) next(r *http.Request) fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	for route, q := range p.plan {
		m, prefix, _ := strings.Cut(route, " ")
		if r.Method != m || !strings.HasPrefix(r.URL.Path, prefix) || len(q) == 0 {
			continue
		}
		f := q[0]
		if len(q) > 1 || !p.sticky[route] {
			p.plan[route] = q[1:]
		}
		return f
	}
	return pass
}

func hijackClose(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.SetLinger(0) // RST, not FIN
		}
		conn.Close()
	}
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		p.posts.Add(1)
	}
	switch f := p.next(r); f {
	case pass:
		p.rp.ServeHTTP(w, r)
	case resetBefore:
		hijackClose(w)
	case tooMany:
		w.Header().Set("Retry-After", "1")
		w.Header().Set("X-Ratelimit-Limit", "500")
		w.Header().Set("X-Ratelimit-Remaining", "0")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(429)
		w.Write([]byte(`{"message":"Too Many Attempts.","code":"TOO_MANY_REQUESTS"}`))
	case html502:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(502)
		w.Write([]byte("<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center>" + strings.Repeat("<!-- padding -->", 100) + "</body></html>"))
	default:
		rec := httptest.NewRecorder()
		p.rp.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		switch f {
		case resetAfter:
			hijackClose(w)
		case slow:
			select {
			case <-time.After(p.slowFor):
			case <-r.Context().Done():
				return
			}
			copyHeader(w, rec)
			w.WriteHeader(rec.Code)
			w.Write(body)
		case truncated:
			copyHeader(w, rec)
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(rec.Code)
			w.Write(body[:len(body)/2])
			w.(http.Flusher).Flush()
			hijackClose(w)
		case truncatedJSON:
			copyHeader(w, rec)
			w.Header().Set("Content-Length", strconv.Itoa(len(body)/2))
			w.WriteHeader(rec.Code)
			w.Write(body[:len(body)/2])
		}
	}
}

func copyHeader(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
}

// flakyDialer refuses the first n dials, like a host not yet listening.
type flakyDialer struct {
	refuse atomic.Int64
	d      net.Dialer
}

func (f *flakyDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if f.refuse.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "dial", Net: network, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	}
	return f.d.DialContext(ctx, network, addr)
}

func TestFaultInjection(t *testing.T) {
	backend, key := os.Getenv("CC_FAULT_BACKEND"), os.Getenv("CC_FAULT_KEY")
	if backend == "" {
		s, err := localserver.Start(context.Background(), localserver.Config{DataDir: t.TempDir(), APIKey: testKey})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		backend, key = s.APIURL(), testKey
	}
	direct, err := New(key, WithBaseURL(backend), WithoutAPIKey())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	countJobs := func() int {
		n := 0
		for _, err := range direct.Jobs(ctx, nil) {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		return n
	}
	seed, err := direct.CreateJob(ctx, NewJob("fault-seed", map[string]TaskDefinition{"import": TaskDef("import/url", map[string]any{"url": "https://example.com/a.pdf"})}))
	if err != nil {
		t.Fatal(err)
	}
	proxy := newFaultProxy(t, backend)
	pu, _ := url.Parse(backend)
	dialer := &flakyDialer{}
	policy := RetryPolicy{MaxAttempts: 4, MaxElapsed: 20 * time.Second, AttemptTimeout: time.Second, InitialInterval: 20 * time.Millisecond, MaxInterval: 100 * time.Millisecond, MaxRetryAfter: 2 * time.Second}
	c, err := New(key, WithoutAPIKey(), WithBaseURL(proxy.URL+pu.Path), WithRetryPolicy(policy),
		WithHTTPClient(&http.Client{Transport: &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 4}}))
	if err != nil {
		t.Fatal(err)
	}
	jobPath := pu.Path + "/jobs"

	tests := []struct {
		name     string
		write    bool
		faults   []fault
		sticky   bool
		refuse   int64         // dials to refuse first
		wantErr  []error       // errors.Is targets; nil = success
		wantMsg  string        // substring of the error
		newJobs  int           // jobs the backend must have gained
		posts    int64         // POSTs the proxy must have seen (writes)
		minTaken time.Duration // e.g. Retry-After honoured
	}{
		// Reads recover from transient faults.
		{name: "read/reset", faults: []fault{resetBefore}},
		{name: "read/reset after forward", faults: []fault{resetAfter, resetAfter}},
		{name: "read/429 Retry-After", faults: []fault{tooMany}, minTaken: time.Second},
		{name: "read/502 html", faults: []fault{html502, html502}},
		{name: "read/slower than attempt timeout", faults: []fault{slow}},
		{name: "read/truncated body", faults: []fault{truncated}},
		{name: "read/truncated JSON", faults: []fault{truncatedJSON}},
		{name: "read/dial refused", refuse: 2},
		// Persistent faults come back typed, with a clear message.
		{name: "read/persistent 502", faults: []fault{html502}, sticky: true, wantErr: []error{apierror.ErrServer}, wantMsg: "get_job: 502: non-JSON error page: 502 Bad Gateway (gave up after 4 attempts"},
		{name: "read/persistent reset", faults: []fault{resetBefore}, sticky: true, wantErr: []error{ErrTransport}, wantMsg: "get_job: GET /jobs/" + seed.Id + ": no response: "},
		{name: "read/persistent 429", faults: []fault{tooMany}, sticky: true, wantErr: []error{apierror.ErrRateLimited}, wantMsg: "get_job: 429 TOO_MANY_REQUESTS: Too Many Attempts. (retry after 1s) (gave up after"},
		{name: "read/persistent slow", faults: []fault{slow}, sticky: true, wantErr: []error{ErrTransport, context.DeadlineExceeded}, wantMsg: "no response within 1s"},
		{name: "read/persistent truncated JSON", faults: []fault{truncatedJSON}, sticky: true, wantErr: []error{ErrMalformedResponse}, wantMsg: "the response body was truncated or malformed: unexpected end of JSON input"},
		// Writes are never repeated once they may have reached the server.
		{name: "write/clean", write: true, newJobs: 1, posts: 1},
		{name: "write/reset after forward", write: true, faults: []fault{resetAfter}, wantErr: []error{ErrUncertainWrite, ErrTransport}, wantMsg: "may have reached the server, so it was not retried", newJobs: 1, posts: 1},
		{name: "write/reset before forward", write: true, faults: []fault{resetBefore}, wantErr: []error{ErrUncertainWrite}, newJobs: 0, posts: 1},
		{name: "write/429", write: true, faults: []fault{tooMany}, wantErr: []error{apierror.ErrRateLimited}, wantMsg: "create_job: 429", newJobs: 0, posts: 1},
		{name: "write/502 html", write: true, faults: []fault{html502}, wantErr: []error{apierror.ErrServer}, wantMsg: "create_job: 502: non-JSON error page: 502 Bad Gateway", newJobs: 0, posts: 1},
		{name: "write/slow", write: true, faults: []fault{slow}, wantErr: []error{ErrUncertainWrite, context.DeadlineExceeded}, wantMsg: "no response within 1s", newJobs: 1, posts: 1},
		{name: "write/truncated", write: true, faults: []fault{truncatedJSON}, wantErr: []error{ErrMalformedResponse, ErrUncertainWrite}, newJobs: 1, posts: 1},
		{name: "write/dial refused is retried", write: true, refuse: 2, newJobs: 1, posts: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			route := "GET " + jobPath + "/"
			if tt.write {
				route = "POST " + jobPath
			}
			proxy.set(route, tt.sticky, tt.faults...)
			dialer.refuse.Store(tt.refuse)
			c.hc.Transport.(*http.Transport).CloseIdleConnections() // so dials happen
			before, posts := countJobs(), proxy.posts.Load()
			start := time.Now()
			var err error
			if tt.write {
				var j *Job
				j, err = c.CreateJob(ctx, NewJob("fault", map[string]TaskDefinition{"import": TaskDef("import/url", map[string]any{"url": "https://example.com/b.pdf"})}))
				if err == nil && j.Id == "" {
					t.Error("no job id")
				}
			} else {
				var j *Job
				j, err = c.GetJob(ctx, seed.Id)
				if err == nil && j.Id != seed.Id {
					t.Errorf("got job %s", j.Id)
				}
			}
			taken := time.Since(start)
			proxy.set(route, false)
			if tt.wantErr == nil && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			for _, target := range tt.wantErr {
				if !errors.Is(err, target) {
					t.Errorf("error %v does not match %v", err, target)
				}
			}
			if err != nil {
				var ae *apierror.Error
				if !errors.As(err, &ae) && !errors.Is(err, ErrTransport) && !errors.Is(err, ErrMalformedResponse) {
					t.Errorf("untyped error %T: %v", err, err)
				}
				if strings.Contains(err.Error(), key) || strings.Contains(err.Error(), "<html") {
					t.Errorf("error leaks key or body: %v", err)
				}
				t.Logf("error: %v", err)
			}
			if tt.wantMsg != "" && (err == nil || !strings.Contains(err.Error(), tt.wantMsg)) {
				t.Errorf("error %q lacks %q", err, tt.wantMsg)
			}
			if taken < tt.minTaken {
				t.Errorf("took %s, want >= %s (Retry-After)", taken, tt.minTaken)
			}
			// The slow fault lets its forwarded request finish on the backend.
			time.Sleep(20 * time.Millisecond)
			if got := countJobs() - before; got != tt.newJobs {
				t.Errorf("backend gained %d jobs, want %d (a write was duplicated or lost)", got, tt.newJobs)
			}
			if tt.write {
				if got := proxy.posts.Load() - posts; got != tt.posts {
					t.Errorf("proxy saw %d POSTs, want %d", got, tt.posts)
				}
			}
		})
	}
	_ = fmt.Sprint
}
