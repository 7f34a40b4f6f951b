// Package invoke performs an integration's calls for every surface (Lua,
// the CLI's call, the MCP tools): it checks the arguments against the
// descriptor, picks the account and its base URL, applies the read/write
// policy, sends the request through the one transport and turns every
// failure into an *integration.Error. Functions that wait (the descriptor's
// Wait) block on their server, or poll where it is not available.
//
// Nothing here is specific to one integration.
package invoke

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cctoolkit/cloudconvert/accounts"
	"github.com/cctoolkit/cloudconvert/apierror"
	"github.com/cctoolkit/cloudconvert/integration"
	"github.com/cctoolkit/cloudconvert/integration/transport"
)

// Decision is what the policy says about a kind of function.
type Decision string

// Decisions.
const (
	Allow Decision = "allow"
	Ask   Decision = "ask" // the Approver decides
	Deny  Decision = "deny"
)

// ParseDecision reads allow, ask or deny.
func ParseDecision(s string) (Decision, bool) {
	switch d := Decision(s); d {
	case Allow, Ask, Deny:
		return d, true
	}
	return "", false
}

// Policy holds a Decision per kind of function.
type Policy struct {
	Read  Decision `json:"read"`
	Write Decision `json:"write"`
}

// Headless is the policy without a person to ask: reads allowed, writes
// denied unless allowWrite.
func Headless(allowWrite bool) Policy {
	if allowWrite {
		return Policy{Read: Allow, Write: Allow}
	}
	return Policy{Read: Allow, Write: Deny}
}

// Decide returns the decision for a kind; anything unset is Deny.
func (p Policy) Decide(k integration.Kind) Decision {
	var d Decision
	switch k {
	case integration.Read:
		d = p.Read
	case integration.Write:
		d = p.Write
	}
	if d == "" {
		return Deny
	}
	return d
}

// ApprovalRequest is what an Approver is asked about.
type ApprovalRequest struct {
	Function string // cloudconvert.create_job
	Kind     integration.Kind
	Account  string
	Method   string
	URL      string
	Body     string // the JSON body, if any
}

// Approver decides an Ask. An error counts as a refusal.
type Approver func(ctx context.Context, req ApprovalRequest) (bool, error)

// Options configure an Invoker.
type Options struct {
	Integration *integration.Integration // required
	// Accounts are the configured accounts; nil means none.
	Accounts *accounts.Set
	// Policy per kind; the zero value is replaced by Headless(false).
	Policy   Policy
	Approver Approver
	// HTTPClient sends the requests; a client over transport.New (with
	// UserAgent and the accounts' keys as secrets) when nil. A client of
	// your own should use a transport.Transport too, or lose the retries.
	HTTPClient *http.Client
	UserAgent  string
	// MaxResponse bounds one response body; default 64 MiB.
	MaxResponse int64
	// PollInterval is the first interval of a wait that polls (default 1s,
	// growing to 10s).
	PollInterval time.Duration
	// DenyHint is added to permission errors of writes the policy refused,
	// e.g. "run with --allow-write"; ReadDenyHint to those of reads.
	DenyHint     string
	ReadDenyHint string
	// NoAccountHint is the message when the default account is used but
	// none is configured.
	NoAccountHint string
	// Workspace is the folder transfer functions (the descriptor's
	// Transfer) read and write local files in; paths that leave it are
	// refused. "": transfer functions are refused.
	Workspace string
	// WorkspaceHint is added to the error of a transfer when no
	// workspace is set, e.g. "run with --workspace DIR".
	WorkspaceHint string
	// MaxDownload bounds each file a transfer downloads; default 4 GiB.
	MaxDownload int64
	// Check, when set, looks at each call after its arguments are checked
	// and the policy allowed it, before the request is sent: rules of the
	// service the schemas cannot say (say, the operations and options a
	// server performs). An error stops the call, nothing sent. A call the
	// policy refuses is never checked, so it sends nothing at all, not
	// even what the check would fetch.
	Check func(ctx context.Context, p *Prepared) *integration.Error
}

// Invoker performs calls. It is safe for concurrent use.
type Invoker struct {
	in      *integration.Integration
	opts    Options
	accts   *accounts.Set
	policy  atomic.Pointer[Policy]
	hc      *http.Client
	secrets []string
}

// New makes an Invoker.
func New(opts Options) (*Invoker, error) {
	if opts.Integration == nil {
		return nil, errors.New("invoke: Options.Integration is required")
	}
	v := &Invoker{in: opts.Integration, opts: opts, accts: opts.Accounts}
	if v.accts == nil {
		v.accts = accounts.NewSet(nil)
	}
	for _, name := range v.accts.Names() {
		if v.in.Function(name) != nil {
			return nil, fmt.Errorf("account name %q clashes with the function %s.%s; rename the account", name, v.in.Slug, name)
		}
		if a, err := v.accts.Get(name); err == nil {
			v.addSecret(a.APIKey.Reveal())
		}
	}
	if d := v.accts.Default(); d != nil {
		v.addSecret(d.APIKey.Reveal())
	}
	p := opts.Policy
	if p == (Policy{}) {
		p = Headless(false)
	}
	v.policy.Store(&p)
	v.hc = opts.HTTPClient
	if v.hc == nil {
		v.hc = transport.New(transport.Options{UserAgent: opts.UserAgent, Secrets: v.secrets}).Client()
	}
	if v.opts.MaxResponse <= 0 {
		v.opts.MaxResponse = 64 << 20
	}
	if v.opts.PollInterval <= 0 {
		v.opts.PollInterval = time.Second
	}
	return v, nil
}

func (v *Invoker) addSecret(s string) {
	if len(s) >= 4 {
		v.secrets = append(v.secrets, s)
	}
}

// Integration is the descriptor calls are made against.
func (v *Invoker) Integration() *integration.Integration { return v.in }

// Accounts are the configured accounts.
func (v *Invoker) Accounts() *accounts.Set { return v.accts }

// HTTPClient is the client requests go through.
func (v *Invoker) HTTPClient() *http.Client { return v.hc }

// SetPolicy changes the policy; calls already running keep their decision.
func (v *Invoker) SetPolicy(p Policy) { v.policy.Store(&p) }

// Policy returns the current policy.
func (v *Invoker) Policy() Policy { return *v.policy.Load() }

// Redact replaces every configured API key in s with [redacted].
func (v *Invoker) Redact(s string) string {
	for _, k := range v.secrets {
		if strings.Contains(s, k) {
			s = strings.ReplaceAll(s, k, "[redacted]")
		}
	}
	return s
}

// Call is one function to call.
type Call struct {
	Function *integration.Function
	Account  string // "" for the default account
	Args     any    // an *integration.Object (or nil)
	Dialect  integration.Dialect
}

// Result is a call's outcome.
type Result struct {
	Account string
	Method  string
	URL     string
	// RequestBody is the JSON body that was (or, for a dry run, would be)
	// sent.
	RequestBody []byte
	// Body is the success answer's body (nil for 204).
	Body     []byte
	Status   int
	Attempts int
	Duration time.Duration
}

// Prepared is a checked call with its account, before the policy.
type Prepared struct {
	Function *integration.Function
	Account  *accounts.Account
	Request  *integration.Request
	BaseURL  string
}

// URL is the request URL.
func (p *Prepared) URL() string { return p.Request.URL(p.BaseURL) }

// Prepare checks the arguments and resolves the account and base URL.
// Nothing is sent and the policy is not asked.
func (v *Invoker) Prepare(c Call) (*Prepared, *integration.Error) {
	req, err := c.Function.Build(c.Args, c.Dialect)
	if err != nil {
		return nil, err
	}
	acct, base, err := v.account(c.Function, c.Account, c.Function.Server)
	if err != nil {
		return nil, err
	}
	if c.Function.Transfer != nil {
		base = "" // no request of its own
	}
	return &Prepared{Function: c.Function, Account: acct, Request: req, BaseURL: base}, nil
}

// DryRun checks a call and says what would be sent. Without an account it
// shows the server's live URL.
func (v *Invoker) DryRun(c Call) (*Result, *integration.Error) {
	req, err := c.Function.Build(c.Args, c.Dialect)
	if err != nil {
		return nil, err
	}
	if c.Function.Transfer != nil {
		return v.dryRunTransfer(c, req)
	}
	res := &Result{Account: accountName(c.Account), Method: c.Function.Method, RequestBody: req.Body}
	if _, base, aerr := v.account(c.Function, c.Account, c.Function.Server); aerr == nil {
		res.URL = req.URL(base)
	} else {
		res.URL = req.URL(c.Function.Server.Live)
	}
	return res, nil
}

func accountName(a string) string {
	if a == "" {
		return accounts.DefaultName
	}
	return a
}

func (v *Invoker) account(fn *integration.Function, name string, srv *integration.Server) (*accounts.Account, string, *integration.Error) {
	acct, err := v.accts.Get(name)
	if err != nil {
		msg := err.Error()
		if errors.Is(err, accounts.ErrNoDefault) {
			msg = v.opts.NoAccountHint
			if msg == "" {
				env := v.in.Auth.Env
				if env == "" {
					env = "the API key variable"
				}
				msg = "no " + v.in.Name + " account is configured: set " + env + " (or configure named accounts)"
			}
		}
		return nil, "", &integration.Error{Kind: integration.KindAccount, Function: fn.Name, FullName: fn.FullName, Message: v.Redact(msg)}
	}
	base := acct.ServerURL(srv.Name, v.in.IsFirstServer(srv), srv.Live, srv.Sandbox, srv.Region)
	if base == "" && fn.Wait == nil {
		return nil, "", &integration.Error{Kind: integration.KindAccount, Function: fn.Name, FullName: fn.FullName,
			Message: fmt.Sprintf("the account %q has no URL for the %s server (%s); configure one", acct.Name, srv.Name, srv.Description)}
	}
	return acct, base, nil
}

// Invoke checks, authorizes and sends one call.
func (v *Invoker) Invoke(ctx context.Context, c Call) (*Result, *integration.Error) {
	start := time.Now()
	p, err := v.Prepare(c)
	if err != nil {
		return nil, err
	}
	res := &Result{Account: accountName(c.Account), Method: p.Function.Method, URL: p.URL(), RequestBody: p.Request.Body}
	defer func() { res.Duration = time.Since(start) }()
	if p.Function.Transfer != nil {
		return v.transfer(ctx, p, res)
	}
	if err := v.Authorize(ctx, p); err != nil {
		return res, err
	}
	if err := v.check(ctx, p); err != nil {
		return res, err
	}
	if t := p.Request.Timeout; t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, t, fmt.Errorf("%s took longer than its timeout of %s", p.Function.FullName, t))
		defer cancel()
	}
	var body []byte
	var status, attempts int
	if p.Function.Wait != nil {
		body, status, attempts, err = v.wait(ctx, p)
	} else {
		body, status, attempts, err = v.send(ctx, p.Function, p.Account, p.URL(), p.Request.Body, false)
	}
	res.Body, res.Status, res.Attempts = body, status, attempts
	return res, err
}

// check runs Options.Check on an authorized call.
func (v *Invoker) check(ctx context.Context, p *Prepared) *integration.Error {
	if v.opts.Check == nil {
		return nil
	}
	err := v.opts.Check(ctx, p)
	if err != nil {
		if err.Function == "" {
			err.Function, err.FullName = p.Function.Name, p.Function.FullName
		}
		err.Message = v.Redact(err.Message)
	}
	return err
}

// Authorize applies the policy to a prepared call: the account's own
// permissions for the function's kind when it has some (see
// accounts.Set.Permission), else the Invoker's policy. An Ask goes to the
// context's approver (WithApprover), else Options.Approver; with neither,
// the call is refused.
func (v *Invoker) Authorize(ctx context.Context, p *Prepared) *integration.Error {
	fn := p.Function
	d, from := v.Decide(fn.Kind, p.Account)
	kinds := fn.Kind.String() + " operations"
	deny := func(why string) *integration.Error {
		msg := kinds + " " + why
		if hint := v.hint(fn.Kind, p.Account, from); hint != "" {
			msg += "; " + hint
		}
		return &integration.Error{Kind: integration.KindPermission, Function: fn.Name, FullName: fn.FullName, Message: msg}
	}
	if from != nil {
		kinds += " of the account " + strconv.Quote(p.Account.Name)
	}
	switch d {
	case Allow:
		return nil
	case Ask:
		approve := approverFrom(ctx)
		if approve == nil {
			approve = v.opts.Approver
		}
		if approve == nil {
			return deny("are set to ask, but no one can be asked here")
		}
		if hook, _ := ctx.Value(askHookKey{}).(func() func()); hook != nil {
			defer hook()()
		}
		ok, err := approve(ctx, ApprovalRequest{
			Function: fn.FullName, Kind: fn.Kind, Account: p.Account.Name,
			Method: fn.Method, URL: v.Redact(p.URL()), Body: v.Redact(string(p.Request.Body)),
		})
		switch {
		case err != nil:
			return deny("are set to ask, and the call was not approved: " + v.Redact(err.Error()))
		case !ok:
			return deny("are set to ask, and this call was refused")
		}
		return nil
	}
	return deny("are not allowed")
}

// Decide is the decision for a kind of call on acct, and the account
// whose permissions give it (nil when the Invoker's policy decides).
func (v *Invoker) Decide(k integration.Kind, acct *accounts.Account) (Decision, *accounts.Account) {
	if acct != nil {
		if d, from := v.accts.Permission(acct, k.String()); d != "" {
			return Decision(d), from
		}
	}
	return v.Policy().Decide(k), nil
}

// MayAllow says whether some call of kind k could be allowed (at once or
// after asking): the policy or some configured account's permissions do
// not deny it. Servers use it to decide what to offer.
func (v *Invoker) MayAllow(k integration.Kind) bool {
	if v.Policy().Decide(k) != Deny {
		return true
	}
	for _, a := range v.accts.All() {
		if d, _ := v.accts.Permission(a, k.String()); d != "" && Decision(d) != Deny {
			return true
		}
	}
	return false
}

// hint says how to allow what was refused: the options' hint when the
// policy decided, the accounts file when an account's permissions did.
func (v *Invoker) hint(k integration.Kind, acct, from *accounts.Account) string {
	if from == nil {
		if k == integration.Write {
			return v.opts.DenyHint
		}
		return v.opts.ReadDenyHint
	}
	where := "its permissions"
	if from != acct {
		where = fmt.Sprintf("the permissions of the account %q, which has the same API key", from.Name)
	}
	return fmt.Sprintf("%s (%s) decide this, not the command line: change permissions.%s there to allow it", where, from.Source, k)
}

type approverKey struct{}

// WithApprover returns ctx whose calls' Asks go to a, in place of
// Options.Approver: a server asks the client of the request at hand.
func WithApprover(ctx context.Context, a Approver) context.Context {
	return context.WithValue(ctx, approverKey{}, a)
}

type askHookKey struct{}

// WithAskHook returns ctx whose asks call hook before the approver decides
// and the function hook returns after: the Lua runtime stops a script's
// time limit while a person reads the question.
func WithAskHook(ctx context.Context, hook func() (done func())) context.Context {
	return context.WithValue(ctx, askHookKey{}, hook)
}

func approverFrom(ctx context.Context) Approver {
	a, _ := ctx.Value(approverKey{}).(Approver)
	return a
}

// send makes one request through the transport and reads the answer.
func (v *Invoker) send(ctx context.Context, fn *integration.Function, acct *accounts.Account, url string, body []byte, long bool) ([]byte, int, int, *integration.Error) {
	var stats transport.Stats
	ctx = transport.WithClass(ctx, transport.Class{Retry: fn.Retry, Long: long, Function: fn.FullName, Stats: &stats})
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(string(body))
	}
	req, err := http.NewRequestWithContext(ctx, fn.Method, url, rd)
	if err != nil {
		return nil, 0, 0, &integration.Error{Kind: integration.KindTransport, Function: fn.Name, FullName: fn.FullName, Message: "bad URL: " + v.Redact(err.Error())}
	}
	v.in.Auth.Apply(req.Header, acct.APIKey.Reveal())
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := v.hc.Do(req)
	if err != nil {
		return nil, 0, stats.Attempts, v.transportError(ctx, fn, err, stats)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, v.opts.MaxResponse+1))
	if err != nil {
		return nil, resp.StatusCode, stats.Attempts, &integration.Error{Kind: integration.KindTransport, Function: fn.Name, FullName: fn.FullName, Status: resp.StatusCode,
			Message: "reading the response: " + v.Redact(err.Error()), OutcomeUnknown: fn.Retry == integration.RetryUnsent, Attempts: stats.Attempts, Err: err}
	}
	if int64(len(data)) > v.opts.MaxResponse {
		return nil, resp.StatusCode, stats.Attempts, &integration.Error{Kind: integration.KindResponse, Function: fn.Name, FullName: fn.FullName, Status: resp.StatusCode,
			Message: fmt.Sprintf("the response is larger than %d bytes", v.opts.MaxResponse), Attempts: stats.Attempts}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, resp.StatusCode, stats.Attempts, v.apiError(fn, resp, data, stats.Attempts)
	}
	if len(data) == 0 {
		data = nil
	}
	return data, resp.StatusCode, stats.Attempts, nil
}

// ResponseError is the error of an answer that is not a success (or a
// success whose body the caller could not use: status 2xx), for callers
// that sent fn's request themselves (the typed Go client).
func (v *Invoker) ResponseError(fn *integration.Function, resp *http.Response, body []byte, attempts int) *integration.Error {
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return &integration.Error{Kind: integration.KindResponse, Function: fn.Name, FullName: fn.FullName, Status: resp.StatusCode,
			Message: fmt.Sprintf("the answer is not %s's JSON (Content-Type %q, %d bytes)", fn.Name, resp.Header.Get("Content-Type"), len(body)), Attempts: attempts}
	}
	return v.apiError(fn, resp, body, attempts)
}

// TransportError is the error of a request that got no answer, for
// callers that sent fn's request themselves.
func (v *Invoker) TransportError(ctx context.Context, fn *integration.Function, err error, stats transport.Stats) *integration.Error {
	return v.transportError(ctx, fn, err, stats)
}

// apiError turns an error answer into an *integration.Error. A write
// answered 5xx may have taken effect: it says so.
func (v *Invoker) apiError(fn *integration.Function, resp *http.Response, body []byte, attempts int) *integration.Error {
	ae := apierror.FromResponse(resp, body)
	ae.Function = fn.Name
	ae.Message = v.Redact(ae.Message)
	for k, msgs := range ae.Errors {
		for i := range msgs {
			msgs[i] = v.Redact(msgs[i])
		}
		ae.Errors[k] = msgs
	}
	return &integration.Error{
		Kind: integration.KindAPI, Function: fn.Name, FullName: fn.FullName,
		Status: ae.Status, Code: ae.Code, Message: ae.Message, Errors: ae.Errors, RetryAfter: ae.RetryAfter,
		RequestID:      firstHeader(resp.Header, "X-Request-Id", "X-Request-ID", "Request-Id"),
		OutcomeUnknown: fn.Retry == integration.RetryUnsent && resp.StatusCode >= 500,
		Attempts:       attempts, Err: ae,
	}
}

func firstHeader(h http.Header, keys ...string) string {
	for _, k := range keys {
		if v := h.Get(k); v != "" {
			return v
		}
	}
	return ""
}

func (v *Invoker) transportError(ctx context.Context, fn *integration.Function, err error, stats transport.Stats) *integration.Error {
	msg := err.Error()
	var te *transport.Error
	reached := stats.Reached
	if errors.As(err, &te) {
		msg = te.What
		if te.Err != nil {
			msg += ": " + te.Err.Error()
		}
		reached = te.Reached
	}
	if ctx.Err() != nil {
		msg = "the request was stopped: " + context.Cause(ctx).Error()
	}
	return &integration.Error{
		Kind: integration.KindTransport, Function: fn.Name, FullName: fn.FullName, Message: v.Redact(msg),
		OutcomeUnknown: fn.Retry == integration.RetryUnsent && reached, Attempts: stats.Attempts, Err: err,
	}
}
