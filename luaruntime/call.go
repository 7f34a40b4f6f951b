package luaruntime

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/cctoolkit/cloudconvert/internal/suggest"
	"github.com/cctoolkit/cloudconvert/luaruntime/bind"
)

type invoked struct {
	body []byte
	err  *bind.Error
	prep *Prepared
}

// invoke validates, authorizes and sends one call, filling c.
func (r *Runtime) invoke(ctx context.Context, fn *bind.Function, account string, args lua.LValue, nargs int, c *Call) (out invoked) {
	start := time.Now()
	defer func() {
		c.Duration = time.Since(start)
		c.Millis = float64(c.Duration.Microseconds()) / 1000
		if out.err != nil {
			c.Outcome = out.err.Kind
			c.Status = out.err.Status
		} else {
			c.Outcome = "ok"
		}
	}()
	if nargs > 1 {
		out.err = &bind.Error{Kind: bind.KindArgument, Function: fn.Name, FullName: fn.FullName, Message: fmt.Sprintf("takes one table of named arguments, got %d arguments", nargs)}
		return out
	}
	req, err := fn.Build(args)
	if err != nil {
		out.err = err.(*bind.Error)
		return out
	}
	prep, be := r.prepare(fn, account, req)
	if be != nil {
		out.err = be
		return out
	}
	out.prep = prep
	if be := r.authorize(ctx, prep); be != nil {
		out.err = be
		return out
	}
	body, status, be := r.send(ctx, prep)
	c.Status = status
	out.body, out.err = body, be
	return out
}

// CallResult is the outcome of Runtime.Call.
type CallResult struct {
	Function  string          `json:"function"`
	Operation string          `json:"operation"`
	Account   string          `json:"account"`
	DryRun    bool            `json:"dry_run"`
	Method    string          `json:"method,omitempty"`
	URL       string          `json:"url,omitempty"`
	Body      json.RawMessage `json:"body,omitempty"` // the request body (dry runs)
	Data      json.RawMessage `json:"data,omitempty"` // the response body
	Status    int             `json:"status,omitempty"`
	Err       *bind.Error     `json:"-"`
	Duration  time.Duration   `json:"-"`
}

// Call runs one function outside Lua with JSON-like arguments (as decoded
// by encoding/json with UseNumber, or plain Go values). With dryRun it
// validates and reports the request without the policy check or sending.
// Arguments are checked by the same code as Lua calls.
func (r *Runtime) Call(ctx context.Context, account, function string, args map[string]any, dryRun bool) *CallResult {
	return r.call(ctx, account, function, func(L *lua.LState) (lua.LValue, error) { return GoToLua(L, args) }, dryRun)
}

// CallJSON is Call with the arguments as a JSON object (field order kept),
// plus extra fields that override it (the CLI's --param).
func (r *Runtime) CallJSON(ctx context.Context, account, function string, argsJSON []byte, extra map[string]any, dryRun bool) *CallResult {
	return r.call(ctx, account, function, func(L *lua.LState) (lua.LValue, error) {
		var t *lua.LTable
		if len(strings.TrimSpace(string(argsJSON))) > 0 {
			d := bind.Decoder{L: L}
			v, err := d.Decode(argsJSON, nil)
			if err != nil {
				return nil, fmt.Errorf("the arguments are not JSON: %v", err)
			}
			tt, ok := v.(*lua.LTable)
			if !ok {
				return nil, fmt.Errorf("the arguments must be a JSON object")
			}
			t = tt
		} else {
			t = L.NewTable()
		}
		keys := make([]string, 0, len(extra))
		for k := range extra {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v, err := GoToLua(L, extra[k])
			if err != nil {
				return nil, err
			}
			t.RawSetString(k, v)
		}
		return t, nil
	}, dryRun)
}

func (r *Runtime) call(ctx context.Context, account, function string, mkArgs func(*lua.LState) (lua.LValue, error), dryRun bool) *CallResult {
	start := time.Now()
	name := strings.TrimPrefix(function, r.in.Slug+".")
	res := &CallResult{Function: r.in.Slug + "." + name, Account: account, DryRun: dryRun}
	if res.Account == "" {
		res.Account = "default"
	}
	defer func() { res.Duration = time.Since(start) }()
	fn := r.in.Function(name)
	if fn == nil {
		res.Err = &bind.Error{Kind: bind.KindArgument, Function: name, FullName: res.Function, Message: fmt.Sprintf("no such function%s; functions: %s", suggest.DidYouMean(name, r.in.FunctionNames()), strings.Join(r.in.FunctionNames(), ", "))}
		return res
	}
	res.Operation = fn.Operation
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	lv, err := mkArgs(L)
	if err != nil {
		res.Err = &bind.Error{Kind: bind.KindArgument, Function: fn.Name, FullName: fn.FullName, Message: err.Error()}
		return res
	}
	if dryRun {
		req, err := fn.Build(lv)
		if err != nil {
			res.Err = err.(*bind.Error)
			return res
		}
		res.Method = fn.Method
		base := r.in.Servers[0].Live
		for _, s := range r.in.Servers {
			if s.Name == fn.Server {
				base = s.Live
			}
		}
		if p, be := r.prepare(fn, account, req); be == nil {
			base = p.BaseURL
		}
		res.URL = req.URL(base)
		res.Body = req.Body
		return res
	}
	var c Call
	out := r.invoke(ctx, fn, account, lv, 1, &c)
	if out.prep != nil {
		res.Method, res.URL = fn.Method, out.prep.URL()
	}
	res.Status = c.Status
	if out.err != nil {
		e := *out.err
		e.Message = r.Redact(e.Message)
		res.Err = &e
		return res
	}
	if len(out.body) > 0 && json.Valid(out.body) {
		res.Data = json.RawMessage(r.Redact(string(out.body)))
	}
	return res
}

// GoToLua converts JSON-like Go values (nil, bool, numbers, json.Number,
// string, []any, map[string]any) into Lua values.
func GoToLua(L *lua.LState, v any) (lua.LValue, error) {
	switch v := v.(type) {
	case nil:
		return lua.LNil, nil
	case bool:
		return lua.LBool(v), nil
	case float64:
		return lua.LNumber(v), nil
	case int:
		return lua.LNumber(v), nil
	case int64:
		return lua.LNumber(v), nil
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return nil, fmt.Errorf("bad number %s", v)
		}
		return lua.LNumber(f), nil
	case string:
		return lua.LString(v), nil
	case []any:
		t := L.CreateTable(len(v), 0)
		for _, item := range v {
			lv, err := GoToLua(L, item)
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
			lv, err := GoToLua(L, v[k])
			if err != nil {
				return nil, err
			}
			t.RawSetString(k, lv)
		}
		return t, nil
	}
	return nil, fmt.Errorf("cannot convert %T", v)
}
