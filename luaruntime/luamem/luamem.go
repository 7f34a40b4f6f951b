// Package luamem estimates how much memory one gopher-lua state holds:
// the strings, tables, functions and userdata reachable from its globals,
// its registry and its value stack (every register of every frame in
// progress, temporaries included).
//
// This is what makes a memory limit per script possible: the Go heap is
// shared by every state in the process, so its growth cannot say which
// script grew. The estimate counts Go's real representation (a table's
// array slots by capacity, its hash part three times, as gopher-lua keeps
// keys in a map, a slice and an index map; 16 bytes per boxed string
// header and 8 per boxed number) and is calibrated against the heap by
// TestEstimateTracksHeap.
//
// gopher-lua does not export its value stack or a table's parts, so the
// walk reads them through offsets found by reflection and checked against
// the expected field types when the package loads; Supported reports
// false (and the caller must fall back) when a gopher-lua upgrade changed
// them.
package luamem

import (
	"reflect"
	"unsafe"

	lua "github.com/yuin/gopher-lua"
)

// layout holds the offsets of the unexported fields the walk reads. It is
// computed once when the package loads and never changes.
type layout struct {
	ok       bool
	reg      uintptr // LState.reg *registry
	regArray uintptr // registry.array []LValue
	array    uintptr // LTable.array []LValue
	dict     uintptr // LTable.dict map[LValue]LValue
	strdict  uintptr // LTable.strdict map[string]LValue
	keys     uintptr // LTable.keys []LValue
	k2i      uintptr // LTable.k2i map[LValue]int
}

var fields = findLayout()

func findLayout() layout {
	var l layout
	valueSlice := reflect.TypeOf([]lua.LValue(nil))
	field := func(t reflect.Type, name string, want reflect.Type) (uintptr, bool) {
		f, ok := t.FieldByName(name)
		if !ok || (want != nil && f.Type != want) {
			return 0, false
		}
		return f.Offset, true
	}
	st := reflect.TypeOf(lua.LState{})
	rf, ok := st.FieldByName("reg")
	if !ok || rf.Type.Kind() != reflect.Pointer || rf.Type.Elem().Kind() != reflect.Struct {
		return l
	}
	l.reg = rf.Offset
	var oks [6]bool
	l.regArray, oks[0] = field(rf.Type.Elem(), "array", valueSlice)
	tt := reflect.TypeOf(lua.LTable{})
	l.array, oks[1] = field(tt, "array", valueSlice)
	l.dict, oks[2] = field(tt, "dict", reflect.TypeOf(map[lua.LValue]lua.LValue(nil)))
	l.strdict, oks[3] = field(tt, "strdict", reflect.TypeOf(map[string]lua.LValue(nil)))
	l.keys, oks[4] = field(tt, "keys", valueSlice)
	l.k2i, oks[5] = field(tt, "k2i", reflect.TypeOf(map[lua.LValue]int(nil)))
	l.ok = oks == [6]bool{true, true, true, true, true, true}
	return l
}

// Supported reports whether this gopher-lua has the layout the walk
// reads.
func Supported() bool { return fields.ok }

func registers(L *lua.LState) []lua.LValue {
	reg := *(*unsafe.Pointer)(unsafe.Add(unsafe.Pointer(L), fields.reg))
	if reg == nil {
		return nil
	}
	return *(*[]lua.LValue)(unsafe.Add(reg, fields.regArray))
}

type tableParts struct {
	array   []lua.LValue
	dict    map[lua.LValue]lua.LValue
	strdict map[string]lua.LValue
	keys    []lua.LValue
	k2i     map[lua.LValue]int
}

func parts(t *lua.LTable) tableParts {
	p := unsafe.Pointer(t)
	return tableParts{
		array:   *(*[]lua.LValue)(unsafe.Add(p, fields.array)),
		dict:    *(*map[lua.LValue]lua.LValue)(unsafe.Add(p, fields.dict)),
		strdict: *(*map[string]lua.LValue)(unsafe.Add(p, fields.strdict)),
		keys:    *(*[]lua.LValue)(unsafe.Add(p, fields.keys)),
		k2i:     *(*map[lua.LValue]int)(unsafe.Add(p, fields.k2i)),
	}
}

// Sizes in bytes of Go's representation, on 64-bit platforms.
const (
	slotSize     = 16  // an LValue (interface) in a slice
	tableSize    = 96  // an LTable struct
	dictSlot     = 33  // a slot of map[string]LValue or map[LValue]LValue, with its control byte
	indexSlot    = 25  // a slot of map[LValue]int
	mapHeader    = 64  // a map's header and directory
	boxedString  = 16  // the string header an LString in an interface points to
	numberBlock  = 256 // gopher-lua boxes numbers 32 to a block, and one live number keeps its block
	functionSize = 80  // an LFunction
	upvalueSize  = 48  // an Upvalue
	userdataSize = 48  // an LUserData and a small Go value
	protoSize    = 200 // a FunctionProto besides its code and constants
	// Strings at least this long are counted once per backing array.
	dedupeStrings = 64
	// gopher-lua makes a table's string map with room for 32 keys when
	// the first string key is set (a map sized by the constructor is
	// smaller, but the walk cannot tell which it is, so it assumes the
	// larger).
	stringMapHint = 32
)

// mapBytes is what a Go map of n entries takes: Go keeps at most 7 of 8
// slots full, in a power of two of slots, and at least minSlots.
func mapBytes(n, minSlots, slot int) int64 {
	slots := 8
	for slots*7/8 < n {
		slots *= 2
	}
	if slots < minSlots {
		slots = minSlots
	}
	return mapHeader + int64(slots)*int64(slot)
}

// Sizer walks states. It keeps its bookkeeping between walks so a walk
// allocates little; it is not safe for concurrent use.
type Sizer struct {
	seen    ptrSet // tables, functions and userdata
	strings ptrSet // backing arrays of long strings
	numbers ptrSet // blocks of boxed numbers
	protos  map[*lua.FunctionProto]struct{}
	stack   []lua.LValue
	total   int64
	visits  int
	limit   int64
	check   func() error
	err     error
}

// NewSizer returns a Sizer.
func NewSizer() *Sizer {
	return &Sizer{protos: map[*lua.FunctionProto]struct{}{}}
}

// Size estimates the bytes L holds. It stops early, returning a total
// above limit, once the total passes limit (limit <= 0: no limit), and
// returns check's error when check (called every 64Ki values) fails. It
// must run on L's goroutine while L is not running: from a function L
// calls, or from L's context.
func (s *Sizer) Size(L *lua.LState, limit int64, check func() error) (int64, error) {
	if !fields.ok {
		return 0, errUnsupported
	}
	s.seen.reset()
	s.strings.reset()
	s.numbers.reset()
	clear(s.protos)
	s.stack = s.stack[:0]
	s.total, s.visits, s.limit, s.check, s.err = 0, 0, limit, check, nil
	regs := registers(L)
	s.total += int64(cap(regs)) * slotSize
	for _, v := range regs {
		s.value(v)
	}
	s.value(L.G.Global)
	s.value(L.G.Registry)
	s.value(L.Env)
	for len(s.stack) > 0 && !s.done() {
		v := s.stack[len(s.stack)-1]
		s.stack = s.stack[:len(s.stack)-1]
		s.container(v)
	}
	// The stack's backing array must not keep values alive.
	clear(s.stack[:cap(s.stack)])
	s.stack = s.stack[:0]
	return s.total, s.err
}

type unsupportedError struct{}

func (unsupportedError) Error() string {
	return "luamem: this gopher-lua version has an unknown layout"
}

var errUnsupported error = unsupportedError{}

func (s *Sizer) done() bool {
	return s.err != nil || (s.limit > 0 && s.total > s.limit)
}

// value counts a value; containers are counted once, later, from the
// stack (so deep nesting never deepens the Go stack).
func (s *Sizer) value(v0 lua.LValue) {
	v := v0
	s.visits++
	if s.visits&0xffff == 0 && s.check != nil && s.err == nil {
		s.err = s.check()
	}
	switch v := v.(type) {
	case nil:
	case lua.LString:
		s.total += boxedString
		if len(v) >= dedupeStrings && !s.strings.add(uintptr(unsafe.Pointer(unsafe.StringData(string(v))))) {
			return
		}
		s.total += int64(len(v))
	case lua.LNumber:
		block := uintptr((*[2]unsafe.Pointer)(unsafe.Pointer(&v0))[1]) &^ (numberBlock - 1)
		if block != 0 && s.numbers.add(block) {
			s.total += numberBlock
		}
	case *lua.LTable:
		s.push(unsafe.Pointer(v), v)
	case *lua.LFunction:
		s.push(unsafe.Pointer(v), v)
	case *lua.LUserData:
		s.push(unsafe.Pointer(v), v)
	case *lua.LState:
		// Coroutines are not available in the sandbox; a thread value
		// counts as its struct.
		s.total += userdataSize
	}
}

func (s *Sizer) push(p unsafe.Pointer, v lua.LValue) {
	if p == nil || !s.seen.add(uintptr(p)) {
		return
	}
	s.stack = append(s.stack, v)
}

func (s *Sizer) container(v lua.LValue) {
	switch v := v.(type) {
	case *lua.LTable:
		s.table(v)
	case *lua.LFunction:
		s.total += functionSize
		if v.Env != nil {
			s.value(v.Env)
		}
		for _, uv := range v.Upvalues {
			if uv != nil {
				s.total += upvalueSize
				s.value(uv.Value())
			}
		}
		if v.Proto != nil {
			s.proto(v.Proto)
		}
	case *lua.LUserData:
		s.total += userdataSize
		if v.Env != nil {
			s.value(v.Env)
		}
		s.value(v.Metatable)
	}
}

func (s *Sizer) table(t *lua.LTable) {
	p := parts(t)
	s.total += tableSize + int64(cap(p.array))*slotSize + int64(cap(p.keys))*slotSize
	if p.strdict != nil {
		s.total += mapBytes(len(p.strdict), stringMapHint*2, dictSlot)
	}
	if p.dict != nil {
		s.total += mapBytes(len(p.dict), 8, dictSlot)
	}
	if p.k2i != nil {
		s.total += mapBytes(len(p.k2i), 8, indexSlot)
	}
	s.value(t.Metatable)
	for _, v := range p.array {
		if s.done() {
			return
		}
		s.value(v)
	}
	for k, v := range p.strdict {
		if s.done() {
			return
		}
		s.total += int64(len(k))
		s.value(v)
	}
	for k, v := range p.dict {
		if s.done() {
			return
		}
		s.value(k)
		s.value(v)
	}
	// keys holds every key ever set, also removed ones (gopher-lua never
	// shrinks it); their strings share the dict's, their headers do not.
	s.total += int64(len(p.keys)) * boxedString
}

func (s *Sizer) proto(p *lua.FunctionProto) {
	if _, ok := s.protos[p]; ok {
		return
	}
	s.protos[p] = struct{}{}
	s.total += protoSize + int64(len(p.Code))*4 + int64(len(p.DbgSourcePositions))*8 + int64(len(p.Constants))*slotSize
	for _, c := range p.Constants {
		s.value(c)
	}
	for _, child := range p.FunctionPrototypes {
		s.proto(child)
	}
}
