package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// TestFinding7CaptureProxyDialsThroughTheGuard: the browser of
// capture-website reaches the network only through a proxy whose every
// connection (plain requests and CONNECT tunnels) is made with the
// request's dial function, so a refused address stays refused for the page,
// its redirects and its subresources.
func TestFinding7CaptureProxyDialsThroughTheGuard(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "public") }))
	defer ok.Close()
	okTLS := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "public tls") }))
	defer okTLS.Close()
	// The "private" target listens on another loopback address.
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no 127.0.0.2: %v", err)
	}
	private := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the private target was reached: %s", r.URL)
	})}}
	private.Start()
	defer private.Close()

	var mu sync.Mutex
	var dials []string
	refused := errors.New("127.0.0.2 is refused")
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		dials = append(dials, addr)
		mu.Unlock()
		if strings.HasPrefix(addr, "127.0.0.2:") {
			return nil, refused
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	p, err := startProxy(dial, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	pu, _ := url.Parse(p.URL())
	c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu), TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	get := func(u string) (int, string, error) {
		resp, err := c.Get(u)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	for _, tc := range []struct {
		url    string
		status int
		body   string
	}{
		{ok.URL + "/page", 200, "public"},
		{okTLS.URL + "/page", 200, "public tls"},
		{private.URL + "/secret", 502, "refused"},
		{"https://" + private.Listener.Addr().String() + "/secret", 0, ""},
	} {
		status, body, err := get(tc.url)
		if tc.status == 0 {
			if err == nil {
				t.Errorf("%s: tunnel to a refused address answered %d", tc.url, status)
			}
			continue
		}
		if err != nil || status != tc.status || !strings.Contains(body, tc.body) {
			t.Errorf("%s: %d %q %v", tc.url, status, body, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(dials) < 4 {
		t.Errorf("dials %v: not every connection went through the dial function", dials)
	}
}
