package luaruntime

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/cctoolkit/cloudconvert/internal/suggest"
	"github.com/cctoolkit/cloudconvert/luaruntime/bind"
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

	x.arrayMT = L.CreateTable(0, 2)
	x.arrayMT.RawSetString("__jsontype", lua.LString("array"))
	x.arrayMT.RawSetString("__metatable", lua.LString("json array"))
	x.errMT = L.CreateTable(0, 6)
	x.errMT.RawSetString("__index", L.NewFunction(x.errIndex))
	x.errMT.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("error values are read-only")
		return 0
	}))
	x.errMT.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(errOf(L.Get(1)).Error()))
		return 1
	}))
	x.errMT.RawSetString("__concat", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(L.ToStringMeta(L.Get(1)).String() + L.ToStringMeta(L.Get(2)).String()))
		return 1
	}))
	x.errMT.RawSetString("__metatable", lua.LString("locked"))
	x.proxyMT = L.CreateTable(0, 4)
	x.proxyMT.RawSetString("__index", L.NewFunction(x.proxyIndex))
	x.proxyMT.RawSetString("__newindex", L.NewFunction(x.proxyNewIndex))
	x.proxyMT.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(L.CheckUserData(1).Value.(*proxy).path))
		return 1
	}))
	x.proxyMT.RawSetString("__metatable", lua.LString("locked"))
	x.fnCache = map[string]*lua.LFunction{}

	jsonT := L.CreateTable(0, 2)
	jsonT.RawSetString("encode", L.NewFunction(x.jsonEncode))
	jsonT.RawSetString("decode", L.NewFunction(x.jsonDecode))
	docsT := L.CreateTable(0, 3)
	docsT.RawSetString("list", L.NewFunction(x.docsList))
	docsT.RawSetString("search", L.NewFunction(x.docsSearch))
	docsT.RawSetString("read", L.NewFunction(x.docsRead))
	x.bridge = map[string]lua.LValue{
		"app":             x.newProxy(&proxy{kind: proxyApp, path: "app"}),
		"json":            x.readOnly("json", jsonT),
		"docs":            x.readOnly("docs", docsT),
		"dump":            L.NewFunction(x.dump),
		"lua_list_docs":   L.NewFunction(x.luaListDocs),
		"lua_search_docs": L.NewFunction(x.luaSearchDocs),
		"lua_read_doc":    L.NewFunction(x.luaReadDoc),
	}
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

// readOnly wraps a table of functions in a proxy.
func (x *exec) readOnly(path string, t *lua.LTable) lua.LValue {
	return x.newProxy(&proxy{kind: proxyTable, path: path, table: t})
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

// --- json ---

func (x *exec) jsonEncode(L *lua.LState) int {
	b, err := bind.EncodeJSON(L.Get(1), "json.encode")
	if err != nil {
		L.RaiseError("%s", err.Error())
	}
	x.checkSize(L, "json.encode", int64(len(b)))
	L.Push(lua.LString(b))
	return 1
}

func (x *exec) jsonDecode(L *lua.LState) int {
	s := L.CheckString(1)
	d := bind.Decoder{L: L, ArrayMeta: x.arrayMT}
	v, err := d.Decode([]byte(s), nil)
	if err != nil {
		L.RaiseError("json.decode: %s", err.Error())
	}
	L.Push(v)
	return 1
}

// --- errors as Lua values ---

func errOf(v lua.LValue) *bind.Error {
	if ud, ok := v.(*lua.LUserData); ok {
		if e, ok := ud.Value.(*bind.Error); ok {
			return e
		}
	}
	return &bind.Error{Message: "not an error value"}
}

func (x *exec) raise(L *lua.LState, e *bind.Error) {
	c := *e
	c.Message = x.r.Redact(c.Message)
	ud := L.NewUserData()
	ud.Value = &c
	ud.Metatable = x.errMT
	L.Error(ud, 0)
}

func (x *exec) errIndex(L *lua.LState) int {
	e := errOf(L.Get(1))
	switch L.CheckString(2) {
	case "kind":
		L.Push(lua.LString(e.Kind))
	case "function":
		L.Push(lua.LString(e.Function))
	case "param":
		pushOpt(L, e.Param)
	case "status":
		if e.Status == 0 {
			L.Push(lua.LNil)
		} else {
			L.Push(lua.LNumber(e.Status))
		}
	case "code":
		pushOpt(L, e.Code)
	case "message":
		L.Push(lua.LString(e.Message))
	case "retry_after":
		if e.RetryAfter > 0 {
			L.Push(lua.LNumber(e.RetryAfter.Seconds()))
		} else {
			L.Push(lua.LNil)
		}
	case "errors":
		if len(e.Errors) == 0 {
			L.Push(lua.LNil)
			return 1
		}
		t := L.CreateTable(0, len(e.Errors))
		for k, msgs := range e.Errors {
			list := L.CreateTable(len(msgs), 0)
			for _, m := range msgs {
				list.Append(lua.LString(m))
			}
			t.RawSetString(k, list)
		}
		L.Push(t)
	default:
		L.Push(lua.LNil)
	}
	return 1
}

func pushOpt(L *lua.LState, s string) {
	if s == "" {
		L.Push(lua.LNil)
	} else {
		L.Push(lua.LString(s))
	}
}

// --- the app namespace ---

type proxyKind int

const (
	proxyApp proxyKind = iota
	proxyIntegrations
	proxyIntegration // the default account's functions, .default and accounts
	proxyAccount     // one account's functions
	proxyTable       // a read-only table of functions (json, docs)
)

type proxy struct {
	kind    proxyKind
	path    string
	account string
	table   *lua.LTable
}

func (x *exec) newProxy(p *proxy) *lua.LUserData {
	ud := x.L.NewUserData()
	ud.Value = p
	ud.Metatable = x.proxyMT
	return ud
}

func (x *exec) proxyNewIndex(L *lua.LState) int {
	p := L.CheckUserData(1).Value.(*proxy)
	L.RaiseError("%s is read-only; %s cannot be assigned", p.path, L.ToStringMeta(L.Get(2)).String())
	return 0
}

func (x *exec) proxyIndex(L *lua.LState) int {
	p := L.CheckUserData(1).Value.(*proxy)
	key, ok := L.Get(2).(lua.LString)
	if !ok {
		L.RaiseError("%s has no field %s", p.path, L.ToStringMeta(L.Get(2)).String())
	}
	k := string(key)
	in := x.r.in
	switch p.kind {
	case proxyTable:
		v := p.table.RawGetString(k)
		if v == lua.LNil {
			var names []string
			p.table.ForEach(func(k, _ lua.LValue) { names = append(names, k.String()) })
			sort.Strings(names)
			L.RaiseError("%s has no function %q%s; it has: %s", p.path, k, suggest.DidYouMean(k, names), strings.Join(names, ", "))
		}
		L.Push(v)
	case proxyApp:
		if k != "integrations" {
			L.RaiseError("app has no field %q; use app.integrations.%s", k, in.Slug)
		}
		L.Push(x.newProxy(&proxy{kind: proxyIntegrations, path: "app.integrations"}))
	case proxyIntegrations:
		if k != in.Slug {
			L.RaiseError("app.integrations has no integration %q%s; available: %s", k, suggest.DidYouMean(k, []string{in.Slug}), in.Slug)
		}
		L.Push(x.newProxy(&proxy{kind: proxyIntegration, path: in.LuaPath}))
	case proxyIntegration, proxyAccount:
		if fn := in.Function(k); fn != nil {
			L.Push(x.function(fn, p.account))
			return 1
		}
		if p.kind == proxyIntegration {
			if k == "default" {
				L.Push(x.newProxy(&proxy{kind: proxyAccount, path: in.LuaPath + ".default", account: "default"}))
				return 1
			}
			if _, err := x.r.accounts.Get(k); err == nil {
				L.Push(x.newProxy(&proxy{kind: proxyAccount, path: in.LuaPath + "." + k, account: k}))
				return 1
			}
			accts := append([]string{"default"}, x.r.accounts.Names()...)
			L.RaiseError("%s has no function or account named %q%s; functions: %s; configured accounts: %s",
				p.path, k, suggest.DidYouMean(k, append(in.FunctionNames(), accts...)), strings.Join(in.FunctionNames(), ", "), strings.Join(accts, ", "))
		}
		L.RaiseError("%s has no function %q%s; functions: %s", p.path, k, suggest.DidYouMean(k, in.FunctionNames()), strings.Join(in.FunctionNames(), ", "))
	}
	return 1
}

// function returns the Lua function for fn on an account ("" = default).
// The policy is checked when it is called, not here, so a cached function
// obeys a later policy change.
func (x *exec) function(fn *bind.Function, account string) *lua.LFunction {
	key := account + "\x00" + fn.Name
	if f, ok := x.fnCache[key]; ok {
		return f
	}
	f := x.L.NewFunction(func(L *lua.LState) int { return x.call(L, fn, account) })
	x.fnCache[key] = f
	return f
}

func (x *exec) call(L *lua.LState, fn *bind.Function, account string) int {
	if account == "" {
		account = x.r.opts.DefaultAccount
	}
	c := Call{Function: fn.FullName, Account: account}
	if c.Account == "" {
		c.Account = "default"
	}
	e := x.r.invoke(x.ctx, fn, account, L.Get(1), L.GetTop(), &c)
	body := e.body
	x.calls = append(x.calls, c)
	if e.err != nil {
		x.raise(L, e.err)
	}
	if len(body) == 0 {
		L.Push(lua.LNil)
		return 1
	}
	d := bind.Decoder{L: L, ArrayMeta: x.arrayMT}
	v, err := d.Decode(body, fn.Response)
	if err != nil {
		x.raise(L, &bind.Error{Kind: bind.KindResponse, Function: fn.Name, FullName: fn.FullName, Status: c.Status, Message: "the response is not valid JSON: " + err.Error()})
	}
	L.Push(v)
	return 1
}

// --- docs ---

func (x *exec) docsList(L *lua.LState) int {
	t := L.CreateTable(len(x.r.docs), 0)
	for _, p := range x.r.docs {
		e := L.CreateTable(0, 2)
		e.RawSetString("name", lua.LString(p.Name))
		e.RawSetString("title", lua.LString(p.Title))
		t.Append(e)
	}
	L.Push(t)
	return 1
}

func (x *exec) docsSearch(L *lua.LState) int {
	hits := x.r.SearchDocs(L.CheckString(1))
	t := L.CreateTable(len(hits), 0)
	for _, h := range hits {
		e := L.CreateTable(0, 3)
		e.RawSetString("name", lua.LString(h.Name))
		e.RawSetString("title", lua.LString(h.Title))
		e.RawSetString("snippet", lua.LString(h.Snippet))
		t.Append(e)
	}
	L.Push(t)
	return 1
}

func (x *exec) docsRead(L *lua.LState) int {
	text, err := x.r.ReadDoc(L.CheckString(1))
	if err != nil {
		L.RaiseError("docs.read: %s", err.Error())
	}
	L.Push(lua.LString(text))
	return 1
}

func (x *exec) luaListDocs(L *lua.LState) int {
	L.Push(lua.LString(x.r.ListDocsText()))
	return 1
}

func (x *exec) luaSearchDocs(L *lua.LState) int {
	L.Push(lua.LString(x.r.SearchDocsText(L.CheckString(1))))
	return 1
}

func (x *exec) luaReadDoc(L *lua.LState) int {
	text, err := x.r.ReadDoc(L.CheckString(1))
	if err != nil {
		L.RaiseError("lua_read_doc: %s", err.Error())
	}
	L.Push(lua.LString(text))
	return 1
}

var _ = fmt.Sprintf
