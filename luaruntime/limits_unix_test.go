//go:build unix

package luaruntime

import (
	"context"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestFinding3StateEndsWithLimit: when Execute returns after a limit, the
// goroutines the script ran on are gone and no CPU is used afterwards.
func TestFinding3StateEndsWithLimit(t *testing.T) {
	rt := limitsRuntime(t, Limits{Timeout: 200 * time.Millisecond})
	before := runtime.NumGoroutine()
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := rt.Execute(context.Background(), `return string.find(string.rep('a', 5000), '.-.-.-b')`)
			if res.Error == nil {
				t.Error("the script succeeded")
			}
		}()
	}
	wg.Wait()
	waitGoroutines(t, before)
	if cpu := cpuDuring(time.Second); cpu > 300*time.Millisecond {
		t.Fatalf("the process used %s of CPU in the second after the scripts stopped", cpu)
	}
}

// waitGoroutines waits (up to 10 s) for the goroutine count to fall back
// to before.
func waitGoroutines(t testing.TB, before int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines before, %d after:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cpuDuring is the CPU time the process uses in the next d.
func cpuDuring(d time.Duration) time.Duration {
	used := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	before := used()
	time.Sleep(d)
	return used() - before
}
