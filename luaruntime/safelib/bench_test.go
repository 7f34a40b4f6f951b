package safelib

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"github.com/cctoolkit/cloudconvert/internal/benchpair"
)

// benchText is ordinary text, 1 KiB.
var benchText = strings.Repeat("The quick brown fox jumps over the lazy dog; key=value, n = 42.\n", 16)

// BenchmarkStringFunctions compares the replacements (safelib) with
// gopher-lua's originals (gopher), the floor, on the same ordinary inputs:
// each op is one call of a Lua function f(s) doing the work, in a state of
// each kind (the safelib one with its checks on: context, string size,
// memory reserve). gopher is the floor because the replacements do the
// originals' work plus the checks that let a limit stop them; safelib/gopher
// is what the checks cost. Each case runs both in turn in every iteration
// (benchpair), so that load from other processes weighs on both alike.
func BenchmarkStringFunctions(b *testing.B) {
	cases := []struct{ name, def string }{
		{"find", `f = function(s) return string.find(s, "lazy%s+(%w+)") end`},
		{"find_plain", `f = function(s) return string.find(s, "dog;", 1, true) end`},
		{"match", `f = function(s) return string.match(s, "(%w+)%s*=%s*(%w+)") end`},
		{"match_anchored", `f = function(s) return string.match(s, "^(%a+)%s+(%a+)") end`},
		{"gmatch", `f = function(s) local n = 0 for w in string.gmatch(s, "%a+") do n = n + 1 end return n end`},
		{"gsub", `f = function(s) return string.gsub(s, "%s+", " ") end`},
		{"gsub_captures", `f = function(s) return string.gsub(s, "(%w+)=(%w+)", "%2=%1") end`},
		{"gsub_function", `f = function(s) return string.gsub(s, "%a+", string.upper) end`},
		{"rep", `f = function(s) return string.rep(s, 16) end`},
		{"format", `f = function(s) return string.format("%s: %5.2f %d", "x", 3.14159, 42) end`},
		{"table_concat", `local t = {} for i = 1, 100 do t[i] = "item" .. i end f = function(s) return table.concat(t, ",") end`},
		{"sort", `f = function(s) local t = {} for i = 1, 100 do t[i] = (i * 37) % 101 end table.sort(t) return t[1] end`},
		{"concat_op", `f = function(s) local a, b = "abc", 42 return a .. "-" .. b .. "-" .. a end`},
		{"concat_loop", `f = function(s) local r = "" for i = 1, 20 do r = r .. "x" end return r end`},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			L, lib := newSafe(b, benchEnv())
			fn, err := lib.Load(L, c.def, "<bench>")
			if err != nil {
				b.Fatal(err)
			}
			if err := lib.PCall(L, fn); err != nil {
				b.Fatal(err)
			}
			G := lua.NewState()
			defer G.Close()
			if err := G.DoString(c.def); err != nil {
				b.Fatal(err)
			}
			benchpair.Run(b, benchpair.Side{Name: "gopher", Run: caller(G)}, benchpair.Side{Name: "safelib", Run: caller(L)})
		})
	}
}

// benchEnv has the checks on as the runtime sets them: a context looked at,
// a string bound, and a reservation counted against a budget.
func benchEnv() Env {
	ctx := context.Background()
	var used atomic.Int64
	return Env{
		Check:     func() error { return ctx.Err() },
		MaxString: 16 << 20,
		Reserve: func(n int64) error {
			if used.Add(n) > 1<<50 {
				return errors.New("over budget")
			}
			return nil
		},
	}
}

// caller is one call of the global f with the benchmark's text, in L.
func caller(L *lua.LState) func() {
	f := L.GetGlobal("f")
	arg := lua.LString(benchText)
	L.SetTop(0)
	return func() {
		L.Push(f)
		L.Push(arg)
		L.Call(1, lua.MultRet)
		L.SetTop(0)
	}
}
