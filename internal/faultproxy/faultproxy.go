// Package faultproxy is a reverse proxy for tests that puts network and
// gateway faults between a client and a real server (the local
// CloudConvert server): resets before and after the request was
// forwarded, 429 with Retry-After, 502 pages, a 502 answered after the
// server did the work, slow and truncated answers. It records every
// request it receives, so a test can say exactly what reached the server.
//
//	p := faultproxy.New(t, srv.APIURL())
//	p.Plan("POST /v2/jobs", false, faultproxy.BadGatewayAfter)
package faultproxy

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Fault is what the proxy does with one request.
type Fault int

// Faults.
const (
	Pass            Fault = iota // forward it
	ResetBefore                  // close the connection (RST) without forwarding
	ResetAfter                   // forward, then close the connection without answering
	TooMany                      // answer 429 with Retry-After: 1, without forwarding
	BadGateway                   // answer a 502 HTML page, without forwarding
	BadGatewayAfter              // forward, then answer a 502 HTML page instead of the server's answer
	Slow                         // forward, then answer after SlowFor
	Truncated                    // forward, send half the body with the full Content-Length, close
	TruncatedJSON                // forward, send half the body with a matching Content-Length
)

var names = [...]string{"pass", "reset-before", "reset-after", "429", "502", "502-after", "slow", "truncated", "truncated-json"}

func (f Fault) String() string {
	if int(f) < len(names) {
		return names[f]
	}
	return "fault(" + strconv.Itoa(int(f)) + ")"
}

// Request is one request the proxy received.
type Request struct {
	Method, Path, RawQuery string
	Fault                  Fault
}

// Proxy is the fault-injecting proxy. Its URL replaces the server's scheme
// and host; paths are kept.
type Proxy struct {
	*httptest.Server
	// SlowFor is how long Slow holds an answer (default 2.5s).
	SlowFor time.Duration

	rp *httputil.ReverseProxy

	mu     sync.Mutex
	plan   map[string][]Fault // "METHOD /path-prefix" -> faults in order
	sticky map[string]bool    // the last fault repeats
	seen   []Request
}

// New starts a proxy in front of backend (any URL of the server: only its
// scheme and host are used); it is closed when the test ends.
func New(t testing.TB, backend string) *Proxy {
	t.Helper()
	u, err := url.Parse(backend)
	if err != nil || u.Host == "" {
		t.Fatalf("faultproxy: bad backend URL %q", backend)
	}
	p := &Proxy{SlowFor: 2500 * time.Millisecond, plan: map[string][]Fault{}, sticky: map[string]bool{}}
	p.rp = httputil.NewSingleHostReverseProxy(&url.URL{Scheme: u.Scheme, Host: u.Host})
	p.rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		http.Error(w, "faultproxy: "+err.Error(), http.StatusBadGateway)
	}
	p.Server = httptest.NewServer(p)
	t.Cleanup(p.Close)
	return p
}

// SetModifyResponse edits forwarded answers (e.g. to rewrite a link the
// way another server would write it).
func (p *Proxy) SetModifyResponse(f func(*http.Response) error) { p.rp.ModifyResponse = f }

// Plan replaces the plan: requests whose method is as given and whose path
// starts with the prefix of route ("POST /v2/jobs") meet faults in order,
// then pass; with sticky the last fault repeats for ever. Plan(route,
// false) clears it.
func (p *Proxy) Plan(route string, sticky bool, faults ...Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.plan, p.sticky = map[string][]Fault{route: faults}, map[string]bool{route: sticky}
}

// Seen returns the requests received so far.
func (p *Proxy) Seen() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.seen...)
}

// Count is how many requests with this method and path prefix came in
// ("" matches any method).
func (p *Proxy) Count(method, prefix string) int {
	n := 0
	for _, r := range p.Seen() {
		if (method == "" || r.Method == method) && strings.HasPrefix(r.Path, prefix) {
			n++
		}
	}
	return n
}

// Forget clears the record of requests.
func (p *Proxy) Forget() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen = nil
}

func (p *Proxy) next(r *http.Request) Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := Pass
	for route, q := range p.plan {
		m, prefix, _ := strings.Cut(route, " ")
		if r.Method != m || !strings.HasPrefix(r.URL.Path, prefix) || len(q) == 0 {
			continue
		}
		f = q[0]
		if len(q) > 1 || !p.sticky[route] {
			p.plan[route] = q[1:]
		}
		break
	}
	p.seen = append(p.seen, Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Fault: f})
	return f
}

const badGatewayPage = "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"

// ServeHTTP applies the next fault of the plan.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch f := p.next(r); f {
	case Pass:
		p.rp.ServeHTTP(w, r)
	case ResetBefore:
		reset(w)
	case TooMany:
		w.Header().Set("Retry-After", "1")
		w.Header().Set("X-Ratelimit-Limit", "500")
		w.Header().Set("X-Ratelimit-Remaining", "0")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte(`{"message":"Too Many Attempts.","code":"TOO_MANY_REQUESTS"}`))
	case BadGateway:
		badGateway(w)
	default:
		rec := httptest.NewRecorder()
		p.rp.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		switch f {
		case ResetAfter:
			reset(w)
		case BadGatewayAfter:
			badGateway(w)
		case Slow:
			select {
			case <-time.After(p.SlowFor):
			case <-r.Context().Done():
				return
			}
			copyHeader(w, rec)
			w.WriteHeader(rec.Code)
			w.Write(body)
		case Truncated:
			copyHeader(w, rec)
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(rec.Code)
			w.Write(body[:len(body)/2])
			w.(http.Flusher).Flush()
			reset(w)
		case TruncatedJSON:
			copyHeader(w, rec)
			w.Header().Set("Content-Length", strconv.Itoa(len(body)/2))
			w.WriteHeader(rec.Code)
			w.Write(body[:len(body)/2])
		}
	}
}

func badGateway(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(http.StatusBadGateway)
	w.Write([]byte(badGatewayPage))
}

// reset closes the client's connection with an RST, not a FIN.
func reset(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

func copyHeader(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
}
