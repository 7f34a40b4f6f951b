// Package mcpserver serves an integration over the Model Context Protocol
// with the official Go SDK: one tool per function of the integration's
// descriptor, plus the Lua runtime's agent tools (lua_list_docs,
// lua_search_docs, lua_read_doc, execute_lua) and the docs pages as
// resources. Nothing here is specific to one integration.
//
//	inv, _ := invoke.New(invoke.Options{Integration: desc, Accounts: set})
//	rt, _ := luaruntime.New(luaruntime.Options{Invoker: inv})
//	srv, _ := mcpserver.New(mcpserver.Options{Runtime: rt})
//	err := srv.Run(ctx, &mcp.StdioTransport{})
//
// Function tools go through the runtime's invoker (the code the Lua
// bindings and the CLI's call command use), execute_lua through
// [luaruntime.Runtime.Execute]. So argument checks, the policy, the
// transport's retries, errors and the hiding of API keys are shared.
//
// Write functions follow the runtime's policy: when it (and every
// account's permissions) denies writes they are not listed, and a call to
// one anyway is answered by the runtime's permission error. A call the
// policy sets to ask is put to the user through the client's elicitation
// (see approve.go), also inside execute_lua.
package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cctoolkit/cloudconvert/integration"
	"github.com/cctoolkit/cloudconvert/integration/invoke"
	"github.com/cctoolkit/cloudconvert/luaruntime"
)

// DefaultMaxOutput is the default cut of a tool result's text, in bytes.
const DefaultMaxOutput = 64 << 10

// AccountParam is the argument every function tool takes to pick a named
// account.
const AccountParam = "account"

// Options configure a Server.
type Options struct {
	// Runtime runs the calls and scripts; required. Its integration is
	// what the tools are derived from, and its policy decides whether
	// write tools are listed (they are unless it denies writes).
	Runtime *luaruntime.Runtime
	// DefaultAccount is the account a function tool uses when the call
	// gives none; "" for the default account.
	DefaultAccount string
	// MaxOutput cuts the text of a tool result (bytes); DefaultMaxOutput
	// when 0. A result cut this way carries no structured content.
	MaxOutput int
	// Name and Version are the server's implementation info;
	// "<slug>-mcp" and "dev" when empty.
	Name, Version string
	// Logger gets the SDK's and the server's logs; none when nil.
	Logger *slog.Logger
	// ApprovalTimeout is how long a call the policy sets to ask waits for
	// the client to come back with the answer (protocol 2026-07-28 and
	// later; see approve.go); DefaultApprovalTimeout when 0.
	ApprovalTimeout time.Duration
}

// Server is an MCP server for one integration. Its tools are safe for
// concurrent calls, from one session or many.
type Server struct {
	opts   Options
	rt     *luaruntime.Runtime
	in     *integration.Integration
	mcp    *mcp.Server
	max    int
	scheme string
	// listed are the tools' definitions, in the order they were added.
	listed []*mcp.Tool
	// hidden are write tools not listed under the policy; calls to them
	// still reach the runtime, which refuses them.
	hidden map[string]mcp.ToolHandler

	mu     sync.Mutex
	parked map[string]*parked // calls waiting for an answer, by requestState
}

// New builds the server and its tools, resources and instructions.
func New(opts Options) (*Server, error) {
	if opts.Runtime == nil {
		return nil, errors.New("mcpserver: Options.Runtime is required")
	}
	in := opts.Runtime.Integration()
	s := &Server{
		opts: opts, rt: opts.Runtime, in: in, max: opts.MaxOutput,
		scheme: in.Slug + "-docs", hidden: map[string]mcp.ToolHandler{}, parked: map[string]*parked{},
	}
	if s.max <= 0 {
		s.max = DefaultMaxOutput
	}
	if s.opts.ApprovalTimeout <= 0 {
		s.opts.ApprovalTimeout = DefaultApprovalTimeout
	}
	name, version := opts.Name, opts.Version
	if name == "" {
		name = in.Slug + "-mcp"
	}
	if version == "" {
		version = "dev"
	}
	s.mcp = mcp.NewServer(&mcp.Implementation{Name: name, Title: in.Name, Version: version}, &mcp.ServerOptions{
		Instructions: s.instructions(),
		Logger:       opts.Logger,
		HasTools:     true,
		HasResources: true,
	})
	if err := s.addFunctionTools(); err != nil {
		return nil, err
	}
	if err := s.addRuntimeTools(); err != nil {
		return nil, err
	}
	s.addResources()
	s.mcp.AddReceivingMiddleware(s.refuseHidden)
	return s, nil
}

// MCP returns the SDK server, e.g. to connect it to another transport.
func (s *Server) MCP() *mcp.Server { return s.mcp }

// Run serves one session over t (e.g. &mcp.StdioTransport{}) until the
// client disconnects or ctx is done.
func (s *Server) Run(ctx context.Context, t mcp.Transport) error {
	defer s.stopParked()
	return s.mcp.Run(ctx, t)
}

// Tools returns the listed tools' definitions, in order.
func (s *Server) Tools() []*mcp.Tool { return slices.Clone(s.listed) }

// WritesAllowed reports whether write tools are listed: the runtime's
// policy, or some account's permissions, do not deny writes.
func (s *Server) WritesAllowed() bool { return s.rt.Invoker().MayAllow(integration.Write) }

// DocURI is the resource URI of a docs page, e.g.
// cloudconvert-docs://cloudconvert.create_job.
func (s *Server) DocURI(page string) string { return s.scheme + "://" + page }

func (s *Server) instructions() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n", s.in.Description)
	fmt.Fprintf(&b, "Tools named %s_* call one API function each; their results are the API's JSON. ", s.in.Slug)
	fmt.Fprintf(&b, "execute_lua runs a Lua script with %s.* for multi-step work (create a job, wait for it, pick fields out of the results) in one call. ", s.in.LuaPath)
	b.WriteString("lua_list_docs, lua_search_docs and lua_read_doc read the reference, which is also served as resources")
	fmt.Fprintf(&b, " (%s://<page>). ", s.scheme)
	switch {
	case !s.WritesAllowed():
		b.WriteString("Write functions are disabled on this server (start it with --write=allow or --write=ask to enable them).")
	case s.rt.Policy().Write == invoke.Ask:
		b.WriteString("Before each write the server asks the user to approve it through the client (MCP elicitation); a refused call is answered with a permission_denied error.")
	}
	return strings.TrimSpace(b.String())
}

// addTool registers a tool, or keeps it hidden when listed is false.
func (s *Server) addTool(t *mcp.Tool, h mcp.ToolHandler, listed bool) {
	h = s.guard(t.Name, h)
	if !listed {
		s.hidden[t.Name] = h
		return
	}
	s.listed = append(s.listed, t)
	s.mcp.AddTool(t, h)
}

// guard turns a panic of a handler into a tool error, so one bad call
// never takes the server down.
func (s *Server) guard(name string, h mcp.ToolHandler) mcp.ToolHandler {
	return func(ctx context.Context, req *mcp.CallToolRequest) (res *mcp.CallToolResult, err error) {
		defer func() {
			if p := recover(); p != nil {
				s.logPanic(name, p)
				res, err = s.errorResult(map[string]any{"kind": "internal_error", "message": s.rt.Redact(fmt.Sprintf("the %s tool failed: %v", name, p))}, ""), nil
			}
		}()
		return h(ctx, req)
	}
}

// refuseHidden routes calls to unlisted write tools to their handlers,
// where the runtime refuses them with its permission error (instead of the
// SDK's "unknown tool" protocol error).
func (s *Server) refuseHidden(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		if method == "tools/call" {
			if r, ok := req.(*mcp.CallToolRequest); ok && r.Params != nil {
				if h, ok := s.hidden[r.Params.Name]; ok {
					return h(ctx, r)
				}
			}
		}
		return next(ctx, method, req)
	}
}

// FunctionTool derives the tool of one function: its MCP tool name, its
// description, its InputSchema (from the descriptor) with the optional
// account property, and readOnlyHint for reads or destructiveHint for
// writes.
func FunctionTool(f *integration.Function, accountNames []string) (*mcp.Tool, error) {
	schema, ok := integration.ToGo(f.InputSchema()).(map[string]any)
	if !ok {
		return nil, fmt.Errorf("function %s: the input schema is not an object", f.FullName)
	}
	props, _ := schema["properties"].(map[string]any)
	if props == nil {
		props = map[string]any{}
	}
	if _, clash := props[AccountParam]; clash {
		return nil, fmt.Errorf("function %s has a parameter named %q, which the MCP server uses to pick the account", f.FullName, AccountParam)
	}
	props[AccountParam] = AccountSchema(accountNames)
	schema["properties"] = props
	desc := f.Description
	if desc == "" {
		desc = f.Summary
	}
	t := &mcp.Tool{Name: f.ToolName, Description: desc, InputSchema: schema}
	if f.Kind == integration.Write {
		t.Annotations = &mcp.ToolAnnotations{DestructiveHint: ptr(true)}
	} else {
		t.Annotations = &mcp.ToolAnnotations{ReadOnlyHint: true}
	}
	return t, nil
}

// AccountSchema is the JSON Schema of the account argument.
func AccountSchema(names []string) map[string]any {
	desc := "The named account to call with; the default account when omitted."
	if len(names) > 0 {
		desc += " Configured: " + strings.Join(names, ", ") + "."
	}
	return map[string]any{"type": "string", "description": desc}
}

func ptr[T any](v T) *T { return &v }

func (s *Server) addFunctionTools() error {
	names := s.rt.Accounts().Names()
	writes := s.WritesAllowed()
	seen := map[string]bool{}
	for _, f := range s.in.Functions {
		t, err := FunctionTool(f, names)
		if err != nil {
			return err
		}
		if seen[t.Name] {
			return fmt.Errorf("two functions have the MCP tool name %q", t.Name)
		}
		seen[t.Name] = true
		s.addTool(t, s.functionHandler(f), f.Kind != integration.Write || writes)
	}
	return nil
}

func (s *Server) functionHandler(f *integration.Function) mcp.ToolHandler {
	return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return s.runAskable(ctx, req, req.Params.Arguments, func(ctx context.Context, raw json.RawMessage) *mcp.CallToolResult {
			return s.callFunction(ctx, f, raw)
		}), nil
	}
}

// callFunction is a function tool's work.
func (s *Server) callFunction(ctx context.Context, f *integration.Function, raw json.RawMessage) *mcp.CallToolResult {
	account, args, err := splitAccount(raw)
	if err != nil {
		return s.errorResult(map[string]any{
			"kind": "invalid_argument", "function": f.Name, "param": err.param, "message": err.msg,
			"text": f.FullName + ": " + err.Error(),
		}, s.docHint(f.DocPage))
	}
	if account == "" {
		account = s.opts.DefaultAccount
	}
	res := s.rt.Invoker().CallJSON(ctx, invoke.JSONCall{Account: account, Function: f.Name, Args: args})
	if res.Err != nil {
		hint := ""
		if res.Err.Kind == integration.KindArgument {
			hint = s.docHint(f.DocPage)
		}
		return s.errorResult(luaruntime.ErrorFields(res.Err), hint)
	}
	return s.dataResult(res.Data, res.Status)
}

func (s *Server) docHint(page string) string {
	if page == "" {
		return ""
	}
	return fmt.Sprintf("The parameters are described in lua_read_doc(%q) and the resource %s.", page, s.DocURI(page))
}

// argError is a bad argument found before the runtime sees the call.
type argError struct{ param, msg string }

func (e *argError) Error() string {
	if e.param == "" {
		return e.msg
	}
	return e.param + ": " + e.msg
}

// splitAccount takes the account argument out of a call's arguments and
// returns the rest as a JSON object, in the order given.
func splitAccount(raw json.RawMessage) (string, []byte, *argError) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return "", []byte("{}"), nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "", nil, &argError{msg: "the arguments must be a JSON object"}
	}
	var account string
	out := []byte{'{'}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", nil, &argError{msg: "the arguments are not valid JSON: " + err.Error()}
		}
		key, _ := tok.(string)
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return "", nil, &argError{param: key, msg: "not valid JSON: " + err.Error()}
		}
		if key == AccountParam {
			if string(val) == "null" {
				continue
			}
			if err := json.Unmarshal(val, &account); err != nil {
				return "", nil, &argError{param: AccountParam, msg: "must be a string (the name of a configured account), got " + jsonKind(val)}
			}
			continue
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		k, _ := json.Marshal(key)
		out = append(out, k...)
		out = append(out, ':')
		out = append(out, val...)
	}
	return account, append(out, '}'), nil
}

func jsonKind(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}
