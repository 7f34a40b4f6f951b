package luamem

import (
	"runtime"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

func TestLayoutSupported(t *testing.T) {
	if !Supported() {
		t.Fatal("the gopher-lua in go.mod changed the fields luamem reads; update findLayout")
	}
}

func heap() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// TestEstimateTracksHeap builds data of several shapes and wants the
// estimate close to the Go heap it really takes, and never much below.
// Tables whose string keys come from a constructor ({id = i}) are
// counted up to 4 times their size: their map is smaller than the one
// gopher-lua makes when a key is set on an empty table, and the walk
// cannot tell the two apart, so it assumes the larger.
func TestEstimateTracksHeap(t *testing.T) {
	shapes := []struct {
		name, code string
		max        float64
	}{
		{"array of numbers", `data = {} for i = 1, 1000000 do data[i] = i + 0.5 end`, 1.3},
		{"sparse numbers", `data = {} for i = 1, 100000 do local a, b, c = i * 2, i * 3, i * 4 data[i] = a + b + c + 0.5 end`, 1.3},
		{"array of strings", `data = {} for i = 1, 200000 do data[i] = string.rep("x", 90) .. i end`, 1.3},
		{"hash of strings", `data = {} for i = 1, 200000 do data["key" .. i] = i + 0.5 end`, 1.3},
		{"keys set on empty tables", `data = {} for i = 1, 50000 do local t = {} t.id = i t.name = "n" data[i] = t end`, 1.3},
		{"constructor tables", `data = {} for i = 1, 100000 do data[i] = {id = i, name = "n" .. i} end`, 4},
		{"nested", `data = {} local t = data for i = 1, 100000 do t.next = {v = i} t = t.next end`, 4},
		{"arrays in tables", `data = {} for i = 1, 100000 do data[i] = {i, "x"} end`, 1.3},
		{"big shared string", `local s = string.rep("y", 10000000) data = {} for i = 1, 1000 do data[i] = s end`, 1.3},
		{"closures", `data = {} for i = 1, 100000 do local x = {i} data[i] = function() return x end end`, 1.3},
	}
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			L := lua.NewState()
			defer L.Close()
			before := heap()
			if err := L.DoString(sh.code); err != nil {
				t.Fatal(err)
			}
			after := heap()
			s := NewSizer()
			empty := lua.NewState()
			base, _ := s.Size(empty, 0, nil)
			empty.Close()
			est, err := s.Size(L, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			real := after - before
			ratio := float64(est-base) / float64(real)
			t.Logf("heap %d KiB, estimate %d KiB, ratio %.2f", real>>10, (est-base)>>10, ratio)
			if ratio < 0.75 || ratio > sh.max {
				t.Errorf("estimate %d is %.2f times the heap %d, want 0.75 to %.1f", est-base, ratio, real, sh.max)
			}
			runtime.KeepAlive(L)
		})
	}
}

// A value held only in a temporary register of a calling frame (an
// argument being evaluated) is counted.
func TestCountsTemporaries(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	var seen int64
	s := NewSizer()
	L.SetGlobal("measure", L.NewFunction(func(L *lua.LState) int {
		n, err := s.Size(L, 0, nil)
		if err != nil {
			L.RaiseError("%v", err)
		}
		seen = n
		return 0
	}))
	if err := L.DoString(`
		local function consume(a, b) return #a end
		local function deeper() measure() return 1 end
		return consume(string.rep("z", 5000000), deeper())`); err != nil {
		t.Fatal(err)
	}
	if seen < 5000000 {
		t.Fatalf("measured %d bytes while a 5 MB temporary was live", seen)
	}
}

func TestStopsEarly(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	if err := L.DoString(`data = {} for i = 1, 100000 do data[i] = {i} end`); err != nil {
		t.Fatal(err)
	}
	s := NewSizer()
	full, _ := s.Size(L, 0, nil)
	part, _ := s.Size(L, 1<<20, nil)
	if part <= 1<<20 || part >= full {
		t.Fatalf("with a 1 MiB limit the walk returned %d (full %d)", part, full)
	}
}
