package luaruntime

import (
	"fmt"
	"sort"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/cctoolkit/cloudconvert/accounts"
	"github.com/cctoolkit/cloudconvert/integration"
	"github.com/cctoolkit/cloudconvert/integration/invoke"
	"github.com/cctoolkit/cloudconvert/internal/suggest"
)

// The bridge is what a script sees of the host: app.integrations.<slug>
// (the functions, per account), json, docs, dump and the docs tools.

// installBridge puts the host's globals into a fresh state.
func (x *exec) installBridge() {
	L := x.L
	x.arrayMT = L.CreateTable(0, 2)
	x.arrayMT.RawSetString("__jsontype", lua.LString("array"))
	x.arrayMT.RawSetString("__metatable", lua.LString("json array"))
	x.errMT = L.CreateTable(0, 3)
	x.errMT.RawSetString("__tostring", L.NewFunction(x.errString))
	x.errMT.RawSetString("__metatable", lua.LString("error"))
	x.errs = map[*lua.LTable]*integration.Error{}
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
}

// --- errors as Lua values ---

// raise throws e as a plain table of its documented fields (kind, function,
// param, status, code, message, errors, retry_after, request_id,
// outcome_unknown, attempts, where) whose tostring reads like the Go error.
func (x *exec) raise(L *lua.LState, e *integration.Error) {
	c := *e
	c.Message = x.r.Redact(c.Message)
	if c.Where == "" {
		c.Where = callerWhere(L)
	}
	t := x.errTable(L, &c)
	L.Error(t, 0)
}

// callerWhere is the position ("job.lua:3:") of the Lua code that made
// the call. A function called by a Go function, as in
// pcall(cc.get_job, {...}), reports the line of that call rather than
// gopher-lua's "[G]:" for the Go frame in between.
func callerWhere(L *lua.LState) string {
	for level := 1; level <= 32; level++ {
		w := L.Where(level)
		if w == "" {
			return ""
		}
		if !strings.HasPrefix(w, "[G]:") {
			return w
		}
	}
	return ""
}

func (x *exec) errTable(L *lua.LState, e *integration.Error) *lua.LTable {
	fields := e.Fields()
	if e.Where != "" {
		fields["where"] = e.Where
	}
	v, err := fromGo(L, fields, 0)
	t, ok := v.(*lua.LTable)
	if err != nil || !ok {
		t = L.CreateTable(0, 2)
		t.RawSetString("kind", lua.LString(e.Kind))
		t.RawSetString("message", lua.LString(e.Message))
	}
	t.Metatable = x.errMT
	x.errs[t] = e
	return t
}

func (x *exec) errString(L *lua.LState) int {
	t := L.CheckTable(1)
	if e, ok := x.errs[t]; ok {
		L.Push(lua.LString(x.r.Redact(e.Error())))
		return 1
	}
	L.Push(lua.LString(L.ToStringMeta(t.RawGetString("message")).String()))
	return 1
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

// readOnly wraps a table of functions in a proxy.
func (x *exec) readOnly(path string, t *lua.LTable) lua.LValue {
	return x.newProxy(&proxy{kind: proxyTable, path: path, table: t})
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
		if fn := in.Function(k); fn != nil && fn.Name == k {
			L.Push(x.function(fn, p.account))
			return 1
		}
		names := in.FunctionNames()
		if p.kind == proxyIntegration {
			if k == accounts.DefaultName {
				L.Push(x.newProxy(&proxy{kind: proxyAccount, path: in.LuaPath + "." + k, account: k}))
				return 1
			}
			if _, err := x.r.Accounts().Get(k); err == nil {
				L.Push(x.newProxy(&proxy{kind: proxyAccount, path: in.LuaPath + "." + k, account: k}))
				return 1
			}
			accts := append([]string{accounts.DefaultName}, x.r.Accounts().Names()...)
			L.RaiseError("%s has no function or account named %q%s; functions: %s; configured accounts: %s",
				p.path, k, suggest.DidYouMean(k, append(names, accts...)), strings.Join(names, ", "), strings.Join(accts, ", "))
		}
		L.RaiseError("%s has no function %q%s; functions: %s", p.path, k, suggest.DidYouMean(k, names), strings.Join(names, ", "))
	}
	return 1
}

// function returns the Lua function for fn on an account ("" = default).
// The policy is checked when it is called, not here, so a cached function
// obeys a later policy change.
func (x *exec) function(fn *integration.Function, account string) *lua.LFunction {
	key := account + "\x00" + fn.Name
	if f, ok := x.fnCache[key]; ok {
		return f
	}
	f := x.L.NewFunction(func(L *lua.LState) int { return x.call(L, fn, account) })
	x.fnCache[key] = f
	return f
}

// call performs one integration call: Lua table -> checked request ->
// the invoker -> the answer as Lua tables.
func (x *exec) call(L *lua.LState, fn *integration.Function, account string) int {
	if account == "" {
		account = x.r.opts.DefaultAccount
	}
	c := Call{Function: fn.FullName, Account: account}
	if c.Account == "" {
		c.Account = accounts.DefaultName
	}
	start := time.Now()
	res, err := x.invoke(L, fn, account)
	c.Duration = time.Since(start)
	c.Millis = float64(c.Duration.Microseconds()) / 1000
	c.Outcome = "ok"
	if res != nil {
		c.Status = res.Status
	}
	if err != nil {
		c.Outcome, c.Status = string(err.Kind), err.Status
	}
	x.calls = append(x.calls, c)
	if err != nil {
		x.raise(L, err)
	}
	if len(res.Body) == 0 {
		L.Push(lua.LNil)
		return 1
	}
	d := JSONDecoder{L: L, ArrayMeta: x.arrayMT}
	v, derr := d.Decode(res.Body, fn.Response)
	if derr != nil {
		x.raise(L, &integration.Error{Kind: integration.KindResponse, Function: fn.Name, FullName: fn.FullName, Status: res.Status, Message: "the response is not valid JSON: " + derr.Error()})
	}
	L.Push(v)
	return 1
}

func (x *exec) invoke(L *lua.LState, fn *integration.Function, account string) (*invoke.Result, *integration.Error) {
	if n := L.GetTop(); n > 1 {
		return nil, fn.ArgError("", fmt.Sprintf("takes one table of named arguments, like %s({...}), got %d arguments", fn.Name, n))
	}
	args, verr := fromLua(L.Get(1), "", 0)
	if verr != nil {
		return nil, fn.ArgError(verr.path, verr.msg)
	}
	return x.r.inv.Invoke(x.ctx, invoke.Call{Function: fn, Account: account, Args: args, Dialect: integration.Lua})
}

// --- json ---

func (x *exec) jsonEncode(L *lua.LState) int {
	v, verr := fromLua(L.Get(1), "", 0)
	if verr != nil {
		path := verr.path
		if path == "" {
			path = "value"
		}
		L.RaiseError("json.encode: %s: %s", path, verr.msg)
	}
	b, err := integration.EncodeJSON(v, integration.Lua)
	if err != nil {
		L.RaiseError("json.encode: %s: %s", err.Param, err.Message)
	}
	x.checkSize(L, "json.encode", int64(len(b)))
	L.Push(lua.LString(b))
	return 1
}

func (x *exec) jsonDecode(L *lua.LState) int {
	s := L.CheckString(1)
	d := JSONDecoder{L: L, ArrayMeta: x.arrayMT}
	v, err := d.Decode([]byte(s), nil)
	if err != nil {
		L.RaiseError("json.decode: %s", err.Error())
	}
	L.Push(v)
	return 1
}

// fromGo turns JSON-like Go values into Lua values (maps with sorted keys).
func fromGo(L *lua.LState, v any, depth int) (lua.LValue, error) {
	if depth > integration.MaxDepth {
		return lua.LNil, fmt.Errorf("nested too deeply")
	}
	switch v := v.(type) {
	case nil:
		return lua.LNil, nil
	case bool:
		return lua.LBool(v), nil
	case float64:
		return lua.LNumber(v), nil
	case int:
		return lua.LNumber(v), nil
	case string:
		return lua.LString(v), nil
	case []any:
		t := L.CreateTable(len(v), 0)
		for _, item := range v {
			lv, err := fromGo(L, item, depth+1)
			if err != nil {
				return nil, err
			}
			t.Append(lv)
		}
		return t, nil
	case map[string]any:
		t := L.CreateTable(0, len(v))
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			lv, err := fromGo(L, v[k], depth+1)
			if err != nil {
				return nil, err
			}
			t.RawSetString(k, lv)
		}
		return t, nil
	}
	return nil, fmt.Errorf("cannot convert %T", v)
}

// --- docs ---

func (x *exec) docsList(L *lua.LState) int {
	docs := x.r.ListDocs()
	t := L.CreateTable(len(docs), 0)
	for _, p := range docs {
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
