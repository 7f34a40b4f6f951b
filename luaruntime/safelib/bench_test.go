package safelib

import (
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// benchText is ordinary text, 1 KiB.
var benchText = strings.Repeat("The quick brown fox jumps over the lazy dog; key=value, n = 42.\n", 16)

// BenchmarkStringFunctions compares the replacements (impl=safelib) with
// gopher-lua's originals (impl=gopher) on the same ordinary inputs: each
// op is one call of a Lua function f(s) doing the work.
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
		b.Run(c.name+"/impl=safelib", func(b *testing.B) {
			L, lib := newSafe(b, Env{})
			fn, err := lib.Load(L, c.def, "<bench>")
			if err != nil {
				b.Fatal(err)
			}
			if err := lib.PCall(L, fn); err != nil {
				b.Fatal(err)
			}
			benchCall(b, L)
		})
		b.Run(c.name+"/impl=gopher", func(b *testing.B) {
			L := lua.NewState()
			defer L.Close()
			if err := L.DoString(c.def); err != nil {
				b.Fatal(err)
			}
			benchCall(b, L)
		})
	}
}

func benchCall(b *testing.B, L *lua.LState) {
	f := L.GetGlobal("f")
	arg := lua.LString(benchText)
	L.SetTop(0)
	for b.Loop() {
		L.Push(f)
		L.Push(arg)
		L.Call(1, lua.MultRet)
		L.SetTop(0)
	}
}
