package engine

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// DialFunc opens a network connection; see Request.Dial.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// guardedProxy is a forward HTTP proxy on loopback whose every upstream
// connection is opened with one dial function. A browser pointed at it
// reaches the network only as that function allows, for the page, its
// redirects and every subresource alike: checking the first URL alone
// would leave the rest open.
type guardedProxy struct {
	ln   net.Listener
	srv  *http.Server
	dial DialFunc
	tr   *http.Transport
	page []byte // served as http://inputHost/ (HTML conversion); nil: none

	mu    sync.Mutex
	conns map[net.Conn]bool // tunnels, closed with the proxy
	wg    sync.WaitGroup
}

// inputHost is the name under which the proxy serves the HTML document
// being converted. Serving it over http, rather than opening a file://
// URL, keeps the page from reading the server's files: Chromium lets a
// file:// page embed other local files, and an http page none. The
// reserved .invalid name is never resolved: the browser hands every
// request to the proxy.
const inputHost = "cloudconvert-input.invalid"

// startProxy starts the proxy; page, when not nil, is served at
// http://inputHost/ (any path but the root answers 404).
func startProxy(dial DialFunc, page []byte) (*guardedProxy, error) {
	if dial == nil {
		dial = (&net.Dialer{Timeout: 30 * time.Second}).DialContext
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	p := &guardedProxy{ln: ln, dial: dial, page: page, conns: map[net.Conn]bool{},
		tr: &http.Transport{DialContext: dial, Proxy: nil, ResponseHeaderTimeout: time.Minute, IdleConnTimeout: 10 * time.Second}}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.srv.Serve(ln)
	}()
	return p, nil
}

// URL is the proxy's address for --proxy-server.
func (p *guardedProxy) URL() string { return "http://" + p.ln.Addr().String() }

// Close stops the proxy and every tunnel through it.
func (p *guardedProxy) Close() {
	p.srv.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.tr.CloseIdleConnections()
	p.wg.Wait()
}

func (p *guardedProxy) track(c net.Conn, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on {
		p.conns[c] = true
	} else {
		delete(p.conns, c)
	}
}

func (p *guardedProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.page != nil && strings.EqualFold(r.URL.Hostname(), inputHost) {
		if r.Method == http.MethodConnect || r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(p.page)
		return
	}
	if r.Method == http.MethodConnect {
		p.tunnel(w, r)
		return
	}
	if !r.URL.IsAbs() || (r.URL.Scheme != "http" && r.URL.Scheme != "https") {
		http.Error(w, "this proxy forwards absolute http URLs only", http.StatusBadRequest)
		return
	}
	out := r.Clone(r.Context())
	out.RequestURI = ""
	for _, h := range []string{"Proxy-Connection", "Proxy-Authorization", "Connection", "Keep-Alive", "Te", "Trailer", "Upgrade"} {
		out.Header.Del(h)
	}
	resp, err := p.tr.RoundTrip(out)
	if err != nil {
		http.Error(w, "refused or unreachable: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

// tunnel serves CONNECT (https): dial the target, then copy both ways.
func (p *guardedProxy) tunnel(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	up, err := p.dial(ctx, "tcp", r.Host)
	cancel()
	if err != nil {
		http.Error(w, "refused or unreachable: "+err.Error(), http.StatusBadGateway)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		up.Close()
		http.Error(w, "no tunnel support", http.StatusInternalServerError)
		return
	}
	down, _, err := hj.Hijack()
	if err != nil {
		up.Close()
		return
	}
	p.track(up, true)
	p.track(down, true)
	defer func() {
		up.Close()
		down.Close()
		p.track(up, false)
		p.track(down, false)
	}()
	if _, err := io.WriteString(down, "HTTP/1.1 200 Connection Established\r\n\r\n"); err != nil {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(up, down)
		up.Close()
	}()
	io.Copy(down, up)
	down.Close() // ends the other direction too
	<-done
}
