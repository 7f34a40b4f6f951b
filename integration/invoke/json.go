package invoke

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/cctoolkit/cloudconvert/integration"
	"github.com/cctoolkit/cloudconvert/internal/suggest"
)

// JSONCall is a call whose arguments are a JSON object, as the CLI's call
// command and the MCP tools receive them.
type JSONCall struct {
	Account  string
	Function string // create_job, cloudconvert.create_job or cloudconvert_create_job
	Args     []byte // a JSON object; empty for none
	// Extra fields override Args (the CLI's --param), in sorted order.
	Extra  map[string]any
	DryRun bool
}

// Outcome is a JSON call's result as the JSON surfaces report it.
type Outcome struct {
	Function string          `json:"function"`
	Kind     string          `json:"operation"`
	Account  string          `json:"account"`
	DryRun   bool            `json:"dry_run"`
	Method   string          `json:"method,omitempty"`
	URL      string          `json:"url,omitempty"`
	Body     json.RawMessage `json:"body,omitempty"` // the request body (dry runs)
	Data     json.RawMessage `json:"data,omitempty"` // the response body
	Status   int             `json:"status,omitempty"`
	// Err is the failure, nil on success.
	Err      *integration.Error `json:"-"`
	Duration time.Duration      `json:"-"`
}

// CallJSON checks and performs (or, with DryRun, only checks and shows) a
// call with JSON arguments. Messages are worded for JSON.
func (v *Invoker) CallJSON(ctx context.Context, c JSONCall) *Outcome {
	start := time.Now()
	name := strings.TrimPrefix(strings.TrimPrefix(c.Function, v.in.Slug+"."), v.in.Slug+"_")
	out := &Outcome{Function: v.in.Slug + "." + name, Account: accountName(c.Account), DryRun: c.DryRun}
	defer func() { out.Duration = time.Since(start) }()
	fn := v.in.Function(name)
	if fn == nil {
		names := v.in.FunctionNames()
		out.Err = &integration.Error{Kind: integration.KindArgument, Function: name, FullName: out.Function,
			Message: fmt.Sprintf("no such function%s; functions: %s", suggest.DidYouMean(name, names), strings.Join(names, ", "))}
		return out
	}
	out.Kind = fn.Kind.String()
	args, aerr := decodeArgs(fn, c.Args, c.Extra)
	if aerr != nil {
		out.Err = aerr
		return out
	}
	call := Call{Function: fn, Account: c.Account, Args: args, Dialect: integration.JSON}
	var res *Result
	var err *integration.Error
	if c.DryRun {
		res, err = v.DryRun(call)
	} else {
		res, err = v.Invoke(ctx, call)
	}
	if res != nil {
		out.Method, out.URL = res.Method, res.URL
		out.Status = res.Status
		if c.DryRun && res.RequestBody != nil {
			out.Body = res.RequestBody
		}
		if len(res.Body) > 0 && json.Valid(res.Body) {
			out.Data = json.RawMessage(v.Redact(string(res.Body)))
		}
	}
	if err != nil {
		if err.Status != 0 {
			out.Status = err.Status
		}
		out.Err = err
	}
	return out
}

func decodeArgs(fn *integration.Function, data []byte, extra map[string]any) (any, *integration.Error) {
	obj := integration.NewObject(len(extra))
	if len(strings.TrimSpace(string(data))) > 0 {
		v, err := integration.DecodeJSON(data, integration.JSONLimits{})
		if err != nil {
			return nil, fn.ArgError("", "the arguments are not valid JSON: "+err.Error())
		}
		o, ok := v.(*integration.Object)
		if !ok {
			return nil, fn.ArgError("", fmt.Sprintf("the arguments must be a JSON object of named arguments, like %s; got %s", exampleObject(fn), integration.JSON.Describe(v)))
		}
		obj = o
	}
	if len(extra) > 0 {
		more, err := integration.Normalize(extra)
		if err != nil {
			return nil, fn.ArgError("", err.Error())
		}
		for _, k := range more.(*integration.Object).Keys() {
			x, _ := more.(*integration.Object).Get(k)
			obj.Set(k, x)
		}
	}
	return obj, nil
}

func exampleObject(fn *integration.Function) string {
	for _, p := range fn.Params {
		if p.Required {
			return `{"` + p.Name + `": ...}`
		}
	}
	return "{}"
}
