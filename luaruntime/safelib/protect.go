package safelib

import (
	lua "github.com/yuin/gopher-lua"
)

// errorValue is the value a protected call failed with.
func errorValue(err error) lua.LValue {
	if ae, ok := err.(*lua.ApiError); ok {
		return ae.Object
	}
	return lua.LString(err.Error())
}

// pcall is Lua's pcall with two differences from gopher-lua's: once a
// limit has stopped the script (Env.Check fails) the error is raised
// again instead of returned, so a script cannot catch its own time or
// memory limit; and the call has an error handler, so gopher-lua does not
// build a traceback for every caught error.
func (lib *Lib) pcall(L *lua.LState) int {
	L.CheckAny(1)
	if v := L.Get(1); v.Type() != lua.LTFunction && L.GetMetaField(v, "__call").Type() != lua.LTFunction {
		L.Push(lua.LFalse)
		L.Push(lua.LString("attempt to call a " + typeName(v) + " value"))
		return 2
	}
	if err := L.PCall(L.GetTop()-1, lua.MultRet, lib.handler); err != nil {
		lib.check(L)
		L.Push(lua.LFalse)
		L.Push(errorValue(err))
		return 2
	}
	L.Insert(lua.LTrue, 1)
	return L.GetTop()
}

// xpcall is Lua 5.1's xpcall(f, handler). The script's handler runs in
// protected mode itself: when it fails, xpcall returns its error.
func (lib *Lib) xpcall(L *lua.LState) int {
	fn := L.CheckFunction(1)
	handler := L.CheckFunction(2)
	top := L.GetTop()
	wrapped := L.NewFunction(func(L *lua.LState) int {
		L.Push(handler)
		L.Push(L.Get(1))
		if err := L.PCall(1, 1, lib.handler); err != nil {
			L.Push(errorValue(err))
		}
		return 1
	})
	L.Push(fn)
	if err := L.PCall(0, lua.MultRet, wrapped); err != nil {
		lib.check(L)
		L.Push(lua.LFalse)
		L.Push(errorValue(err))
		return 2
	}
	L.Insert(lua.LTrue, top+1)
	return L.GetTop() - top
}
