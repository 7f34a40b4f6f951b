package safelib

import (
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// concatValues is the `..` operator (see Compile): it joins its
// arguments from the right as Lua 5.1 does, strings and numbers in one
// go, others through a __concat metamethod, and checks the size of every
// string before building it.
func (lib *Lib) concatValues(L *lua.LState) int {
	n := L.GetTop()
	if n == 0 {
		L.Push(lua.LString(""))
		return 1
	}
	rhs := L.Get(n)
	for i := n - 1; i >= 1; {
		lhs := L.Get(i)
		if !lua.LVCanConvToString(lhs) || !lua.LVCanConvToString(rhs) {
			mm := L.GetMetaField(lhs, "__concat")
			if mm == lua.LNil {
				mm = L.GetMetaField(rhs, "__concat")
			}
			if mm.Type() != lua.LTFunction {
				L.RaiseError("cannot perform concat operation between %v and %v", typeName(lhs), typeName(rhs))
			}
			L.Push(mm)
			L.Push(lhs)
			L.Push(rhs)
			L.Call(2, 1)
			rhs = L.Get(-1)
			L.Pop(1)
			i--
			continue
		}
		// The longest run of strings and numbers ending at i, joined
		// with rhs.
		j := i
		for j > 1 && lua.LVCanConvToString(L.Get(j-1)) {
			j--
		}
		last := lua.LVAsString(rhs)
		total := int64(len(last))
		for k := j; k <= i; k++ {
			total += int64(len(lua.LVAsString(L.Get(k))))
		}
		lib.reserve(L, "'..'", total)
		var b strings.Builder
		b.Grow(int(total))
		for k := j; k <= i; k++ {
			b.WriteString(lua.LVAsString(L.Get(k)))
		}
		b.WriteString(last)
		rhs = lua.LString(b.String())
		i = j - 1
	}
	L.Push(rhs)
	return 1
}

func (lib *Lib) rep(L *lua.LState) int {
	s := L.CheckString(1)
	n := L.CheckInt(2)
	sep := L.OptString(3, "")
	if n <= 0 {
		L.Push(lua.LString(""))
		return 1
	}
	lib.reserve(L, "string.rep", int64(len(s))*int64(n)+int64(len(sep))*int64(n-1))
	if sep == "" {
		L.Push(lua.LString(strings.Repeat(s, n)))
		return 1
	}
	var b strings.Builder
	b.Grow(len(s)*n + len(sep)*(n-1))
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(s)
	}
	L.Push(lua.LString(b.String()))
	return 1
}

// format wraps gopher-lua's string.format: widths and precisions have at
// most two digits, as in Lua, and the result's size is bounded before it
// is built (%q may quote every byte as four).
func (lib *Lib) format(orig lua.LValue) lua.LGFunction {
	return func(L *lua.LState) int {
		f := L.CheckString(1)
		quoted := false
		for i := 0; i < len(f); i++ {
			if f[i] != '%' {
				continue
			}
			i++
			for i < len(f) && strings.IndexByte("-+ #0", f[i]) >= 0 {
				i++
			}
			width := 0
			for ; i < len(f) && f[i] >= '0' && f[i] <= '9'; i++ {
				width++
			}
			precision := 0
			if i < len(f) && f[i] == '.' {
				for i++; i < len(f) && f[i] >= '0' && f[i] <= '9'; i++ {
					precision++
				}
			}
			if width > 2 || precision > 2 {
				L.RaiseError("string.format: invalid format (width or precision too long)")
			}
			if i < len(f) && f[i] == 'q' {
				quoted = true
			}
		}
		top := L.GetTop()
		total := int64(len(f))
		for i := 2; i <= top; i++ {
			switch v := L.Get(i).(type) {
			case lua.LString:
				if quoted {
					total += 4*int64(len(v)) + 2
				} else {
					total += int64(len(v))
				}
			default:
				total += 100 + 24 // a number padded to the widest width, or a short value
			}
		}
		lib.reserve(L, "string.format", total)
		L.Push(orig)
		for i := 1; i <= top; i++ {
			L.Push(L.Get(i))
		}
		L.Call(top, 1)
		return 1
	}
}

func (lib *Lib) tableConcat(L *lua.LState) int {
	t := L.CheckTable(1)
	sep := L.OptString(2, "")
	i := L.OptInt(3, 1)
	j := L.OptInt(4, t.Len())
	if j-i > lib.env.MaxString {
		lib.reserve(L, "table.concat", int64(j-i))
	}
	var total int64
	for k := i; k <= j; k++ {
		if (k-i)&0xffff == 0xffff {
			lib.check(L)
		}
		switch v := t.RawGetInt(k).(type) {
		case lua.LString:
			total += int64(len(v))
		case lua.LNumber:
			total += int64(len(v.String()))
		default:
			L.RaiseError("table.concat: invalid value (at index %d) in table for 'concat'", k)
		}
		if k > i {
			total += int64(len(sep))
		}
		if total > int64(lib.env.MaxString) {
			lib.reserve(L, "table.concat", total)
		}
	}
	lib.reserve(L, "table.concat", total)
	var b strings.Builder
	b.Grow(int(total))
	for k := i; k <= j; k++ {
		if k > i {
			b.WriteString(sep)
		}
		b.WriteString(lua.LVAsString(t.RawGetInt(k)))
	}
	L.Push(lua.LString(b.String()))
	return 1
}
