// Package luaruntime runs agent Lua scripts in a sandboxed gopher-lua state
// with the integration's functions under app.integrations.<slug>.*, the
// runtime docs, json and dump helpers, permissions per operation type, and
// limits on time, call depth, output and string sizes.
//
//	rt, _ := luaruntime.New(luaruntime.Options{Accounts: set, Policy: luaruntime.Headless(false)})
//	res := rt.Execute(ctx, `return app.integrations.cloudconvert.get_current_user({}).data.username`)
//
// Each Execute gets a fresh Lua state, so nothing a script does to its
// globals outlives it; the Runtime (accounts, policy, HTTP clients) is
// shared and safe for concurrent use.
package luaruntime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cctoolkit/cloudconvert/accounts"
	"github.com/cctoolkit/cloudconvert/apierror"
	ccdocs "github.com/cctoolkit/cloudconvert/generated/cloudconvert/docs"
	"github.com/cctoolkit/cloudconvert/generated/cloudconvert/luabind"
	"github.com/cctoolkit/cloudconvert/luaruntime/bind"
)

// Decision is what the policy says about an operation type.
type Decision string

// Decisions.
const (
	Allow Decision = "allow"
	Ask   Decision = "ask" // the Approver decides
	Deny  Decision = "deny"
)

// Policy holds a Decision per operation type.
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

func (p Policy) decide(op string) Decision {
	var d Decision
	switch op {
	case bind.KindArgument: // never
	case "read":
		d = p.Read
	case "write":
		d = p.Write
	}
	if d == "" {
		return Deny
	}
	return d
}

// ApprovalRequest is what an Approver is asked about.
type ApprovalRequest struct {
	Function  string // cloudconvert.create_job
	Operation string // read or write
	Account   string
	Method    string
	URL       string
	Body      string // the JSON body, if any
}

// Approver decides an Ask. An error counts as a refusal.
type Approver func(ctx context.Context, req ApprovalRequest) (bool, error)

// Limits bound what a script may do. Zero fields take the defaults.
type Limits struct {
	Timeout         time.Duration // whole script; default 30s
	MaxOutput       int           // bytes of print/dump output; default 1 MiB
	MaxString       int           // bytes of one string built by `..`, string.rep, gsub, table.concat, json.encode, ...; default 16 MiB
	CallStackSize   int           // Lua call depth; default 200
	RegistryMaxSize int           // Lua value stack slots; default 256 Ki
	MaxResponse     int64         // bytes of one API response; default 64 MiB
	// MaxMemory is how much Lua data (strings, tables, functions) one
	// script may hold, measured per script (see limits.go); default
	// 1 GiB, -1 for none.
	MaxMemory int64
	// MaxCallDepth bounds how deeply calls nest counting each tail call
	// as a level (gopher-lua keeps tail calls in one frame but an error's
	// traceback lists each); default 200,000.
	MaxCallDepth int
}

func (l Limits) withDefaults() Limits {
	if l.Timeout <= 0 {
		l.Timeout = 30 * time.Second
	}
	if l.MaxOutput <= 0 {
		l.MaxOutput = 1 << 20
	}
	if l.MaxString <= 0 {
		l.MaxString = 16 << 20
	}
	if l.CallStackSize <= 0 {
		l.CallStackSize = 200
	}
	if l.RegistryMaxSize <= 0 {
		l.RegistryMaxSize = 256 * 1024
	}
	if l.MaxResponse <= 0 {
		l.MaxResponse = 64 << 20
	}
	if l.MaxMemory == 0 {
		l.MaxMemory = 1 << 30
	}
	if l.MaxCallDepth <= 0 {
		l.MaxCallDepth = 200000
	}
	return l
}

// DocPage is one page of the runtime docs.
type DocPage struct {
	Name  string `json:"name"`
	Title string `json:"title"`
	Text  string `json:"-"`
}

// Options configure a Runtime.
type Options struct {
	// Accounts are the configured accounts; nil means none.
	Accounts *accounts.Set
	// Policy per operation type; the zero value denies everything but
	// is replaced by Headless(false).
	Policy   Policy
	Approver Approver
	Limits   Limits
	// HTTPClient sends the requests; http.DefaultClient's transport with a
	// 5 minute timeout when nil.
	HTTPClient *http.Client
	// UserAgent is sent with each request.
	UserAgent string
	// Integration is the binding table; the CloudConvert one when nil.
	Integration *bind.Integration
	// Docs are the runtime docs; the generated CloudConvert pages when nil.
	Docs []DocPage
	// DenyHint is appended to permission errors, e.g. "run with --allow-write".
	DenyHint string
	// DefaultAccount is the account the namespace's own functions
	// (app.integrations.<slug>.fn) use; "" for the default account.
	DefaultAccount string
	// NoAccountHint is the message when the default account is used but
	// none is configured.
	NoAccountHint string
	// Waiters perform waiting functions by name in place of their plain
	// request; CloudConvertWaiters() when Integration is nil.
	Waiters map[string]Waiter
}

// Runtime is a host for Lua scripts. It is safe for concurrent use.
type Runtime struct {
	opts     Options
	lim      Limits
	in       *bind.Integration
	docs     []DocPage
	policy   atomic.Pointer[Policy]
	hc       *http.Client
	mu       sync.Mutex
	clients  map[string]any
	secrets  []string
	accounts *accounts.Set
}

// New makes a runtime.
func New(opts Options) (*Runtime, error) {
	r := &Runtime{opts: opts, lim: opts.Limits.withDefaults(), clients: map[string]any{}}
	r.in = opts.Integration
	if r.in == nil {
		r.in = luabind.Integration()
		if r.opts.Waiters == nil {
			r.opts.Waiters = CloudConvertWaiters()
		}
	}
	r.accounts = opts.Accounts
	if r.accounts == nil {
		r.accounts = accounts.NewSet(nil)
	}
	for _, name := range r.accounts.Names() {
		if r.in.Function(name) != nil {
			return nil, fmt.Errorf("account name %q clashes with the function %s.%s; rename the account", name, r.in.Slug, name)
		}
		a, _ := r.accounts.Get(name)
		r.addSecret(a.APIKey.Reveal())
	}
	if d := r.accounts.Default(); d != nil {
		r.addSecret(d.APIKey.Reveal())
	}
	if opts.DefaultAccount != "" {
		if _, err := r.accounts.Get(opts.DefaultAccount); err != nil {
			return nil, err
		}
	}
	p := opts.Policy
	if p == (Policy{}) {
		p = Headless(false)
	}
	r.policy.Store(&p)
	r.hc = opts.HTTPClient
	if r.hc == nil {
		r.hc = &http.Client{Timeout: 5 * time.Minute}
	}
	r.docs = opts.Docs
	if r.docs == nil {
		pages, err := GeneratedDocs(ccdocs.Files(), ccdocsPages())
		if err != nil {
			return nil, err
		}
		r.docs = pages
	}
	return r, nil
}

func ccdocsPages() []DocPage {
	var out []DocPage
	for _, p := range ccdocs.Pages() {
		out = append(out, DocPage{Name: p.Name, Title: p.Title, Text: p.File})
	}
	return out
}

// GeneratedDocs reads pages whose Text holds a file name in files.
func GeneratedDocs(files fs.FS, pages []DocPage) ([]DocPage, error) {
	out := make([]DocPage, 0, len(pages))
	for _, p := range pages {
		b, err := fs.ReadFile(files, p.Text)
		if err != nil {
			return nil, fmt.Errorf("reading docs page %s: %w", p.Name, err)
		}
		p.Text = string(b)
		out = append(out, p)
	}
	return out, nil
}

func (r *Runtime) addSecret(s string) {
	if len(s) >= 4 {
		r.secrets = append(r.secrets, s)
	}
}

// Redact replaces every configured API key in s with [redacted].
func (r *Runtime) Redact(s string) string {
	for _, k := range r.secrets {
		if strings.Contains(s, k) {
			s = strings.ReplaceAll(s, k, "[redacted]")
		}
	}
	return s
}

// Integration returns the binding table.
func (r *Runtime) Integration() *bind.Integration { return r.in }

// Accounts returns the accounts.
func (r *Runtime) Accounts() *accounts.Set { return r.accounts }

// SetPolicy changes the policy; calls already running keep their decision,
// every later call (also from functions a script cached) sees the new one.
func (r *Runtime) SetPolicy(p Policy) { r.policy.Store(&p) }

// Policy returns the current policy.
func (r *Runtime) Policy() Policy { return *r.policy.Load() }

// Call is one integration call a script made.
type Call struct {
	Function string        `json:"function"` // cloudconvert.get_job
	Account  string        `json:"account"`
	Duration time.Duration `json:"-"`
	Millis   float64       `json:"duration_ms"`
	// Outcome is "ok" or the error kind (invalid_argument, permission_denied, api_error, ...).
	Outcome string `json:"outcome"`
	Status  int    `json:"status,omitempty"`
}

// Prepared is a validated call, before the policy and the request.
type Prepared struct {
	Function *bind.Function
	Account  *accounts.Account
	Request  *bind.Request
	BaseURL  string
}

// URL is the request URL.
func (p *Prepared) URL() string { return p.Request.URL(p.BaseURL) }

// prepare resolves the account and base URL of a built request.
func (r *Runtime) prepare(fn *bind.Function, account string, req *bind.Request) (*Prepared, *bind.Error) {
	acct, err := r.accounts.Get(account)
	if err != nil {
		msg := err.Error()
		if errors.Is(err, accounts.ErrNoDefault) {
			msg = r.opts.NoAccountHint
			if msg == "" {
				env := r.in.AuthEnv
				if env == "" {
					env = "the API key variable"
				}
				msg = "no " + r.in.Name + " account is configured: set " + env + " (or configure named accounts)"
			}
		}
		return nil, &bind.Error{Kind: bind.KindAccount, Function: fn.Name, FullName: fn.FullName, Message: msg}
	}
	srv, first := r.in.Servers[0], true
	for i, s := range r.in.Servers {
		if s.Name == fn.Server {
			srv, first = s, i == 0
		}
	}
	base := acct.ServerURL(srv.Name, first, srv.Live, srv.Sandbox, srv.Region)
	return &Prepared{Function: fn, Account: acct, Request: req, BaseURL: base}, nil
}

// authorize applies the policy.
func (r *Runtime) authorize(ctx context.Context, p *Prepared) *bind.Error {
	fn := p.Function
	deny := func(why string) *bind.Error {
		msg := fn.Operation + " operations are " + why
		if fn.Operation == "write" && r.opts.DenyHint != "" {
			msg += "; " + r.opts.DenyHint
		}
		return &bind.Error{Kind: bind.KindPermission, Function: fn.Name, FullName: fn.FullName, Message: msg}
	}
	switch r.Policy().decide(fn.Operation) {
	case Allow:
		return nil
	case Ask:
		if r.opts.Approver == nil {
			return deny("set to ask, but no one can be asked here")
		}
		ok, err := r.opts.Approver(ctx, ApprovalRequest{
			Function: fn.FullName, Operation: fn.Operation, Account: p.Account.Name,
			Method: fn.Method, URL: p.URL(), Body: string(p.Request.Body),
		})
		if err != nil {
			return deny("set to ask, and asking failed: " + r.Redact(err.Error()))
		}
		if !ok {
			return deny("set to ask, and this call was refused")
		}
		return nil
	default:
		return deny("not allowed")
	}
}

func (r *Runtime) client(server, base string) (any, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := server + " " + base
	if c, ok := r.clients[key]; ok {
		return c, nil
	}
	c, err := r.in.NewClient(server, base, r.hc)
	if err != nil {
		return nil, err
	}
	r.clients[key] = c
	return c, nil
}

// send performs a prepared call and returns the success body.
func (r *Runtime) send(ctx context.Context, p *Prepared) ([]byte, int, *bind.Error) {
	fn := p.Function
	c, err := r.client(fn.Server, p.BaseURL)
	if err != nil {
		return nil, 0, &bind.Error{Kind: bind.KindTransport, Function: fn.Name, FullName: fn.FullName, Message: "bad base URL: " + r.Redact(err.Error())}
	}
	req := *p.Request
	req.Header = http.Header{"Authorization": {"Bearer " + p.Account.APIKey.Reveal()}, "Accept": {"application/json"}}
	if r.opts.UserAgent != "" {
		req.Header.Set("User-Agent", r.opts.UserAgent)
	}
	if req.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, req.Timeout, fmt.Errorf("%s took longer than its timeout of %s", fn.FullName, req.Timeout))
		defer cancel()
	}
	if w := r.opts.Waiters[fn.Name]; w != nil {
		body, be := w(ctx, r, p)
		if be != nil {
			return nil, be.Status, be
		}
		return body, http.StatusOK, nil
	}
	resp, err := fn.Call(ctx, c, &req)
	if err != nil {
		msg := err.Error()
		if ctx.Err() != nil {
			msg = "the request was stopped: " + context.Cause(ctx).Error()
		}
		return nil, 0, &bind.Error{Kind: bind.KindTransport, Function: fn.Name, FullName: fn.FullName, Message: r.Redact(msg)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, r.lim.MaxResponse+1))
	if err != nil {
		return nil, resp.StatusCode, &bind.Error{Kind: bind.KindTransport, Function: fn.Name, FullName: fn.FullName, Status: resp.StatusCode, Message: "reading the response: " + r.Redact(err.Error())}
	}
	if int64(len(body)) > r.lim.MaxResponse {
		return nil, resp.StatusCode, &bind.Error{Kind: bind.KindResponse, Function: fn.Name, FullName: fn.FullName, Status: resp.StatusCode, Message: fmt.Sprintf("the response is larger than %d bytes", r.lim.MaxResponse)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		ae := apierror.FromResponse(resp, body)
		ae.Message = r.Redact(ae.Message)
		for k, v := range ae.Errors {
			for i := range v {
				v[i] = r.Redact(v[i])
			}
			ae.Errors[k] = v
		}
		return nil, resp.StatusCode, bind.FromAPI(fn, ae)
	}
	return body, resp.StatusCode, nil
}
