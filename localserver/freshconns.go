package localserver

import (
	"net"
	"net/http"
	"sync"
)

// freshConns tracks the connections that have not begun a request
// (http.StateNew). http.Server.Shutdown counts them as busy for their first
// 5 s, and Go's HTTP client often dials a spare connection that it then
// leaves unused, so without closing them a server's Close took 5 s in
// half of the test runs. A connection that never sent a request loses
// nothing when it is closed.
type freshConns struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// track is the http.Server's ConnState hook.
func (f *freshConns) track(c net.Conn, state http.ConnState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if state == http.StateNew {
		if f.conns == nil {
			f.conns = map[net.Conn]struct{}{}
		}
		f.conns[c] = struct{}{}
		return
	}
	delete(f.conns, c)
}

// closeAll closes the connections that have not begun a request.
func (f *freshConns) closeAll() {
	for _, c := range f.snapshot() {
		_ = c.Close()
	}
}

func (f *freshConns) snapshot() []net.Conn {
	f.mu.Lock()
	defer f.mu.Unlock()
	conns := make([]net.Conn, 0, len(f.conns))
	for c := range f.conns {
		conns = append(conns, c)
	}
	return conns
}
