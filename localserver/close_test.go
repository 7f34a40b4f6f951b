package localserver

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"testing"
	"time"
)

// TestCloseDoesNotWaitForFreshConnections: a connection that never sent a
// request (Go's HTTP client dials spares it may not use) is closed by
// Close at once; http.Server.Shutdown alone would wait 5 s for it. The
// read deadline only tells "closed by the server" from "left open".
func TestCloseDoesNotWaitForFreshConnections(t *testing.T) {
	s, err := Start(context.Background(), Config{DataDir: t.TempDir(), APIKey: testKey, Engines: registry(), Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	conn, err := net.Dial("tcp", s.listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The server has accepted it once it answers on a connection dialed
	// after it (the accept queue is first in, first out).
	if resp, err := http.Get(s.APIURL() + "/users/me"); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	conn.SetReadDeadline(time.Now().Add(4 * time.Second))
	var buf [1]byte
	_, err = conn.Read(buf[:])
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("the server left a connection without a request open while closing")
	}
	if err := <-closed; err != nil {
		t.Errorf("close: %v", err)
	}
}
