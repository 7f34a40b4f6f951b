package luaruntime

import (
	"context"
	"fmt"
	"runtime/metrics"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/cctoolkit/cloudconvert/luaruntime/luamem"
)

// How a script's limits are kept
//
// Time: the VM checks its context before every instruction, and every
// long-running library function (the pattern functions, table.sort,
// table.concat; see safelib) checks it every few thousand steps, so a
// script stops at its time limit wherever it is. A stopped script's
// pcall cannot catch the stop, and Execute reports the limit even when
// the last call happened to return after it.
//
// Memory, per script: meter.Done is the context the VM checks before
// every instruction; every 8192 instructions it looks at how many bytes
// the whole process has allocated since it last measured the script. A
// script cannot grow by more than that, so while the figure stays below
// the script's headroom nothing is measured; past it, luamem walks
// the script's state (globals, registry, every register of every frame)
// and stops the script when it holds more than Limits.MaxMemory. Strings
// the library builds (`..`, string.rep, gsub, table.concat, format) are
// checked before they are allocated, the same way. So each script is
// charged for what it holds itself, and one script's data never stops
// another (the former watch of the process heap stopped both of two
// 400 MB scripts under a 1 GiB limit), while no single instruction can
// allocate much: `..` is a checked call (safelib.Compile), not
// gopher-lua's CONCAT that joined 180 operands into 2.9 GB at once.
// The estimate follows Go's real sizes: 0.8 to 1.1 times the heap the
// data takes for most shapes, up to 4 times for tables whose string keys
// come from a constructor (luamem's TestEstimateTracksHeap). The
// process's RSS can reach about twice what its scripts hold, Go's
// garbage collector's usual headroom.
//
// The meter relies on gopher-lua calling Context().Done() before every
// instruction (vm.go's mainLoopWithContext); TestMemoryLimitStopsGrowth
// and TestFinding4TailRecursionMemory fail if an upgrade stops doing so.
//
// Depth: gopher-lua bounds frames (Limits.CallStackSize) but counts tail
// calls in the frame they replace, and when an error happens with the
// call stack full it builds a traceback with one line per tail call (20
// GB for a tail-recursive loop). Every 8192 instructions the meter asks
// whether the stack is deeper than Limits.MaxCallDepth counting tail
// calls, which bounds that traceback to a few MB; the other tracebacks
// are never built (safelib calls with an error handler).

// checkInterval is how many instructions run between two checks of
// memory and depth.
const checkInterval = 8192

// meter is the context a script's state runs with. Its Done is called by
// the VM before each instruction, on the state's goroutine, and by
// nothing else.
type meter struct {
	context.Context
	done   <-chan struct{}
	cancel context.CancelCauseFunc
	L      *lua.LState
	lim    Limits
	left   int

	sizer   *luamem.Sizer
	held    int64  // bytes the state held at the last measure
	atWalk  uint64 // process allocations at the last measure
	sample  []metrics.Sample
	heapAt0 int64 // process heap at the start, for the fallback
}

func newMeter(ctx context.Context, cancel context.CancelCauseFunc, L *lua.LState, lim Limits) *meter {
	m := &meter{
		Context: ctx, done: ctx.Done(), cancel: cancel, L: L, lim: lim, left: checkInterval,
		sizer:  luamem.NewSizer(),
		sample: []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}},
	}
	m.atWalk = m.allocs()
	m.heapAt0 = m.heapObjects()
	return m
}

// Done is the VM's hook: it counts instructions and checks the limits
// every checkInterval of them.
func (m *meter) Done() <-chan struct{} {
	m.left--
	if m.left <= 0 {
		m.left = checkInterval
		m.checkLimits()
	}
	return m.done
}

func (m *meter) checkLimits() {
	if m.Err() != nil {
		return
	}
	if _, deeper := m.L.GetStack(m.lim.MaxCallDepth); deeper {
		m.stop(fmt.Sprintf("the script was stopped: its calls are nested more than %d levels deep, counting tail calls (Limits.MaxCallDepth); write a long loop with while or for instead of recursion", m.lim.MaxCallDepth))
		return
	}
	if m.lim.MaxMemory < 0 {
		return
	}
	if int64(m.allocs()-m.atWalk) < m.trigger() {
		return
	}
	if m.measure() > m.lim.MaxMemory {
		m.stop(m.memoryMessage())
	}
}

// trigger is how much the process may allocate before the state is
// measured again: the script's headroom, since it cannot grow by more
// than the process allocates, but at least 1/64 of the limit, so a script
// that stays just under its limit is not walked all the time.
func (m *meter) trigger() int64 {
	return max(m.lim.MaxMemory-m.held, m.lim.MaxMemory/64)
}

// reserve is called before the library builds a string of n bytes: it
// stops the script when that would take it past its memory limit.
func (m *meter) reserve(n int64) error {
	if m.lim.MaxMemory < 0 || n < 64<<10 {
		return nil
	}
	if m.held+int64(m.allocs()-m.atWalk)+n <= m.lim.MaxMemory {
		return nil
	}
	if m.measure()+n > m.lim.MaxMemory {
		msg := m.memoryMessage()
		m.stop(msg)
		return &errLimit{msg}
	}
	return nil
}

// measure walks the state and remembers what it holds.
func (m *meter) measure() int64 {
	if luamem.Supported() {
		n, err := m.sizer.Size(m.L, m.lim.MaxMemory, m.Err)
		if err == nil {
			m.held = n
		}
	} else {
		// A gopher-lua whose layout luamem does not know: fall back to
		// the growth of the process heap, shared with other scripts.
		m.held = m.heapObjects() - m.heapAt0
	}
	m.atWalk = m.allocs()
	return m.held
}

func (m *meter) memoryMessage() string {
	return fmt.Sprintf("the script was stopped: it holds more than %s of Lua data (strings, tables, functions), the memory limit (Limits.MaxMemory); keep less at once, e.g. process list pages one by one", formatBytes(m.lim.MaxMemory))
}

func (m *meter) stop(msg string) { m.cancel(&errLimit{msg}) }

func (m *meter) allocs() uint64 {
	metrics.Read(m.sample[:1])
	if m.sample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return m.sample[0].Value.Uint64()
}

func (m *meter) heapObjects() int64 {
	metrics.Read(m.sample[1:])
	if m.sample[1].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(m.sample[1].Value.Uint64())
}

// stopped is the error that stopped the script, nil while it may run.
func (x *exec) stopped() error {
	if x.ctx.Err() != nil {
		return context.Cause(x.ctx)
	}
	return nil
}

// reserve forwards the library's reservations to the meter.
func (x *exec) reserve(n int64) error {
	if x.meter == nil {
		return nil
	}
	return x.meter.reserve(n)
}

func timeoutMessage(d time.Duration) string {
	return fmt.Sprintf("the script was stopped: time limit of %s exceeded (Limits.Timeout; cloudconvert lua and mcp take --timeout)", d)
}

// formatBytes writes n as MiB or GiB.
func formatBytes(n int64) string {
	if n >= 1<<30 && n%(1<<30) == 0 {
		return fmt.Sprintf("%d GiB", n>>30)
	}
	if n >= 1<<20 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
