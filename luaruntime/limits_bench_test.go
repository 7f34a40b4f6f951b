package luaruntime

import (
	"context"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"github.com/cctoolkit/cloudconvert/internal/benchpair"
)

// BenchmarkExecute runs ordinary scripts through Execute (a fresh state,
// the bridge, the limits: the per-instruction hook, the checked `..`, the
// replaced string library, the memory meter) against the floor, side
// "gopher": the same script in a fresh bare gopher-lua state with
// gopher-lua's own base, table, string and math libraries (the ones a
// sandbox keeps) and the runtime's state options (stack and registry
// sizes), compiled and run with DoString. The floor does the same
// work without any of the sandbox, so execute/gopher is what the sandbox
// costs on ordinary code. Each script runs both in turn in every iteration
// (benchpair).
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
			execute := func() {
				if res := rt.Execute(context.Background(), s.code); res.Error != nil {
					b.Fatal(res.Error)
				}
			}
			gopher := func() {
				L := lua.NewState(lua.Options{SkipOpenLibs: true, CallStackSize: rt.lim.CallStackSize, RegistrySize: 1024 * 4,
					RegistryMaxSize: rt.lim.RegistryMaxSize, MinimizeStackMemory: true})
				defer L.Close()
				OpenSafeLibs(L)
				if err := L.DoString(s.code); err != nil {
					b.Fatal(err)
				}
			}
			benchpair.Run(b, benchpair.Side{Name: "gopher", Run: gopher}, benchpair.Side{Name: "execute", Run: execute})
		})
	}
}
