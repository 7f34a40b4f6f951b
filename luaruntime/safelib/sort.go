package safelib

import (
	"sort"

	lua "github.com/yuin/gopher-lua"
)

// sort is table.sort: it sorts t[1..#t] with < or the given comparator
// and checks Env.Check every thousand comparisons, so sorting millions of
// elements stops at the time limit.
func (lib *Lib) sort(L *lua.LState) int {
	t := L.CheckTable(1)
	var cmp *lua.LFunction
	if L.GetTop() >= 2 && L.Get(2) != lua.LNil {
		cmp = L.CheckFunction(2)
	}
	n := t.Len()
	s := &sorter{lib: lib, L: L, cmp: cmp, v: make([]lua.LValue, n)}
	for i := range s.v {
		s.v[i] = t.RawGetInt(i + 1)
	}
	sort.Sort(s)
	for i, v := range s.v {
		t.RawSetInt(i+1, v)
	}
	return 0
}

type sorter struct {
	lib   *Lib
	L     *lua.LState
	cmp   *lua.LFunction
	v     []lua.LValue
	count int
}

func (s *sorter) Len() int      { return len(s.v) }
func (s *sorter) Swap(i, j int) { s.v[i], s.v[j] = s.v[j], s.v[i] }

func (s *sorter) Less(i, j int) bool {
	s.count++
	if s.count&1023 == 0 {
		s.lib.check(s.L)
	}
	if s.cmp == nil {
		return s.L.LessThan(s.v[i], s.v[j])
	}
	s.L.Push(s.cmp)
	s.L.Push(s.v[i])
	s.L.Push(s.v[j])
	s.L.Call(2, 1)
	r := lua.LVAsBool(s.L.Get(-1))
	s.L.Pop(1)
	return r
}
