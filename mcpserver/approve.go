package mcpserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cctoolkit/cloudconvert/integration/invoke"
)

// Calls the policy sets to ask (--write=ask) are approved by the person at
// the client, through MCP elicitation: a form with one boolean, "allow".
//
// Before protocol 2026-07-28 the server asks while it serves the call
// (ServerSession.Elicit) and the call goes on with the answer. From
// 2026-07-28 on (SEP-2322) a server may not send requests while it serves
// one: it answers input_required with the question, and the client calls
// the tool again with the answer. A call runs once, not once per round:
// its work (the function call, or the whole execute_lua script) waits at
// the question, parked under a random one-time requestState, and the
// retry that carries the answer resumes it. A client that cannot be asked
// (no elicitation capability) gets the call refused, saying so.

// protocolInputRequests is the first protocol version whose servers ask
// through input_required results.
const protocolInputRequests = "2026-07-28"

// approvalInput is the key of the question in inputRequests.
const approvalInput = "approval"

// maxParked bounds the calls waiting for an answer at once.
const maxParked = 64

// DefaultApprovalTimeout is how long a parked call waits for the client
// to come back with the answer before it is stopped.
const DefaultApprovalTimeout = 10 * time.Minute

var errCannotAsk = errors.New("this MCP client cannot be asked: it does not support elicitation (the elicitation capability)")

// parked is a call waiting at a question.
type parked struct {
	tool    string
	args    []byte // compacted, to check the retry is the same call
	asks    chan *mcp.ElicitParams
	answers chan answer
	done    chan *mcp.CallToolResult
	cancel  context.CancelCauseFunc
	timer   *time.Timer
}

type answer struct {
	ok  bool
	err error
}

// approve is the parked call's approver: it hands the question to the
// handler serving the call and waits for the answer of the next round.
func (p *parked) approve(ctx context.Context, req invoke.ApprovalRequest) (bool, error) {
	select {
	case p.asks <- elicitParams(req):
	case <-ctx.Done():
		return false, context.Cause(ctx)
	}
	select {
	case a := <-p.answers:
		return a.ok, a.err
	case <-ctx.Done():
		return false, context.Cause(ctx)
	}
}

// work is a tool's job given its arguments.
type work func(ctx context.Context, args json.RawMessage) *mcp.CallToolResult

// runAskable runs w for a call, so that what the policy sets to ask is
// asked of this call's client.
func (s *Server) runAskable(ctx context.Context, req *mcp.CallToolRequest, args json.RawMessage, w work) *mcp.CallToolResult {
	if req.Params.RequestState != "" || len(req.Params.InputResponses) > 0 {
		return s.resume(ctx, req, args)
	}
	caps := req.ClientCapabilities()
	switch {
	case caps == nil || caps.Elicitation == nil:
		return w(invoke.WithApprover(ctx, func(context.Context, invoke.ApprovalRequest) (bool, error) { return false, errCannotAsk }), args)
	case req.ProtocolVersion() < protocolInputRequests:
		ss := req.Session
		return w(invoke.WithApprover(ctx, func(ctx context.Context, ar invoke.ApprovalRequest) (bool, error) {
			res, err := ss.Elicit(ctx, elicitParams(ar))
			if err != nil {
				return false, fmt.Errorf("asking the client failed: %v", err)
			}
			return interpret(res)
		}), args)
	}
	p := &parked{
		tool: req.Params.Name, args: compactJSON(args),
		asks: make(chan *mcp.ElicitParams), answers: make(chan answer, 1), done: make(chan *mcp.CallToolResult, 1),
	}
	// The work outlives this request when it waits for an answer: it ends
	// by itself, by the request's cancellation (below), its timeout, or
	// the server's end.
	wctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	p.cancel = cancel
	wctx = invoke.WithApprover(wctx, p.approve)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				s.logPanic(req.Params.Name, r)
				p.done <- s.errorResult(map[string]any{"kind": "internal_error", "message": s.rt.Redact(fmt.Sprintf("the %s tool failed: %v", req.Params.Name, r))}, "")
			}
			cancel(nil)
		}()
		p.done <- w(wctx, args)
	}()
	return s.await(ctx, p)
}

// await serves one round of a call: its result, or its next question.
func (s *Server) await(ctx context.Context, p *parked) *mcp.CallToolResult {
	for {
		select {
		case r := <-p.done:
			return r
		case q := <-p.asks:
			state, err := s.park(p)
			if err != nil {
				p.answers <- answer{err: err}
				continue
			}
			return &mcp.CallToolResult{InputRequests: mcp.InputRequestMap{approvalInput: q}, RequestState: state}
		case <-ctx.Done():
			p.cancel(fmt.Errorf("the call was cancelled: %w", context.Cause(ctx)))
			return s.errorResult(map[string]any{"kind": "canceled", "message": "the call was cancelled"}, "")
		}
	}
}

// resume is the round that brings the answer to a parked call's question.
func (s *Server) resume(ctx context.Context, req *mcp.CallToolRequest, args json.RawMessage) *mcp.CallToolResult {
	refuse := func(msg string) *mcp.CallToolResult {
		return s.errorResult(map[string]any{"kind": "permission_denied", "message": msg}, "")
	}
	p := s.unpark(req.Params.RequestState)
	if p == nil {
		return refuse("the call this answer is for is unknown or no longer waits (answered already, timed out, or the server restarted); call the tool again")
	}
	if p.tool != req.Params.Name || !bytes.Equal(p.args, compactJSON(args)) {
		p.cancel(errors.New("the client answered with another call"))
		return refuse("the answer came with another tool or other arguments than the call that asked; that call was stopped: call the tool again")
	}
	a := answer{err: errors.New("the client answered without the approval (inputResponses." + approvalInput + ")")}
	if r, ok := req.Params.InputResponses[approvalInput].(*mcp.ElicitResult); ok {
		a.ok, a.err = interpret(r)
	}
	p.answers <- a
	return s.await(ctx, p)
}

// park keeps p under a new requestState until its answer comes.
func (s *Server) park(p *parked) (string, error) {
	var b [16]byte
	rand.Read(b[:])
	state := hex.EncodeToString(b[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.parked) >= maxParked {
		return "", fmt.Errorf("%d calls already wait for an answer; answer them first", maxParked)
	}
	s.parked[state] = p
	timeout := s.opts.ApprovalTimeout
	p.timer = time.AfterFunc(timeout, func() {
		if s.unpark(state) != nil {
			p.cancel(fmt.Errorf("no answer came within %s", timeout))
		}
	})
	return state, nil
}

// unpark takes the call parked under state, or nil.
func (s *Server) unpark(state string) *parked {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.parked[state]
	if p != nil {
		delete(s.parked, state)
		p.timer.Stop()
	}
	return p
}

// stopParked stops every parked call (the server is done serving).
func (s *Server) stopParked() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for state, p := range s.parked {
		delete(s.parked, state)
		p.timer.Stop()
		p.cancel(errors.New("the MCP server stopped"))
	}
}

func (s *Server) logPanic(tool string, r any) {
	if s.opts.Logger != nil {
		s.opts.Logger.Error("tool panicked", "tool", tool, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	}
}

// elicitParams is the question for one call.
func elicitParams(r invoke.ApprovalRequest) *mcp.ElicitParams {
	var b strings.Builder
	fmt.Fprintf(&b, "%s wants to %s with the account %q:\n%s %s\n", r.Function, r.Kind, r.Account, r.Method, r.URL)
	if r.Body != "" {
		body := r.Body
		if len(body) > 1000 {
			cut := 1000
			for cut > 0 && body[cut]&0xC0 == 0x80 {
				cut--
			}
			body = fmt.Sprintf("%s… (%d bytes)", body[:cut], len(r.Body))
		}
		b.WriteString(body + "\n")
	}
	b.WriteString("Allow this call?")
	return &mcp.ElicitParams{
		Mode:    "form",
		Message: b.String(),
		RequestedSchema: map[string]any{
			"type": "object",
			"properties": map[string]any{
				"allow": map[string]any{"type": "boolean", "title": "Allow", "description": "Allow this call"},
			},
			"required": []any{"allow"},
		},
	}
}

// interpret reads the client's answer: allowed only when the user
// accepted with allow = true.
func interpret(r *mcp.ElicitResult) (bool, error) {
	if r == nil {
		return false, errors.New("the client sent no answer")
	}
	switch r.Action {
	case "accept":
		if allow, _ := r.Content["allow"].(bool); allow {
			return true, nil
		}
		return false, errors.New("the user answered without allowing it (allow was not true)")
	case "decline":
		return false, errors.New("the user declined it")
	case "cancel":
		return false, errors.New("the user dismissed the question without answering")
	}
	return false, fmt.Errorf("the client answered %q, which is not accept, decline or cancel", r.Action)
}

func compactJSON(b []byte) []byte {
	var out bytes.Buffer
	if len(bytes.TrimSpace(b)) == 0 || json.Compact(&out, b) != nil {
		return bytes.TrimSpace(b)
	}
	return out.Bytes()
}
