package luaruntime

import (
	"context"
	"testing"
)

// BenchmarkExecute runs ordinary scripts through Execute, to compare the
// cost of the limits (the per-instruction hook, the checked `..`, the
// replaced library) with a build without them.
func BenchmarkExecute(b *testing.B) {
	scripts := []struct{ name, code string }{
		{"arith_loop", `local n = 0 for i = 1, 100000 do n = n + i % 7 end return n`},
		{"tables", `local t = {} for i = 1, 20000 do t[i] = {id = i, name = "n"} end return #t`},
		{"strings", `local parts = {} for i = 1, 5000 do parts[#parts + 1] = "line " .. i .. ": " .. string.format("%05d", i) end return #table.concat(parts, "\n")`},
		{"patterns", `local n = 0 for i = 1, 2000 do local k, v = string.match("key" .. i .. " = value" .. i, "(%w+)%s*=%s*(%w+)") if k then n = n + #v end end return n`},
		{"calls", `local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end return fib(20)`},
	}
	rt, err := New(Options{Invoker: offlineInvoker(b)})
	if err != nil {
		b.Fatal(err)
	}
	for _, s := range scripts {
		b.Run(s.name, func(b *testing.B) {
			for b.Loop() {
				if res := rt.Execute(context.Background(), s.code); res.Error != nil {
					b.Fatal(res.Error)
				}
			}
		})
	}
}
