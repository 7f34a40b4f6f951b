package safelib

import (
	"errors"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/cctoolkit/cloudconvert/luaruntime/luapattern"
)

// compile returns the parsed pattern, raising a malformed one as Lua does.
func (lib *Lib) compile(L *lua.LState, fn, pat string, anchor bool) *luapattern.Pattern {
	key := patternKey{pat, anchor}
	if p, ok := lib.patterns[key]; ok {
		return p
	}
	p, err := luapattern.Compile(pat, anchor)
	if err != nil {
		L.RaiseError("%s: %s", fn, err.Error())
	}
	if len(pat) <= maxCachedLen {
		if len(lib.patterns) >= maxCachedPatterns {
			clear(lib.patterns)
		}
		lib.patterns[key] = p
	}
	return p
}

func (lib *Lib) matcher(p *luapattern.Pattern, s string) *luapattern.Matcher {
	return luapattern.NewMatcher(p, s, lib.env.Check)
}

// raiseMatch raises an error that stopped a match.
func (lib *Lib) raiseMatch(L *lua.LState, fn string, err error) {
	if errors.Is(err, luapattern.ErrTooComplex) {
		L.RaiseError("%s: pattern too complex (it nests more than %d items)", fn, luapattern.MaxDepth)
	}
	L.RaiseError("%s", err.Error())
}

// pushCapture pushes capture i of m (the whole match when the pattern has
// no captures and i is 0).
func pushCapture(L *lua.LState, s string, m luapattern.Match, i int) {
	if len(m.Captures) == 0 {
		L.Push(lua.LString(s[m.Start:m.End]))
		return
	}
	c := m.Captures[i]
	if c.IsPosition {
		L.Push(lua.LNumber(c.Start + 1))
		return
	}
	L.Push(lua.LString(s[c.Start:c.End]))
}

// pushCaptures pushes all captures, or the whole match when there are
// none and whole is true, and returns how many it pushed.
func pushCaptures(L *lua.LState, s string, m luapattern.Match, whole bool) int {
	n := len(m.Captures)
	if n == 0 {
		if !whole {
			return 0
		}
		n = 1
	}
	for i := 0; i < n; i++ {
		pushCapture(L, s, m, i)
	}
	return n
}

// startAt turns Lua's 1-based, possibly negative, init into a 0-based
// index in [0, len]; ok is false past the end, where nothing can match
// (as in gopher-lua and Lua 5.2; Lua 5.1 moved such an init back to the
// end).
func startAt(init, n int) (int, bool) {
	if init < 0 {
		init = n + init + 1
	}
	init--
	if init < 0 {
		return 0, true
	}
	return init, init <= n
}

func (lib *Lib) find(L *lua.LState) int { return lib.findAux(L, true) }

func (lib *Lib) match(L *lua.LState) int { return lib.findAux(L, false) }

func (lib *Lib) findAux(L *lua.LState, find bool) int {
	fn := "string.match"
	if find {
		fn = "string.find"
	}
	s := L.CheckString(1)
	pat := L.CheckString(2)
	init, ok := startAt(L.OptInt(3, 1), len(s))
	if !ok {
		L.Push(lua.LNil)
		return 1
	}
	if find && (lua.LVAsBool(L.Get(4)) || !luapattern.NeedsPattern(pat)) {
		lib.check(L)
		i := strings.Index(s[init:], pat)
		if i < 0 {
			L.Push(lua.LNil)
			return 1
		}
		L.Push(lua.LNumber(init + i + 1))
		L.Push(lua.LNumber(init + i + len(pat)))
		return 2
	}
	p := lib.compile(L, fn, pat, true)
	m, ok, err := lib.matcher(p, s).Find(init)
	if err != nil {
		lib.raiseMatch(L, fn, err)
	}
	if !ok {
		L.Push(lua.LNil)
		return 1
	}
	if find {
		L.Push(lua.LNumber(m.Start + 1))
		L.Push(lua.LNumber(m.End))
		return 2 + pushCaptures(L, s, m, false)
	}
	return pushCaptures(L, s, m, true)
}

// gmatch returns an iterator over the matches. As in Lua 5.1, ^ is not an
// anchor here, and after an empty match the next search starts one
// character further.
func (lib *Lib) gmatch(L *lua.LState) int {
	s := L.CheckString(1)
	pat := L.CheckString(2)
	p := lib.compile(L, "string.gmatch", pat, false)
	m := lib.matcher(p, s)
	pos := 0
	// The subject is also the iterator's upvalue, so a walk of the
	// state (luamem) counts it.
	L.Push(L.NewClosure(func(L *lua.LState) int {
		if pos > len(s) {
			return 0
		}
		r, ok, err := m.Find(pos)
		if err != nil {
			lib.raiseMatch(L, "string.gmatch", err)
		}
		if !ok {
			pos = len(s) + 1
			return 0
		}
		pos = r.End
		if r.End == r.Start {
			pos++
		}
		return pushCaptures(L, s, r, true)
	}, lua.LString(s)))
	return 1
}

func (lib *Lib) gsub(L *lua.LState) int {
	const fn = "string.gsub"
	s := L.CheckString(1)
	pat := L.CheckString(2)
	repl := L.Get(3)
	switch repl.Type() {
	case lua.LTNumber, lua.LTString, lua.LTTable, lua.LTFunction:
	default:
		L.ArgError(3, "string/function/table expected")
	}
	maxN := L.OptInt(4, len(s)+1)
	p := lib.compile(L, fn, pat, true)
	m := lib.matcher(p, s)
	b := &builder{lib: lib, L: L, what: fn}
	src, n := 0, 0
loop:
	for n < maxN {
		r, ok, err := m.FindAt(src)
		if err != nil {
			lib.raiseMatch(L, fn, err)
		}
		if ok {
			n++
			lib.addValue(L, b, s, r, repl)
		}
		switch {
		case ok && r.End > src:
			src = r.End
		case src < len(s):
			b.addByte(s[src])
			src++
		default:
			break loop
		}
		if p.Anchored() {
			break
		}
	}
	b.add(s[src:])
	L.Push(lua.LString(b.String()))
	L.Push(lua.LNumber(n))
	return 2
}

// addValue appends the replacement of match r.
func (lib *Lib) addValue(L *lua.LState, b *builder, s string, r luapattern.Match, repl lua.LValue) {
	var v lua.LValue
	switch repl := repl.(type) {
	case lua.LString, lua.LNumber:
		lib.addString(L, b, s, r, lua.LVAsString(repl))
		return
	case *lua.LTable:
		pushCapture(L, s, r, 0)
		key := L.Get(-1)
		L.Pop(1)
		v = L.GetTable(repl, key)
	case *lua.LFunction:
		L.Push(repl)
		n := pushCaptures(L, s, r, true)
		L.Call(n, 1)
		v = L.Get(-1)
		L.Pop(1)
	}
	switch v := v.(type) {
	case *lua.LNilType:
		b.add(s[r.Start:r.End])
	case lua.LBool:
		if !v {
			b.add(s[r.Start:r.End])
			return
		}
		L.RaiseError("string.gsub: invalid replacement value (a %s)", typeName(v))
	case lua.LString, lua.LNumber:
		b.add(lua.LVAsString(v))
	default:
		L.RaiseError("string.gsub: invalid replacement value (a %s)", typeName(v))
	}
}

// addString appends a replacement string: %0 is the whole match, %1-%9
// the captures, %% a percent sign; as in Lua 5.1 a % before any other
// character stands for that character.
func (lib *Lib) addString(L *lua.LState, b *builder, s string, r luapattern.Match, repl string) {
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		if c != '%' {
			b.addByte(c)
			continue
		}
		i++
		if i == len(repl) {
			b.addByte('%')
			return
		}
		c = repl[i]
		switch {
		case c == '0':
			b.add(s[r.Start:r.End])
		case c >= '1' && c <= '9':
			k := int(c - '1')
			if k >= len(r.Captures) && !(k == 0 && len(r.Captures) == 0) {
				L.RaiseError("string.gsub: invalid capture index %%%c in the replacement string", c)
			}
			if len(r.Captures) == 0 {
				b.add(s[r.Start:r.End])
				continue
			}
			cp := r.Captures[k]
			if cp.IsPosition {
				b.add(lua.LNumber(cp.Start + 1).String())
			} else {
				b.add(s[cp.Start:cp.End])
			}
		default:
			b.addByte(c)
		}
	}
}
