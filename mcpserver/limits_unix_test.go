//go:build unix

package mcpserver

import (
	"context"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	cloudconvert "github.com/cctoolkit/cloudconvert/generated/cloudconvert"
	"github.com/cctoolkit/cloudconvert/integration/invoke"
	"github.com/cctoolkit/cloudconvert/luaruntime"
)

// TestFinding3ExecuteLuaStopsOverHTTP (issue 9, finding 3): one
// execute_lua kept `mcp --http` at 100% CPU for 16 minutes after its 30 s
// limit and after its client left. Over streamable HTTP with a real
// client, a script stuck in string.find ends at its limit, whether the
// client waits or leaves: its goroutine is gone and the process is idle.
func TestFinding3ExecuteLuaStopsOverHTTP(t *testing.T) {
	api := newLocalAPI(t)
	inv, err := invoke.New(invoke.Options{Integration: cloudconvert.Descriptor(), Accounts: testAccounts(api.URL + "/v2"), Policy: invoke.Headless(true)})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := luaruntime.New(luaruntime.Options{Invoker: inv, Limits: luaruntime.Limits{Timeout: 500 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Runtime: rt, Name: "cloudconvert-test", Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
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
	defer cs.Close()
	execute := func(ctx context.Context, code string) (*mcp.CallToolResult, error) {
		return cs.CallTool(ctx, &mcp.CallToolParams{Name: "execute_lua", Arguments: map[string]any{"code": code}})
	}
	// A first call, so the session's goroutines exist before counting.
	if res, err := execute(ctx, `return 1`); err != nil || res.IsError {
		t.Fatalf("%v %v", res, err)
	}
	const stuck = `return string.find(string.rep('a', 5000), '.-.-.-b')`

	t.Run("client waits", func(t *testing.T) {
		callCtx, stop := context.WithTimeout(ctx, 20*time.Second)
		defer stop()
		res, err := execute(callCtx, stuck)
		if err != nil {
			t.Fatalf("the call did not come back: %v", err)
		}
		if !res.IsError || !strings.Contains(text(res), "time limit of 500ms exceeded") {
			t.Fatalf("result: %s", text(res))
		}
		idle(t)
	})
	t.Run("client leaves", func(t *testing.T) {
		callCtx, stop := context.WithTimeout(ctx, 100*time.Millisecond)
		defer stop()
		if _, err := execute(callCtx, stuck); err == nil {
			t.Fatal("the call returned before the client left")
		}
		idle(t)
	})
}

// idle waits (up to 10 s) until no goroutine runs a Lua script, then
// wants the process to stay nearly idle for a second.
func idle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	buf := make([]byte, 1<<20)
	for {
		stacks := string(buf[:runtime.Stack(buf, true)])
		if !strings.Contains(stacks, "luaruntime.(*Runtime).Execute") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a script still runs 10 s after its limit:\n%s", stacks)
		}
		time.Sleep(20 * time.Millisecond)
	}
	used := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := used()
	time.Sleep(time.Second)
	if cpu := used() - start; cpu > 300*time.Millisecond {
		t.Fatalf("the server used %s of CPU in the second after the script's limit", cpu)
	}
}
