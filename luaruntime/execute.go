package luaruntime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/cctoolkit/cloudconvert/integration"
	"github.com/cctoolkit/cloudconvert/integration/invoke"
	"github.com/cctoolkit/cloudconvert/luaruntime/safelib"
)

// Result is what a script did.
type Result struct {
	// Output is what print and dump wrote.
	Output string
	// Values are the script's return values, as JSON-like Go values.
	Values []any
	// Error is why the script failed, nil on success: an
	// *integration.Error when an integration call raised it and nothing
	// caught it, else a *ScriptError.
	Error    error
	Calls    []Call
	Duration time.Duration
}

// ScriptError is a failure of the script itself.
type ScriptError struct {
	// Kind is syntax, runtime, timeout, limit or canceled.
	Kind    string
	Message string
}

func (e *ScriptError) Error() string { return e.Message }

// errLimit stops a script that exceeded a limit.
type errLimit struct{ msg string }

func (e *errLimit) Error() string { return e.msg }

// exec is the state of one Execute.
type exec struct {
	r       *Runtime
	L       *lua.LState
	ctx     context.Context
	cancel  context.CancelCauseFunc
	out     strings.Builder
	calls   []Call
	arrayMT *lua.LTable
	errMT   *lua.LTable
	errs    map[*lua.LTable]*integration.Error // the error tables raised, for uncaught errors
	proxyMT *lua.LTable
	fnCache map[string]*lua.LFunction
	globals *lua.LTable
	bridge  map[string]lua.LValue
	lib     *safelib.Lib
	meter   *meter
}

// Execute runs code in a fresh sandboxed state.
func (r *Runtime) Execute(ctx context.Context, code string) *Result {
	return r.ExecuteFile(ctx, "<string>", code)
}

// ExecuteFile runs code read from the file name: errors and tracebacks
// name it ("job.lua:3: ...").
func (r *Runtime) ExecuteFile(ctx context.Context, name, code string) *Result {
	start := time.Now()
	clock := newScriptClock(ctx, r.lim.Timeout, &errLimit{timeoutMessage(r.lim.Timeout)})
	defer clock.stop()
	ctx, cancel := context.WithCancelCause(invoke.WithAskHook(clock, clock.pause))
	defer cancel(nil)
	x := &exec{r: r, ctx: ctx, cancel: cancel}
	res := &Result{}
	func() {
		defer func() {
			if p := recover(); p != nil {
				res.Error = &ScriptError{Kind: "runtime", Message: fmt.Sprintf("the Lua runtime failed: %v", p)}
			}
		}()
		x.L = r.newState()
		defer x.L.Close()
		x.install()
		x.meter = newMeter(ctx, cancel, x.L, r.lim)
		x.L.SetContext(x.meter)
		fn, err := x.lib.Load(x.L, code, name)
		if err != nil {
			res.Error = &ScriptError{Kind: "syntax", Message: "syntax error: " + cleanLuaMessage(err.Error())}
			return
		}
		if err := x.lib.PCall(x.L, fn); err != nil {
			res.Error = x.scriptError(err)
			return
		}
		if x.stopped() != nil {
			// The last call returned after a limit stopped the script.
			res.Error = x.scriptError(x.stopped())
			return
		}
		top := x.L.GetTop()
		for i := 1; i <= top; i++ {
			res.Values = append(res.Values, x.toGo(x.L.Get(i), 0, map[*lua.LTable]bool{}))
		}
	}()
	res.Output = r.Redact(x.out.String())
	res.Calls = x.calls
	res.Duration = time.Since(start)
	if res.Error != nil {
		res.Error = r.redactErr(res.Error)
	}
	return res
}

func (r *Runtime) redactErr(err error) error {
	switch e := err.(type) {
	case *integration.Error:
		c := *e
		c.Message = r.Redact(c.Message)
		return &c
	case *ScriptError:
		return &ScriptError{Kind: e.Kind, Message: r.Redact(e.Message)}
	}
	return errors.New(r.Redact(err.Error()))
}

func (x *exec) scriptError(err error) error {
	if cause := context.Cause(x.ctx); cause != nil {
		var lim *errLimit
		if errors.As(cause, &lim) {
			kind := "limit"
			if strings.Contains(lim.msg, "time limit") {
				kind = "timeout"
			}
			return &ScriptError{Kind: kind, Message: lim.msg}
		}
		return &ScriptError{Kind: "canceled", Message: "the script was stopped: " + cause.Error()}
	}
	var ae *lua.ApiError
	if errors.As(err, &ae) {
		if t, ok := ae.Object.(*lua.LTable); ok {
			if e, ok := x.errs[t]; ok {
				return e
			}
			// A table with __tostring reads as it says; error({code = 1})
			// shows the table, not its address.
			if mt, ok := t.Metatable.(*lua.LTable); ok && mt.RawGetString("__tostring") != lua.LNil {
				if msg, ok := x.safeToString(t); ok {
					return &ScriptError{Kind: "runtime", Message: "error: " + msg}
				}
			}
			return &ScriptError{Kind: "runtime", Message: "error: " + x.describeValue(t)}
		}
		if lv, ok := ae.Object.(lua.LString); ok {
			return &ScriptError{Kind: "runtime", Message: cleanLuaMessage(string(lv))}
		}
		if ae.Object != nil && ae.Object != lua.LNil {
			return &ScriptError{Kind: "runtime", Message: "error: " + x.L.ToStringMeta(ae.Object).String()}
		}
	}
	return &ScriptError{Kind: "runtime", Message: cleanLuaMessage(err.Error())}
}

// safeToString calls a value's __tostring, which is script code that may
// itself fail (the script's time limit still bounds it).
func (x *exec) safeToString(v lua.LValue) (s string, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	str, isStr := x.L.ToStringMeta(v).(lua.LString)
	return string(str), isStr
}

// describeValue renders a value a script raised, as dump would, cut short.
func (x *exec) describeValue(v lua.LValue) string {
	var b strings.Builder
	func() {
		defer func() { recover() }() // the output limit raises; the text so far is enough
		x.dumpValue(x.L, &b, v, 0, map[*lua.LTable]bool{})
	}()
	s := b.String()
	if len(s) > 2000 {
		s = s[:2000] + "…"
	}
	return s
}

// cleanLuaMessage drops gopher-lua's stack traceback.
func cleanLuaMessage(s string) string {
	if i := strings.Index(s, "\nstack traceback:"); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

// toGo converts a return value into a JSON-like Go value.
func (x *exec) toGo(v lua.LValue, depth int, seen map[*lua.LTable]bool) any {
	switch v := v.(type) {
	case *lua.LNilType:
		return nil
	case lua.LBool:
		return bool(v)
	case lua.LNumber:
		f := float64(v)
		if f == float64(int64(f)) && f < 1e15 && f > -1e15 {
			return int64(f)
		}
		return f
	case lua.LString:
		return x.r.Redact(string(v))
	case *lua.LTable:
		if seen[v] || depth > 100 {
			return "<cycle>"
		}
		if e, ok := x.errs[v]; ok {
			return ErrorFields(e)
		}
		seen[v] = true
		defer delete(seen, v)
		n := v.Len()
		count := 0
		v.ForEach(func(lua.LValue, lua.LValue) { count++ })
		if count == 0 {
			if isArrayTable(v) {
				return []any{}
			}
			return map[string]any{}
		}
		if n == count {
			out := make([]any, n)
			for i := 1; i <= n; i++ {
				out[i-1] = x.toGo(v.RawGetInt(i), depth+1, seen)
			}
			return out
		}
		out := map[string]any{}
		v.ForEach(func(k, val lua.LValue) {
			out[x.L.ToStringMeta(k).String()] = x.toGo(val, depth+1, seen)
		})
		return out
	case *lua.LUserData:
		return "<userdata>"
	case *lua.LFunction:
		return "<function>"
	}
	return v.String()
}

// ErrorFields is an error as JSON fields, the same in every envelope (the
// CLI's --json output, MCP tool errors, error values a script returns):
// the fields of integration.Error.Fields plus the text it reads as.
func ErrorFields(err error) map[string]any {
	if e, ok := integration.AsError(err); ok {
		m := e.Fields()
		if e.Where != "" {
			m["where"] = e.Where
		}
		m["text"] = e.Error()
		return m
	}
	var se *ScriptError
	if errors.As(err, &se) {
		return map[string]any{"kind": se.Kind, "message": se.Message, "text": se.Message}
	}
	return map[string]any{"message": err.Error(), "text": err.Error()}
}

// Envelope is a script's outcome as JSON: `cloudconvert lua --json` prints
// it and MCP's execute_lua returns it as structured content.
type Envelope struct {
	Success         bool           `json:"success"`
	Output          string         `json:"output"`
	Error           map[string]any `json:"error"`
	Result          any            `json:"result"`
	ExecutionTimeMS float64        `json:"execution_time_ms"`
	Calls           []Call         `json:"calls"`
}

// Envelope builds the JSON outcome: one returned value as it is, several as
// a list.
func (r *Result) Envelope() Envelope {
	env := Envelope{Success: r.Error == nil, Output: r.Output, ExecutionTimeMS: float64(r.Duration.Microseconds()) / 1000, Calls: r.Calls}
	if env.Calls == nil {
		env.Calls = []Call{}
	}
	switch len(r.Values) {
	case 0:
	case 1:
		env.Result = r.Values[0]
	default:
		env.Result = r.Values
	}
	if r.Error != nil {
		env.Error = ErrorFields(r.Error)
	}
	return env
}
