package transport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cctoolkit/cloudconvert/integration"
)

// The tests run real HTTP over loopback: an httptest server whose answers
// follow a script, a listener that resets connections, and a dialer that
// first dials a closed port (a real "connection refused"). Time is only
// checked from below (a wait was made), or with deadlines far above what
// a call needs, so a loaded machine cannot fail them.

// step answers one request.
type step func(w http.ResponseWriter, r *http.Request)

func ok(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"ok":true}`))
}

func created(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	w.Write([]byte(`{"created":true}`))
}

func status(code int, header ...string) step {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		w.Write([]byte(`{"message":"` + http.StatusText(code) + `"}`))
	}
}

// retryAt answers 429 with a Retry-After HTTP date d from now.
func retryAt(d time.Duration) step {
	return func(w http.ResponseWriter, r *http.Request) {
		status(http.StatusTooManyRequests, "Retry-After", time.Now().Add(d).UTC().Format(http.TimeFormat))(w, r)
	}
}

// truncated declares a longer body than it sends; the server then closes
// the connection.
func truncated(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", "100")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(`{"ok":`))
}

// hang answers only when the client has gone.
func hang(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

func sleepThen(d time.Duration, then step) step {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
		then(w, r)
	}
}

// script is a server answering the n-th request with steps[n-1] (the last
// step repeats). It records what reached the handler.
type script struct {
	*httptest.Server
	steps []step
	ln    *resetListener

	mu     sync.Mutex
	seen   []seenRequest
	accept atomic.Int64
}

type seenRequest struct {
	at        time.Time
	method    string
	userAgent string
	body      string
}

func newScript(t *testing.T, resets int, steps ...step) *script {
	t.Helper()
	return newScriptReset(t, resets, false, steps...)
}

func newScriptReset(t *testing.T, resets int, afterRead bool, steps ...step) *script {
	t.Helper()
	s := &script{steps: steps}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.ln = &resetListener{Listener: ln, accepted: &s.accept, afterRead: afterRead}
	s.ln.resets.Store(int64(resets))
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		n := len(s.seen)
		s.seen = append(s.seen, seenRequest{at: time.Now(), method: r.Method, userAgent: r.UserAgent(), body: string(body)})
		s.mu.Unlock()
		s.steps[min(n, len(s.steps)-1)](w, r)
	}))
	s.Server.Listener = s.ln
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func (s *script) requests() []seenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seenRequest(nil), s.seen...)
}

// resetListener accepts the first resets connections and closes them with
// an RST, like a server that dropped them: at once, or (afterRead) once the
// request's head has arrived, so that it certainly reached the server.
type resetListener struct {
	net.Listener
	resets    atomic.Int64
	afterRead bool
	accepted  *atomic.Int64
}

func (l *resetListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.accepted.Add(1)
		if l.resets.Add(-1) < 0 {
			return c, nil
		}
		go reset(c, l.afterRead)
	}
}

func reset(c net.Conn, afterRead bool) {
	if afterRead {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		var got []byte
		buf := make([]byte, 4096)
		for !bytes.Contains(got, []byte("\r\n\r\n")) {
			n, err := c.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				break
			}
		}
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// refusingBase is an http.Transport whose first refuse dials go to a
// port nothing listens on: the kernel refuses them.
type refusingBase struct {
	*http.Transport
	refuse atomic.Int64
	dials  atomic.Int64
}

func newBase(t *testing.T, refuse int) *refusingBase {
	t.Helper()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := closed.Addr().String()
	closed.Close()
	b := &refusingBase{}
	b.refuse.Store(int64(refuse))
	var d net.Dialer
	b.Transport = &http.Transport{
		DisableKeepAlives: true, // every attempt dials, so every fault is met
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			b.dials.Add(1)
			if b.refuse.Add(-1) >= 0 {
				addr = dead
			}
			return d.DialContext(ctx, network, addr)
		},
	}
	t.Cleanup(b.CloseIdleConnections)
	return b
}

// quick is a policy with short backoff and generous bounds.
func quick() Policy {
	return Policy{MaxAttempts: 4, MaxElapsed: time.Minute, AttemptTimeout: 20 * time.Second,
		InitialInterval: 10 * time.Millisecond, MaxInterval: 50 * time.Millisecond, MaxRetryAfter: time.Minute}
}

type result struct {
	resp    *http.Response
	body    string
	err     error
	stats   Stats
	elapsed time.Duration
	ctxErr  error // the caller's context when the call returned
}

// send makes one request through tr with a class and a deadline.
func send(t *testing.T, tr *Transport, method, url, body string, class Class, deadline time.Duration) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	var stats Stats
	class.Stats = &stats
	ctx = WithClass(ctx, class)
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, err := tr.Client().Do(req)
	r := result{resp: resp, err: err, stats: stats, elapsed: time.Since(start), ctxErr: ctx.Err()}
	if resp != nil {
		b, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		if rerr != nil {
			t.Fatalf("reading the answer: %v", rerr)
		}
		r.body = string(b)
	}
	return r
}

// TestRetries covers which calls are sent again, and how often: reads
// after every transient failure, writes only when they never left.
func TestRetries(t *testing.T) {
	type tc struct {
		name   string
		method string
		body   string
		class  Class
		steps  []step
		resets int // connections reset at accept
		// resetAfterRead: the resets happen once the request has arrived.
		resetAfterRead bool
		wantConns      int // connections accepted, when set
		refuse         int // dials refused
		policy         func(*Policy)

		wantStatus   int    // 0: an error
		wantWhat     string // the *Error's What, for errors
		wantReached  bool
		wantIs       []error
		wantRequests int // that reached the handler
		wantAttempts int
		minElapsed   time.Duration // a wait that must have been made
	}
	tests := []tc{
		// Reads.
		{name: "read/429 Retry-After seconds", method: "GET", steps: []step{status(429, "Retry-After", "1"), ok},
			wantStatus: 200, wantRequests: 2, wantAttempts: 2, minElapsed: 900 * time.Millisecond},
		{name: "read/429 Retry-After HTTP date", method: "GET", steps: []step{retryAt(2 * time.Second), ok},
			wantStatus: 200, wantRequests: 2, wantAttempts: 2, minElapsed: 900 * time.Millisecond},
		{name: "read/429 X-RateLimit-Reset without Retry-After", method: "GET", steps: []step{status(429, "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "1"), ok},
			wantStatus: 200, wantRequests: 2, wantAttempts: 2, minElapsed: 900 * time.Millisecond},
		{name: "read/429 twice", method: "GET", steps: []step{status(429, "Retry-After", "1"), status(429, "Retry-After", "1"), ok},
			wantStatus: 200, wantRequests: 3, wantAttempts: 3, minElapsed: 1800 * time.Millisecond},
		{name: "read/502 backoff", method: "GET", steps: []step{status(502), ok}, wantStatus: 200, wantRequests: 2, wantAttempts: 2},
		{name: "read/503 backoff", method: "GET", steps: []step{status(503), status(503), ok}, wantStatus: 200, wantRequests: 3, wantAttempts: 3},
		{name: "read/504 backoff", method: "GET", steps: []step{status(504), ok}, wantStatus: 200, wantRequests: 2, wantAttempts: 2},
		{name: "read/500 is an answer", method: "GET", steps: []step{status(500), ok}, wantStatus: 500, wantRequests: 1, wantAttempts: 1},
		{name: "read/404 is an answer", method: "GET", steps: []step{status(404), ok}, wantStatus: 404, wantRequests: 1, wantAttempts: 1},
		{name: "read/connection refused", method: "GET", refuse: 2, steps: []step{ok}, wantStatus: 200, wantRequests: 1, wantAttempts: 3},
		{name: "read/connection reset", method: "GET", resets: 2, steps: []step{ok}, wantStatus: 200, wantRequests: 1, wantAttempts: 3, wantConns: 3},
		{name: "read/reset after the request arrived", method: "GET", resets: 2, resetAfterRead: true, steps: []step{ok}, wantStatus: 200, wantRequests: 1, wantAttempts: 3, wantConns: 3},
		{name: "read/truncated body", method: "GET", steps: []step{truncated, ok}, wantStatus: 200, wantRequests: 2, wantAttempts: 2},
		{name: "read/persistent 503 gives the last answer", method: "GET", steps: []step{status(503)}, wantStatus: 503, wantRequests: 4, wantAttempts: 4},
		{name: "read/persistent refusal", method: "GET", refuse: 100, steps: []step{ok},
			wantWhat: "could not connect", wantIs: []error{syscall.ECONNREFUSED}, wantRequests: 0, wantAttempts: 4},
		{name: "read/persistent reset", method: "GET", resets: 100, resetAfterRead: true, steps: []step{ok},
			wantWhat: "no response", wantReached: true, wantRequests: 0, wantAttempts: 4},
		{name: "read/persistent truncation", method: "GET", steps: []step{truncated},
			wantWhat: "incomplete answer", wantReached: true, wantIs: []error{ErrTruncated}, wantRequests: 4, wantAttempts: 4},
		{name: "read/attempt timeout", method: "GET", steps: []step{hang, ok}, policy: func(p *Policy) { p.AttemptTimeout = 3 * time.Second },
			wantStatus: 200, wantRequests: 2, wantAttempts: 2},
		{name: "read/every attempt times out", method: "GET", steps: []step{hang}, policy: func(p *Policy) { p.AttemptTimeout = time.Second; p.MaxAttempts = 2 },
			wantWhat: "no response within 1s", wantReached: true, wantIs: []error{context.DeadlineExceeded}, wantRequests: 2, wantAttempts: 2},
		{name: "read/long calls have no attempt timeout", method: "GET", class: Class{Long: true}, steps: []step{sleepThen(1500*time.Millisecond, ok)},
			policy: func(p *Policy) { p.AttemptTimeout = 300 * time.Millisecond }, wantStatus: 200, wantRequests: 1, wantAttempts: 1},
		{name: "read/HEAD is a read", method: "HEAD", steps: []step{status(503), ok}, wantStatus: 200, wantRequests: 2, wantAttempts: 2},
		{name: "read/POST of class safe is retried", method: "POST", body: `{"q":1}`, class: Class{Retry: integration.RetrySafe}, steps: []step{status(503), ok},
			wantStatus: 200, wantRequests: 2, wantAttempts: 2},

		// Writes.
		{name: "write/connection refused is sent again", method: "POST", body: `{"tasks":{}}`, refuse: 2, steps: []step{created},
			wantStatus: 201, wantRequests: 1, wantAttempts: 3},
		{name: "write/502 after the write is returned once", method: "POST", body: `{"tasks":{}}`, steps: []step{status(502), created},
			wantStatus: 502, wantRequests: 1, wantAttempts: 1},
		{name: "write/503 is returned once", method: "POST", body: `{}`, steps: []step{status(503), created}, wantStatus: 503, wantRequests: 1, wantAttempts: 1},
		{name: "write/429 is returned once", method: "POST", body: `{}`, steps: []step{status(429, "Retry-After", "1"), created}, wantStatus: 429, wantRequests: 1, wantAttempts: 1},
		{name: "write/reset after the request arrived is not sent again", method: "POST", body: `{"tasks":{}}`, resets: 1, resetAfterRead: true, steps: []step{created},
			wantWhat: "no response", wantReached: true, wantRequests: 0, wantAttempts: 1, wantConns: 1},
		{name: "write/truncated answer is not sent again", method: "POST", body: `{}`, steps: []step{truncated, created},
			wantWhat: "incomplete answer", wantReached: true, wantIs: []error{ErrTruncated}, wantRequests: 1, wantAttempts: 1},
		{name: "write/timeout is not sent again", method: "POST", body: `{}`, steps: []step{hang, created}, policy: func(p *Policy) { p.AttemptTimeout = time.Second },
			wantWhat: "no response within 1s", wantReached: true, wantIs: []error{context.DeadlineExceeded}, wantRequests: 1, wantAttempts: 1},
		{name: "write/DELETE is a write", method: "DELETE", steps: []step{status(503), ok}, wantStatus: 503, wantRequests: 1, wantAttempts: 1},
		{name: "write/PUT is a write", method: "PUT", body: `{}`, steps: []step{status(502), ok}, wantStatus: 502, wantRequests: 1, wantAttempts: 1},
		{name: "write/GET of class unsent is not retried", method: "GET", class: Class{Retry: integration.RetryUnsent}, steps: []step{status(503), ok},
			wantStatus: 503, wantRequests: 1, wantAttempts: 1},
		{name: "write/refused forever", method: "POST", body: `{}`, refuse: 100, steps: []step{created},
			wantWhat: "could not connect", wantIs: []error{syscall.ECONNREFUSED}, wantRequests: 0, wantAttempts: 4},

		// Policy bounds.
		{name: "policy/MaxAttempts 2", method: "GET", steps: []step{status(503)}, policy: func(p *Policy) { p.MaxAttempts = 2 },
			wantStatus: 503, wantRequests: 2, wantAttempts: 2},
		{name: "policy/MaxAttempts 1 disables retries", method: "GET", refuse: 1, steps: []step{ok}, policy: func(p *Policy) { p.MaxAttempts = 1 },
			wantWhat: "could not connect", wantRequests: 0, wantAttempts: 1},
		// Retry-After 2 in a budget of 3s: one wait fits, the second
		// would end after the budget, so the answer comes back then.
		{name: "policy/MaxElapsed", method: "GET", steps: []step{status(429, "Retry-After", "2")}, policy: func(p *Policy) { p.MaxElapsed = 3 * time.Second; p.MaxAttempts = 10 },
			wantStatus: 429, wantRequests: 2, wantAttempts: 2, minElapsed: 1800 * time.Millisecond},
		{name: "policy/Retry-After above MaxRetryAfter", method: "GET", steps: []step{status(429, "Retry-After", "120"), ok},
			wantStatus: 429, wantRequests: 1, wantAttempts: 1},
		{name: "policy/Retry-After date above MaxRetryAfter", method: "GET", steps: []step{retryAt(time.Hour), ok},
			wantStatus: 429, wantRequests: 1, wantAttempts: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newScriptReset(t, tt.resets, tt.resetAfterRead, tt.steps...)
			base := newBase(t, tt.refuse)
			p := quick()
			if tt.policy != nil {
				tt.policy(&p)
			}
			tr := New(Options{Base: base, Policy: p})
			r := send(t, tr, tt.method, s.URL+"/v2/things", tt.body, tt.class, 2*time.Minute)
			seen := s.requests()
			if tt.wantStatus != 0 {
				if r.err != nil {
					t.Fatalf("error %v, want status %d", r.err, tt.wantStatus)
				}
				if r.resp.StatusCode != tt.wantStatus {
					t.Errorf("status %d, want %d", r.resp.StatusCode, tt.wantStatus)
				}
				if tt.wantStatus == 200 && tt.method != "HEAD" && r.body != `{"ok":true}` {
					t.Errorf("body %q", r.body)
				}
			} else {
				var te *Error
				if !errors.As(r.err, &te) {
					t.Fatalf("error %T %v, want a *transport.Error", r.err, r.err)
				}
				if te.What != tt.wantWhat || te.Reached != tt.wantReached || te.Attempts != tt.wantAttempts {
					t.Errorf("error %q: what %q reached %v attempts %d, want %q %v %d", r.err, te.What, te.Reached, te.Attempts, tt.wantWhat, tt.wantReached, tt.wantAttempts)
				}
				for _, target := range tt.wantIs {
					if !errors.Is(r.err, target) {
						t.Errorf("error %v does not match %v", r.err, target)
					}
				}
				if r.stats.Reached != tt.wantReached {
					t.Errorf("stats.Reached %v, want %v", r.stats.Reached, tt.wantReached)
				}
			}
			if len(seen) != tt.wantRequests {
				t.Errorf("the server saw %d requests, want %d", len(seen), tt.wantRequests)
			}
			if r.stats.Attempts != tt.wantAttempts {
				t.Errorf("%d attempts, want %d", r.stats.Attempts, tt.wantAttempts)
			}
			if tt.wantStatus != 0 && tt.refuse > 0 && base.dials.Load() != int64(tt.refuse+1) {
				t.Errorf("%d dials, want %d", base.dials.Load(), tt.refuse+1)
			}
			for _, rq := range seen {
				if rq.body != tt.body {
					t.Errorf("the server got body %q, want %q", rq.body, tt.body)
				}
			}
			if tt.wantConns > 0 && s.accept.Load() != int64(tt.wantConns) {
				t.Errorf("%d connections, want %d", s.accept.Load(), tt.wantConns)
			}
			if r.elapsed < tt.minElapsed {
				t.Errorf("returned after %s, want a wait of at least %s", r.elapsed, tt.minElapsed)
			}
		})
	}
}

// TestUnreplayableBody: a body that cannot be read again is never sent
// twice, even when the connection was refused.
func TestUnreplayableBody(t *testing.T) {
	s := newScript(t, 0, created)
	base := newBase(t, 1)
	tr := New(Options{Base: base, Policy: quick()})
	req, _ := http.NewRequest("POST", s.URL+"/v2/upload", io.NopCloser(strings.NewReader("stream")))
	req.GetBody = nil
	var stats Stats
	req = req.WithContext(WithClass(context.Background(), Class{Stats: &stats}))
	_, err := tr.Client().Do(req)
	var te *Error
	if !errors.As(err, &te) || te.What != "could not connect" || stats.Attempts != 1 || len(s.requests()) != 0 {
		t.Fatalf("err %v, attempts %d, requests %d", err, stats.Attempts, len(s.requests()))
	}
}

// TestContextDeadline: a wait that would outlive the caller's deadline is
// not begun; the call returns the real reason at once, not "context
// deadline exceeded" later.
func TestContextDeadline(t *testing.T) {
	t.Run("429 with a longer Retry-After", func(t *testing.T) {
		s := newScript(t, 0, status(429, "Retry-After", "30"), ok)
		tr := New(Options{Base: newBase(t, 0), Policy: quick()})
		r := send(t, tr, "GET", s.URL, "", Class{}, 10*time.Second)
		if r.err != nil || r.resp.StatusCode != 429 || r.ctxErr != nil || len(s.requests()) != 1 {
			t.Fatalf("err %v, status %v, context %v, %d requests", r.err, r.resp, r.ctxErr, len(s.requests()))
		}
	})
	t.Run("refused with a longer backoff", func(t *testing.T) {
		p := quick()
		p.InitialInterval, p.MaxInterval = 40*time.Second, 40*time.Second
		tr := New(Options{Base: newBase(t, 100), Policy: p})
		r := send(t, tr, "GET", "http://127.0.0.1:9/v2/jobs", "", Class{}, 10*time.Second)
		var te *Error
		if !errors.As(r.err, &te) || te.What != "could not connect" || !errors.Is(r.err, syscall.ECONNREFUSED) || errors.Is(r.err, context.DeadlineExceeded) || r.ctxErr != nil {
			t.Fatalf("err %v, context %v", r.err, r.ctxErr)
		}
	})
	t.Run("cancelled while waiting", func(t *testing.T) {
		seen := make(chan struct{}, 1)
		s := newScript(t, 0, func(w http.ResponseWriter, r *http.Request) {
			status(429, "Retry-After", "30")(w, r)
			seen <- struct{}{}
		})
		tr := New(Options{Base: newBase(t, 0), Policy: quick()})
		ctx, cancel := context.WithCancelCause(context.Background())
		why := errors.New("the user pressed ^C")
		go func() { <-seen; cancel(why) }()
		req, _ := http.NewRequestWithContext(ctx, "GET", s.URL, nil)
		_, err := tr.Client().Do(req)
		if !errors.Is(err, why) || !strings.Contains(err.Error(), "the user pressed ^C") {
			t.Fatalf("err %v, want the cause of the cancellation", err)
		}
	})
}

// TestRateLimitHold: X-RateLimit-Remaining: 0 with X-RateLimit-Reset holds
// back the next request until the reset.
func TestRateLimitHold(t *testing.T) {
	usedUp := func(reset func() string) step {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-RateLimit-Limit", "60")
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Reset", reset())
			ok(w, r)
		}
	}
	for _, tc := range []struct {
		name  string
		reset func() string
	}{
		{"seconds", func() string { return "2" }},
		{"unix time", func() string { return strconv.FormatInt(time.Now().Unix()+3, 10) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newScript(t, 0, usedUp(tc.reset), ok)
			tr := New(Options{Base: newBase(t, 0), Policy: quick()})
			for range 2 {
				if r := send(t, tr, "GET", s.URL, "", Class{}, time.Minute); r.err != nil || r.resp.StatusCode != 200 {
					t.Fatalf("err %v", r.err)
				}
			}
			seen := s.requests()
			if gap := seen[1].at.Sub(seen[0].at); gap < 1500*time.Millisecond {
				t.Errorf("the second request came %s after the first, before the reset", gap)
			}
		})
	}
	t.Run("a reset after the deadline fails at once", func(t *testing.T) {
		s := newScript(t, 0, usedUp(func() string { return "30" }), ok)
		tr := New(Options{Base: newBase(t, 0), Policy: quick()})
		send(t, tr, "GET", s.URL, "", Class{}, time.Minute)
		r := send(t, tr, "GET", s.URL, "", Class{Function: "list_jobs"}, 10*time.Second)
		var te *Error
		if !errors.As(r.err, &te) || !errors.Is(r.err, ErrRateLimited) || te.Reached || r.ctxErr != nil || len(s.requests()) != 1 {
			t.Fatalf("err %v, context %v, %d requests", r.err, r.ctxErr, len(s.requests()))
		}
		if !strings.Contains(r.err.Error(), "list_jobs: GET ") || !strings.Contains(r.err.Error(), "resets in") {
			t.Errorf("message %q", r.err)
		}
	})
	for _, tc := range []struct {
		name       string
		remain     string
		reset      string
		maxRetryAf time.Duration
	}{
		{"remaining above 0 holds nothing", "3", "30", time.Minute},
		{"a reset above MaxRetryAfter holds nothing", "0", "120", time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newScript(t, 0, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-RateLimit-Remaining", tc.remain)
				w.Header().Set("X-RateLimit-Reset", tc.reset)
				ok(w, r)
			})
			tr := New(Options{Base: newBase(t, 0), Policy: quick()})
			send(t, tr, "GET", s.URL, "", Class{}, time.Minute)
			// A reset of 30s would not fit the deadline: held, this fails.
			if r := send(t, tr, "GET", s.URL, "", Class{}, 10*time.Second); r.err != nil || r.resp.StatusCode != 200 {
				t.Fatalf("err %v", r.err)
			}
		})
	}
}

func TestUserAgent(t *testing.T) {
	s := newScript(t, 0, ok)
	tr := New(Options{Base: newBase(t, 0), UserAgent: "cctoolkit-test/1.0"})
	send(t, tr, "GET", s.URL, "", Class{}, time.Minute)
	req, _ := http.NewRequest("GET", s.URL, nil)
	req.Header.Set("User-Agent", "caller/2")
	resp, err := tr.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	seen := s.requests()
	if seen[0].userAgent != "cctoolkit-test/1.0" || seen[1].userAgent != "caller/2" {
		t.Errorf("User-Agents %q %q", seen[0].userAgent, seen[1].userAgent)
	}
}

// TestSecretsRedacted: an API key in the URL never shows in an error or a
// log line, whatever the failure.
func TestSecretsRedacted(t *testing.T) {
	const secret = "sk-live-SECRET-0123456789"
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := newScriptReset(t, 100, true, ok)
	for _, tc := range []struct {
		name   string
		url    string
		refuse int
	}{
		{"refused", "http://user:" + secret + "@127.0.0.1:9/v2/jobs/" + secret + "?key=" + secret, 100},
		{"reset", s.URL + "/v2/jobs/" + secret + "?key=" + secret, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := New(Options{Base: newBase(t, tc.refuse), Policy: quick(), Secrets: []string{secret, "", "abc"}, Logger: logger})
			r := send(t, tr, "GET", tc.url, "", Class{Function: "get_job"}, time.Minute)
			if r.err == nil {
				t.Fatal("no error")
			}
			var te *Error
			if !errors.As(r.err, &te) || te.Attempts != 4 {
				t.Fatalf("err %v", r.err)
			}
			// (The *url.Error of http.Client around it quotes the URL as
			// the caller gave it; the surfaces report the *Error.)
			for _, text := range []string{te.Error(), te.URL, logs.String()} {
				if strings.Contains(text, secret) {
					t.Errorf("the key leaked: %s", text)
				}
			}
			if !strings.Contains(te.Error(), "get_job: GET ") || !strings.Contains(te.Error(), "[redacted]") || !strings.Contains(te.Error(), "(gave up after 4 attempts in ") {
				t.Errorf("message %q", te.Error())
			}
		})
	}
	if !strings.Contains(logs.String(), "transport: retrying") || !strings.Contains(logs.String(), "function=get_job") {
		t.Errorf("retries not logged:\n%s", logs.String())
	}
}

// TestLongBodyOfUnknownLength: a success body longer than MaxBuffered,
// sent chunked, reaches the caller whole.
func TestLongBodyOfUnknownLength(t *testing.T) {
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 256) // 4 KiB
	s := newScript(t, 0, func(w http.ResponseWriter, r *http.Request) {
		for range 8 {
			w.Write(chunk)
			w.(http.Flusher).Flush()
		}
	})
	p := quick()
	p.MaxBuffered = 5000
	tr := New(Options{Base: newBase(t, 0), Policy: p})
	r := send(t, tr, "GET", s.URL, "", Class{}, time.Minute)
	if r.err != nil || r.body != strings.Repeat(string(chunk), 8) {
		t.Fatalf("err %v, got %d bytes, want %d", r.err, len(r.body), 8*len(chunk))
	}
}

func TestRetryAfterHeader(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		value string
		want  time.Duration
	}{
		{"", 0},
		{"1", time.Second},
		{" 30 ", 30 * time.Second},
		{"1.5", 1500 * time.Millisecond},
		{"0", 0},
		{"-3", 0},
		{"86401", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	} {
		h := http.Header{}
		if tc.value != "" {
			h.Set("Retry-After", tc.value)
		}
		if got := RetryAfter(h, now); got != tc.want {
			t.Errorf("Retry-After %q: %s, want %s", tc.value, got, tc.want)
		}
	}
	for _, tc := range []struct {
		value string
		want  time.Duration
	}{
		{"", 0},
		{"2", 2 * time.Second},
		{"86401", 0},
		{"x", 0},
		{strconv.FormatInt(now.Unix()+40, 10), 40 * time.Second},
		{strconv.FormatInt(now.Unix()-40, 10), 0},
	} {
		h := http.Header{}
		h.Set("X-RateLimit-Reset", tc.value)
		if got := resetIn(h, now); got != tc.want {
			t.Errorf("X-RateLimit-Reset %q: %s, want %s", tc.value, got, tc.want)
		}
	}
}

func TestDefaultPolicy(t *testing.T) {
	p := Policy{}.normalized()
	if p != DefaultPolicy() {
		t.Errorf("zero policy normalizes to %+v, want %+v", p, DefaultPolicy())
	}
	p = Policy{AttemptTimeout: -1, InitialInterval: time.Minute}.normalized()
	if p.AttemptTimeout != -1 || p.MaxInterval < p.InitialInterval {
		t.Errorf("%+v", p)
	}
}
