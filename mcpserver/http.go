package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// HTTPPath is where ServeHTTP answers MCP requests.
const HTTPPath = "/mcp"

// CheckLoopback accepts a listen address only when its host is a loopback
// address (127.0.0.0/8, ::1) or "localhost": the server has no
// authentication, so it must not be reachable from other machines.
func CheckLoopback(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %v (write it as 127.0.0.1:PORT)", addr, err)
	}
	if port == "" {
		return fmt.Errorf("listen address %q has no port (write it as 127.0.0.1:PORT)", addr)
	}
	if host == "" {
		return fmt.Errorf("refusing to serve MCP on %q: an empty host listens on every network interface; the MCP server has no authentication, so it only listens on a loopback address (127.0.0.1:%s, [::1]:%s or localhost:%s)", addr, port, port, port)
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	ip := net.ParseIP(strings.Split(host, "%")[0])
	if ip == nil {
		return fmt.Errorf("refusing to serve MCP on %q: %q is not an IP address or localhost; the MCP server has no authentication, so it only listens on a loopback address (127.0.0.1:%s, [::1]:%s or localhost:%s)", addr, host, port, port, port)
	}
	if !ip.IsLoopback() {
		return fmt.Errorf("refusing to serve MCP on %q: %s is not a loopback address; the MCP server has no authentication, so it only listens on a loopback address (127.0.0.1:%s, [::1]:%s or localhost:%s)", addr, host, port, port, port)
	}
	return nil
}

// HTTPHandler serves MCP's streamable HTTP transport (all paths). The
// SDK's DNS-rebinding protection is on (a request to a loopback listener
// must name a loopback Host), and cross-origin browser requests are
// refused.
func (s *Server) HTTPHandler() http.Handler {
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s.mcp }, &mcp.StreamableHTTPOptions{Logger: s.opts.Logger})
	return http.NewCrossOriginProtection().Handler(h)
}

// ServeHTTP listens on addr, which must pass CheckLoopback, and serves
// streamable HTTP at HTTPPath until ctx is done. ready, when not nil, is
// called with the URL once the server listens (useful with port 0).
func (s *Server) ServeHTTP(ctx context.Context, addr string, ready func(url string)) error {
	if err := CheckLoopback(addr); err != nil {
		return err
	}
	defer s.stopParked()
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	// "localhost" could resolve to anything: check what was bound.
	if tcp, ok := ln.Addr().(*net.TCPAddr); !ok || !tcp.IP.IsLoopback() {
		ln.Close()
		return fmt.Errorf("refusing to serve MCP on %s: %s is not a loopback address", addr, ln.Addr())
	}
	mux := http.NewServeMux()
	mux.Handle(HTTPPath, s.HTTPHandler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	if ready != nil {
		ready("http://" + ln.Addr().String() + HTTPPath)
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := srv.Shutdown(sctx)
		if err == nil || errors.Is(err, context.DeadlineExceeded) {
			srv.Close()
			<-done
			return nil
		}
		return err
	}
}
