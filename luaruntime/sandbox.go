package luaruntime

import (
	"regexp"
	"sort"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/cctoolkit/cloudconvert/luaruntime/safelib"
)

// Base functions a script does not get: code loading, the file system,
// the collector and function environments.
var removedBase = []string{"load", "loadstring", "dofile", "loadfile", "require", "module", "collectgarbage", "getfenv", "setfenv", "newproxy", "_printregs", "_GOPHER_LUA_VERSION"}

// OpenSafeLibs opens the libraries a sandboxed state has (base, table,
// string, math) into a state made with SkipOpenLibs. It is exported for
// the benchmark that compares a runtime state with a bare one.
func OpenSafeLibs(L *lua.LState) {
	for _, lib := range []struct {
		name string
		fn   lua.LGFunction
	}{{lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}, {lua.StringLibName, lua.OpenString}, {lua.MathLibName, lua.OpenMath}} {
		L.Push(L.NewFunction(lib.fn))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
}

func (r *Runtime) newState() *lua.LState {
	L := lua.NewState(lua.Options{
		SkipOpenLibs:        true,
		CallStackSize:       r.lim.CallStackSize,
		RegistrySize:        1024 * 4,
		RegistryMaxSize:     r.lim.RegistryMaxSize,
		MinimizeStackMemory: true,
	})
	OpenSafeLibs(L)
	return L
}

// bridgeNames are the globals a script may not replace.
var bridgeNames = []string{"app", "json", "docs", "dump", "lua_list_docs", "lua_search_docs", "lua_read_doc"}

// install puts the bridge into a fresh state.
func (x *exec) install() {
	L := x.L
	g := L.G.Global
	x.globals = g
	for _, name := range removedBase {
		g.RawSetString(name, lua.LNil)
	}
	L.GetGlobal("string").(*lua.LTable).RawSetString("dump", lua.LNil)
	x.lib = safelib.Open(L, safelib.Env{Check: x.stopped, MaxString: x.r.lim.MaxString, Reserve: x.reserve})
	g.RawSetString("print", L.NewFunction(x.print))
	g.RawSetString("rawset", L.NewFunction(x.rawset(g.RawGetString("rawset").(*lua.LFunction))))

	x.installBridge()
	gmt := L.CreateTable(0, 3)
	gmt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		if v, ok := x.bridge[L.ToString(2)]; ok && L.Get(2).Type() == lua.LTString {
			L.Push(v)
			return 1
		}
		L.Push(lua.LNil)
		return 1
	}))
	gmt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		k := L.Get(2)
		if s, ok := k.(lua.LString); ok {
			if _, bridged := x.bridge[string(s)]; bridged {
				L.RaiseError("%s is provided by the host and cannot be replaced", string(s))
			}
		}
		L.RawSet(L.CheckTable(1), k, L.Get(3))
		return 0
	}))
	gmt.RawSetString("__metatable", lua.LString("locked"))
	L.SetMetatable(g, gmt)
}

func (x *exec) rawset(orig *lua.LFunction) lua.LGFunction {
	return func(L *lua.LState) int {
		if t, ok := L.Get(1).(*lua.LTable); ok && t == x.globals {
			if s, ok := L.Get(2).(lua.LString); ok {
				if _, bridged := x.bridge[string(s)]; bridged {
					L.RaiseError("%s is provided by the host and cannot be replaced (also not with rawset)", string(s))
				}
			}
		}
		if ud, ok := L.Get(1).(*lua.LUserData); ok {
			if p, ok := ud.Value.(*proxy); ok {
				L.RaiseError("%s is read-only (also for rawset)", p.path)
			}
		}
		top := L.GetTop()
		L.Push(orig)
		for i := 1; i <= top; i++ {
			L.Push(L.Get(i))
		}
		L.Call(top, 1)
		return 1
	}
}

// --- limits on string building ---

func (x *exec) checkSize(L *lua.LState, what string, n int64) {
	if n > int64(x.r.lim.MaxString) {
		L.RaiseError("%s would build a string of %d bytes, more than the limit of %d", what, n, x.r.lim.MaxString)
	}
}

// --- output ---

func (x *exec) write(L *lua.LState, s string) {
	if x.out.Len()+len(s) > x.r.lim.MaxOutput {
		rest := x.r.lim.MaxOutput - x.out.Len()
		if rest > 0 {
			x.out.WriteString(s[:rest])
		}
		L.RaiseError("output limit of %d bytes exceeded", x.r.lim.MaxOutput)
	}
	x.out.WriteString(s)
}

func (x *exec) print(L *lua.LState) int {
	top := L.GetTop()
	var b strings.Builder
	for i := 1; i <= top; i++ {
		if i > 1 {
			b.WriteByte('\t')
		}
		b.WriteString(L.ToStringMeta(L.Get(i)).String())
	}
	b.WriteByte('\n')
	x.write(L, b.String())
	return 0
}

// dump prints values readably: tables with sorted keys, nested and
// indented; cycles marked.
func (x *exec) dump(L *lua.LState) int {
	top := L.GetTop()
	if top == 0 {
		x.write(L, "nil\n")
	}
	for i := 1; i <= top; i++ {
		var b strings.Builder
		x.dumpValue(L, &b, L.Get(i), 0, map[*lua.LTable]bool{})
		b.WriteByte('\n')
		x.write(L, b.String())
	}
	return 0
}

func (x *exec) dumpValue(L *lua.LState, b *strings.Builder, v lua.LValue, depth int, seen map[*lua.LTable]bool) {
	if b.Len() > x.r.lim.MaxOutput {
		L.RaiseError("output limit of %d bytes exceeded", x.r.lim.MaxOutput)
	}
	switch v := v.(type) {
	case lua.LString:
		b.WriteString(strconv.Quote(string(v)))
	case *lua.LTable:
		if seen[v] {
			b.WriteString("<cycle>")
			return
		}
		seen[v] = true
		defer delete(seen, v)
		type kv struct {
			k   string
			v   lua.LValue
			n   float64
			isN bool
		}
		var items []kv
		v.ForEach(func(k, val lua.LValue) {
			item := kv{v: val}
			if n, ok := k.(lua.LNumber); ok {
				item.n, item.isN = float64(n), true
			} else if s, ok := k.(lua.LString); ok && identRe.MatchString(string(s)) {
				item.k = string(s)
			} else {
				item.k = "[" + dumpKey(L, k) + "]"
			}
			items = append(items, item)
		})
		if len(items) == 0 {
			b.WriteString("{}")
			return
		}
		sort.Slice(items, func(i, j int) bool {
			if items[i].isN != items[j].isN {
				return items[i].isN
			}
			if items[i].isN {
				return items[i].n < items[j].n
			}
			return items[i].k < items[j].k
		})
		ind := strings.Repeat("  ", depth+1)
		b.WriteString("{\n")
		for i, it := range items {
			b.WriteString(ind)
			if !it.isN || it.n != float64(i+1) {
				if it.isN {
					b.WriteString("[" + lua.LNumber(it.n).String() + "]")
				} else {
					b.WriteString(it.k)
				}
				b.WriteString(" = ")
			}
			x.dumpValue(L, b, it.v, depth+1, seen)
			if i < len(items)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(strings.Repeat("  ", depth) + "}")
	case *lua.LUserData:
		b.WriteString(L.ToStringMeta(v).String())
	case *lua.LFunction:
		b.WriteString("<function>")
	default:
		b.WriteString(L.ToStringMeta(v).String())
	}
}

var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func dumpKey(L *lua.LState, k lua.LValue) string {
	if s, ok := k.(lua.LString); ok {
		return strconv.Quote(string(s))
	}
	return L.ToStringMeta(k).String()
}
