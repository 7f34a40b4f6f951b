package mcpserver

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func TestCheckLoopback(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
		want string // in the error
	}{
		{"127.0.0.1:8931", true, ""},
		{"127.0.0.2:0", true, ""},
		{"[::1]:8931", true, ""},
		{"localhost:8931", true, ""},
		{"LocalHost:1", true, ""},
		{":8931", false, "every network interface"},
		{"0.0.0.0:8931", false, "not a loopback address"},
		{"[::]:8931", false, "not a loopback address"},
		{"192.168.1.10:8931", false, "not a loopback address"},
		{"example.com:8931", false, "not an IP address or localhost"},
		{"127.0.0.1", false, "127.0.0.1:PORT"},
		{"127.0.0.1:", false, "no port"},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			err := CheckLoopback(tc.addr)
			if (err == nil) != tc.ok {
				t.Fatalf("CheckLoopback(%q) = %v", tc.addr, err)
			}
			if err != nil && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
		})
	}
}

// TestServeHTTP drives the server over streamable HTTP with the SDK's
// client, and checks a non-loopback address is refused.
func TestServeHTTP(t *testing.T) {
	api := newLocalAPI(t)
	srv := newServer(t, setup{base: api.APIURL()})
	if err := srv.ServeHTTP(context.Background(), "0.0.0.0:0", nil); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("non-loopback address: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	urls := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- srv.ServeHTTP(ctx, "127.0.0.1:0", func(u string) { urls <- u }) }()
	var url string
	select {
	case url = <-urls:
	case err := <-done:
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not start")
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "http-client", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tools, err := cs.ListTools(ctx, nil)
	if err != nil || len(tools.Tools) == 0 {
		t.Fatalf("list tools: %v", err)
	}
	res := call(t, cs, "cloudconvert_get_current_user", nil)
	if res.IsError || !strings.Contains(text(res), `"username": "local"`) {
		t.Errorf("call: %s", text(res))
	}
	res = call(t, cs, "cloudconvert_get_job", map[string]any{"job_id": false})
	if !res.IsError || !strings.Contains(text(res), "job_id") {
		t.Errorf("bad argument: %s", text(res))
	}
	cs.Close()

	// A browser page on another origin may not drive it.
	req, _ := http.NewRequest("POST", url, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin request: status %d", resp.StatusCode)
	}
	// Nor a rebound DNS name.
	req, _ = http.NewRequest("POST", url, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	req.Host = "attacker.example"
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 {
		t.Errorf("rebound Host: status %d", resp.StatusCode)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ServeHTTP: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not stop")
	}
}
