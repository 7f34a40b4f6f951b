package luaruntime

import (
	"context"
	"fmt"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	cloudconvert "github.com/cctoolkit/cloudconvert/generated/cloudconvert"
	"github.com/cctoolkit/cloudconvert/integration/invoke"
)

// Tests for issue 9, findings 3 (the time limit holds inside built-ins)
// and 4 (memory is bounded per script). Deadlines here only catch hangs.

// offlineInvoker is an invoker with no account: scripts that only compute
// need nothing more.
func offlineInvoker(t testing.TB) *invoke.Invoker {
	t.Helper()
	inv, err := invoke.New(invoke.Options{Integration: cloudconvert.Descriptor()})
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func limitsRuntime(t testing.TB, lim Limits) *Runtime {
	t.Helper()
	rt, err := New(Options{Invoker: offlineInvoker(t), Limits: lim})
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// runWithin executes code and fails the test when it has not returned within
// hang.
func runWithin(t testing.TB, rt *Runtime, code string, hang time.Duration) *Result {
	t.Helper()
	done := make(chan *Result, 1)
	go func() { done <- rt.Execute(context.Background(), code) }()
	select {
	case res := <-done:
		return res
	case <-time.After(hang):
		t.Fatalf("the script was still running after %s: %.80s", hang, code)
		return nil
	}
}

func wantError(t testing.TB, res *Result, kind, text string) {
	t.Helper()
	if res.Error == nil {
		t.Fatalf("the script succeeded (%v), want a %s error", res.Values, kind)
	}
	fields := ErrorFields(res.Error)
	if fields["kind"] != kind || !strings.Contains(res.Error.Error(), text) {
		t.Fatalf("error %v (kind %v), want kind %s containing %q", res.Error, fields["kind"], kind, text)
	}
}

// peakHeap runs fn and returns by how much the live Go heap grew at most
// while it ran, sampled every millisecond.
func peakHeap(fn func()) int64 {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() int64 {
		metrics.Read(sample)
		return int64(sample[0].Value.Uint64())
	}
	base := read()
	var peak int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			if n := read(); n > peak {
				peak = n
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	fn()
	close(stop)
	wg.Wait()
	if n := read(); n > peak {
		peak = n
	}
	return peak - base
}

// TestFinding3StringFindTimeLimit: gopher-lua's matcher never looked at
// the context, so this find ran for hours under a 2 s limit.
func TestFinding3StringFindTimeLimit(t *testing.T) {
	rt := limitsRuntime(t, Limits{Timeout: 300 * time.Millisecond})
	start := time.Now()
	res := runWithin(t, rt, `return string.find(string.rep('a', 5000), '.-.-.-b')`, 20*time.Second)
	wantError(t, res, "timeout", "time limit of 300ms exceeded")
	t.Logf("stopped after %s", time.Since(start))
}

// TestFinding3BuiltinsStopAtTimeLimit: every long-running built-in stops
// at the time limit with a timeout error, never a late success.
func TestFinding3BuiltinsStopAtTimeLimit(t *testing.T) {
	scripts := []struct{ name, code string }{
		{"gsub on 200k characters", `return string.gsub(string.rep('a', 200000), '.-b', '')`},
		{"gsub n=400", `return string.gsub(string.rep('a', 400), '.-.-.-.-b', 'x')`},
		{"match", `return string.match(string.rep('a', 5000), '(.-)(.-)(.-)b')`},
		{"method call", `return ("a"):rep(5000):find('.-.-.-b')`},
		{"gmatch", `local n = 0 for w in string.gmatch(string.rep('a', 5000), '.-.-.-b') do n = n + 1 end return n`},
		{"find anchored", `return string.find(string.rep('a', 3000), '^.-.-.-.-c$')`},
		{"pcall cannot catch it", `local ok, err = pcall(string.find, string.rep('a', 5000), '.-.-.-b') return ok, err`},
		{"xpcall cannot catch it", `return xpcall(function() return string.find(string.rep('a', 5000), '.-.-.-b') end, function(e) return e end)`},
		{"loop around pcall", `while true do pcall(string.gsub, string.rep('a', 3000), '.-.-b', '') end`},
		{"table.sort", `local t = {} for i = 1, 300000 do t[i] = (i * 7919) % 300007 end for i = 1, 1000 do table.sort(t, function(a, b) return a > b end) table.sort(t) end`},
	}
	rt := limitsRuntime(t, Limits{Timeout: 300 * time.Millisecond})
	for _, s := range scripts {
		t.Run(s.name, func(t *testing.T) {
			res := runWithin(t, rt, s.code, 20*time.Second)
			wantError(t, res, "timeout", "time limit of 300ms exceeded")
		})
	}
}

// TestFinding4TailRecursionMemory: after the time limit fired in a long
// tail-recursive loop, gopher-lua built a traceback line per tail call
// (20 GB RSS). Neither the time limit nor the depth limit may cost
// memory.
func TestFinding4TailRecursionMemory(t *testing.T) {
	const code = `local function f(n) return f(n + 1) end return f(1)`
	t.Run("depth limit", func(t *testing.T) {
		rt := limitsRuntime(t, Limits{Timeout: 30 * time.Second})
		var res *Result
		grew := peakHeap(func() { res = runWithin(t, rt, code, 30*time.Second) })
		wantError(t, res, "limit", "nested more than 200000 levels deep, counting tail calls (Limits.MaxCallDepth)")
		if grew > 64<<20 {
			t.Fatalf("the heap grew by %d MiB", grew>>20)
		}
	})
	t.Run("time limit", func(t *testing.T) {
		rt := limitsRuntime(t, Limits{Timeout: 2 * time.Second, MaxCallDepth: 1 << 40})
		var res *Result
		grew := peakHeap(func() { res = runWithin(t, rt, code, 30*time.Second) })
		wantError(t, res, "timeout", "time limit of 2s exceeded")
		if grew > 64<<20 {
			t.Fatalf("the heap grew by %d MiB", grew>>20)
		}
	})
	t.Run("caught by pcall", func(t *testing.T) {
		rt := limitsRuntime(t, Limits{Timeout: 30 * time.Second})
		var res *Result
		grew := peakHeap(func() {
			res = runWithin(t, rt, `local function g(n) if n == 0 then error("deep") end return g(n - 1) end
				local caught = 0
				for i = 1, 20 do if not pcall(g, 150000) then caught = caught + 1 end end
				return caught`, 60*time.Second)
		})
		if res.Error != nil || len(res.Values) != 1 || res.Values[0] != int64(20) {
			t.Fatalf("%v %v", res.Values, res.Error)
		}
		if grew > 64<<20 {
			t.Fatalf("the heap grew by %d MiB", grew>>20)
		}
	})
}

// TestFinding4TracebackBounded: an error with the call stack full makes
// gopher-lua build a traceback with a line per tail call of every frame;
// the depth limit bounds it.
func TestFinding4TracebackBounded(t *testing.T) {
	rt := limitsRuntime(t, Limits{Timeout: 60 * time.Second})
	var res *Result
	grew := peakHeap(func() {
		res = runWithin(t, rt, `local function deep(n) return 1 + deep(n + 1) end
			local function loop(n) if n == 0 then return deep(0) end return loop(n - 1) end
			return loop(3000000)`, 60*time.Second)
	})
	wantError(t, res, "limit", "counting tail calls")
	if grew > 64<<20 {
		t.Fatalf("the heap grew by %d MiB", grew>>20)
	}
	// Below the depth limit the traceback of a stack overflow is built,
	// and small.
	grew = peakHeap(func() {
		res = runWithin(t, rt, `local function deep(n) return 1 + deep(n + 1) end
			local function loop(n) if n == 0 then return deep(0) end return loop(n - 1) end
			return loop(150000)`, 60*time.Second)
	})
	wantError(t, res, "runtime", "stack overflow")
	if grew > 64<<20 {
		t.Fatalf("the heap grew by %d MiB", grew>>20)
	}
}

// TestFinding4ConcatOperands: one `..` with 180 operands of 16 MiB built
// a 2.9 GB string in one allocation under a 1 GiB limit.
func TestFinding4ConcatOperands(t *testing.T) {
	rt := limitsRuntime(t, Limits{Timeout: 30 * time.Second})
	code := "local s = string.rep('x', 16 * 2^20)\nreturn #(s" + strings.Repeat("..s", 179) + ")"
	var res *Result
	grew := peakHeap(func() { res = runWithin(t, rt, code, 60*time.Second) })
	wantError(t, res, "runtime", "'..' would build a string of 3019898880 bytes, more than the limit of 16777216 (Limits.MaxString)")
	if grew > 256<<20 {
		t.Fatalf("the heap grew by %d MiB", grew>>20)
	}
	// Doubling a string in a loop stops at the size limit (it was in the
	// abuse list, stopped by the process-wide memory watch).
	res = runWithin(t, rt, `local s = "x" for i = 1, 40 do s = s .. s end return #s`, 60*time.Second)
	wantError(t, res, "runtime", "'..' would build a string of 33554432 bytes")
	// Under the limit the operator works as Lua's, metamethods included.
	res = runWithin(t, rt, `local mt = {__concat = function(a, b) return "<" .. tostring(type(a)) .. "," .. tostring(type(b)) .. ">" end}
		local t = setmetatable({}, mt)
		return "a" .. 1 .. "b", t .. "x", "x" .. t, "a" .. "b" .. t .. "c" .. "d", pcall(function() return "a" .. nil end)`, 10*time.Second)
	want := []any{"a1b", "<table,string>", "<string,table>", "ab<table,string>", false, `<string>:3: cannot perform concat operation between string and nil`}
	if res.Error != nil || fmt.Sprint(res.Values) != fmt.Sprint(want) {
		t.Fatalf("got %v %v\nwant %v", res.Values, res.Error, want)
	}
}

// TestFinding4ConcurrentScripts: the memory limit is per script. Two
// scripts holding 400 MB each under a 1 GiB limit both finish (the
// former watch of the process heap stopped both), and one holding more
// than its limit is stopped while the other finishes.
func TestFinding4ConcurrentScripts(t *testing.T) {
	if testing.Short() {
		t.Skip("holds 800 MB")
	}
	rt := limitsRuntime(t, Limits{Timeout: 60 * time.Second})
	// 400 strings of 1 MiB, then a while of work so both hold their data
	// at the same time.
	const hold400 = `local t = {} for i = 1, 400 do t[i] = string.rep('x', 2^20 - 8) .. i end
		local n = 0 for i = 1, 1e7 do n = n + 1 end
		return #t`
	const hold1200 = `local t = {} for i = 1, 1200 do t[i] = string.rep('y', 2^20 - 8) .. i end return #t`
	for _, pair := range [][2]string{{hold400, hold400}, {hold400, hold1200}} {
		results := make([]*Result, 2)
		var wg sync.WaitGroup
		for i, code := range pair {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = runWithin(t, rt, code, 60*time.Second)
			}()
		}
		wg.Wait()
		if results[0].Error != nil || fmt.Sprint(results[0].Values) != "[400]" {
			t.Fatalf("the 400 MB script failed next to another: %v %v", results[0].Values, results[0].Error)
		}
		if pair[1] == hold400 {
			if results[1].Error != nil {
				t.Fatalf("the second 400 MB script failed: %v", results[1].Error)
			}
		} else {
			wantError(t, results[1], "limit", "it holds more than 1 GiB of Lua data (strings, tables, functions), the memory limit (Limits.MaxMemory)")
		}
		runtime.GC()
	}
}

// TestMemoryLimitStopsGrowth: scripts growing past their limit in each
// way a script can are stopped near it (the guarantee the process-wide
// watch gave, kept by the per-script one).
func TestMemoryLimitStopsGrowth(t *testing.T) {
	scripts := []struct{ name, code string }{
		{"table of tables", `local t = {} for i = 1, 1e8 do t[i] = {i} end`},
		{"hash of strings", `local t = {} for i = 1, 1e8 do t["k" .. i] = "value " .. i end`},
		{"string pieces", `local t = {} for i = 1, 1e8 do t[i] = string.rep("z", 100000) .. i end`},
		{"gsub growth", `local t = {} for i = 1, 1e8 do t[i] = string.gsub(string.rep("ab", 500000), "a", "aaa") end`},
		{"closures", `local t = {} for i = 1, 1e8 do local x = {i, i} t[i] = function() return x end end`},
		{"gmatch iterators", `local t = {} for i = 1, 1e8 do t[i] = string.gmatch(string.rep("g", 1e6) .. i, "g") end`},
		{"temporaries in frames", `local function f(n, ...) if n == 0 then local t = {} for i = 1, 1e8 do t[i] = i end end return f(n - 1, string.rep("q", 1e6) .. n, ...) end return (f(150))`},
	}
	const limit = 128 << 20
	rt := limitsRuntime(t, Limits{Timeout: 60 * time.Second, MaxMemory: limit})
	for _, s := range scripts {
		t.Run(s.name, func(t *testing.T) {
			var res *Result
			grew := peakHeap(func() { res = runWithin(t, rt, s.code, 90*time.Second) })
			wantError(t, res, "limit", "it holds more than 128 MiB of Lua data")
			t.Logf("heap grew by at most %d MiB", grew>>20)
			if grew > 3*limit {
				t.Fatalf("the heap grew by %d MiB under a %d MiB limit", grew>>20, limit>>20)
			}
		})
	}
}
