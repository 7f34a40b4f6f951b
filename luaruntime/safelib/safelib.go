// Package safelib replaces the parts of gopher-lua's standard library
// that can run long or build large values, so a sandbox's limits hold
// inside them too:
//
//   - string.find, match, gmatch and gsub match Lua 5.1 patterns with
//     luapattern, which calls Env.Check every few thousand steps of
//     backtracking (gopher-lua's matcher never looks at the context, so
//     '.-.-.-b' on 5000 characters ran for hours under a 2 s limit);
//   - table.sort checks every thousand comparisons;
//   - string.rep, string.format, table.concat, gsub and the `..` operator
//     (see Compile) check the size of the string they build against
//     Env.MaxString and Env.Reserve before building it;
//   - pcall and xpcall never let a script catch a limit error, and call
//     with an error handler, so gopher-lua never builds its traceback
//     (which has a line per tail call: 20 GB after a long tail-recursive
//     loop).
//
// Everything here runs on the goroutine of the Lua state; Env's functions
// are called from it.
package safelib

import (
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/cctoolkit/cloudconvert/luaruntime/luapattern"
)

// Env is what the library needs from its host.
type Env struct {
	// Check is called every few thousand steps of long-running work; a
	// non-nil error stops the function, which raises it. It must be
	// cheap. nil never stops.
	Check func() error
	// MaxString is the largest string, in bytes, a function may build;
	// 0 means 16 MiB.
	MaxString int
	// Reserve is called before a function builds a string of n bytes; a
	// non-nil error stops it, which raises the error. nil reserves
	// nothing.
	Reserve func(n int64) error
}

// Lib is the library installed in one state.
type Lib struct {
	env     Env
	concat  *lua.LFunction
	handler *lua.LFunction
	// patterns caches compiled patterns by text and anchoring, a few
	// dozen short ones (a loop calls gsub with the same pattern).
	patterns map[patternKey]*luapattern.Pattern
}

type patternKey struct {
	pat    string
	anchor bool
}

const (
	maxCachedPatterns = 64
	maxCachedLen      = 256
)

// Open installs the replacements into L, whose string, table and base
// libraries are open.
func Open(L *lua.LState, env Env) *Lib {
	if env.MaxString <= 0 {
		env.MaxString = 16 << 20
	}
	lib := &Lib{env: env, patterns: map[patternKey]*luapattern.Pattern{}}
	lib.concat = L.NewFunction(lib.concatValues)
	// The handler returns the error value as it is; calling with one
	// keeps gopher-lua from building a traceback.
	lib.handler = L.NewFunction(func(L *lua.LState) int { return 1 })

	str := L.GetGlobal("string").(*lua.LTable)
	str.RawSetString("find", L.NewFunction(lib.find))
	str.RawSetString("match", L.NewFunction(lib.match))
	str.RawSetString("gmatch", L.NewFunction(lib.gmatch))
	str.RawSetString("gsub", L.NewFunction(lib.gsub))
	str.RawSetString("rep", L.NewFunction(lib.rep))
	str.RawSetString("format", L.NewFunction(lib.format(str.RawGetString("format"))))
	tbl := L.GetGlobal("table").(*lua.LTable)
	tbl.RawSetString("concat", L.NewFunction(lib.tableConcat))
	tbl.RawSetString("sort", L.NewFunction(lib.sort))
	L.SetGlobal("pcall", L.NewFunction(lib.pcall))
	L.SetGlobal("xpcall", L.NewFunction(lib.xpcall))
	return lib
}

// Load compiles src (see Compile) into a function of L; run it with
// PCall.
func (lib *Lib) Load(L *lua.LState, src, name string) (*lua.LFunction, error) {
	proto, err := Compile(src, name)
	if err != nil {
		return nil, err
	}
	return L.NewFunctionFromProto(proto), nil
}

// PCall calls a function made by Load in protected mode, leaving its
// results on the stack. It passes the error handler, so no traceback is
// built.
func (lib *Lib) PCall(L *lua.LState, fn *lua.LFunction) error {
	L.Push(fn)
	L.Push(lib.concat)
	return L.PCall(1, lua.MultRet, lib.handler)
}

// check raises the host's stop error, if any.
func (lib *Lib) check(L *lua.LState) {
	if lib.env.Check == nil {
		return
	}
	if err := lib.env.Check(); err != nil {
		L.RaiseError("%s", err.Error())
	}
}

// reserve checks a string of n bytes may be built by what.
func (lib *Lib) reserve(L *lua.LState, what string, n int64) {
	if n > int64(lib.env.MaxString) {
		L.RaiseError("%s would build a string of %d bytes, more than the limit of %d (Limits.MaxString)", what, n, lib.env.MaxString)
	}
	if lib.env.Reserve != nil && n > 0 {
		if err := lib.env.Reserve(n); err != nil {
			L.RaiseError("%s", err.Error())
		}
	}
}

// builder builds a string whose size is known only at the end (gsub),
// reserving as it grows.
type builder struct {
	lib      *Lib
	L        *lua.LState
	what     string
	b        strings.Builder
	reserved int64
}

const reserveChunk = 1 << 20

func (b *builder) grow(n int) {
	need := int64(b.b.Len()) + int64(n)
	if need > int64(b.lib.env.MaxString) {
		b.lib.reserve(b.L, b.what, need)
	}
	if need > b.reserved {
		step := need - b.reserved
		if step < reserveChunk {
			step = reserveChunk
		}
		if b.reserved+step > int64(b.lib.env.MaxString) {
			step = int64(b.lib.env.MaxString) - b.reserved
		}
		if b.lib.env.Reserve != nil {
			if err := b.lib.env.Reserve(step); err != nil {
				b.L.RaiseError("%s", err.Error())
			}
		}
		b.reserved += step
	}
}

func (b *builder) add(s string) {
	b.grow(len(s))
	b.b.WriteString(s)
}

func (b *builder) addByte(c byte) {
	b.grow(1)
	b.b.WriteByte(c)
}

func (b *builder) String() string { return b.b.String() }

// typeName is a value's type for messages.
func typeName(v lua.LValue) string { return v.Type().String() }
