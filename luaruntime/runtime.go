// Package luaruntime runs agent Lua scripts in a sandboxed gopher-lua state
// with an integration's functions under app.integrations.<slug>.*, the
// integration's docs, json and dump helpers, and limits on time, call
// depth, output and string sizes. It is generic: the integration is a
// descriptor, and every call goes through an invoke.Invoker (argument
// checks, accounts, permissions, the one transport).
//
//	inv, _ := invoke.New(invoke.Options{Integration: desc, Accounts: set})
//	rt, _ := luaruntime.New(luaruntime.Options{Invoker: inv})
//	res := rt.Execute(ctx, `return app.integrations.cloudconvert.get_current_user({}).data.username`)
//
// Each Execute gets a fresh Lua state, so nothing a script does to its
// globals outlives it; the Runtime is shared and safe for concurrent use.
package luaruntime

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cctoolkit/cloudconvert/accounts"
	"github.com/cctoolkit/cloudconvert/integration"
	"github.com/cctoolkit/cloudconvert/integration/invoke"
)

// Limits bound what a script may do. Zero fields take the defaults.
type Limits struct {
	Timeout         time.Duration // whole script; default 30s
	MaxOutput       int           // bytes of print/dump output; default 1 MiB
	MaxString       int           // bytes of one string built by `..`, string.rep, gsub, table.concat, json.encode, ...; default 16 MiB
	CallStackSize   int           // Lua call depth; default 200
	RegistryMaxSize int           // Lua value stack slots; default 256 Ki
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
	if l.MaxMemory == 0 {
		l.MaxMemory = 1 << 30
	}
	if l.MaxCallDepth <= 0 {
		l.MaxCallDepth = 200000
	}
	return l
}

// Options configure a Runtime.
type Options struct {
	// Invoker performs the integration's calls; required.
	Invoker *invoke.Invoker
	Limits  Limits
	// DefaultAccount is the account the namespace's own functions
	// (app.integrations.<slug>.fn) use; "" for the default account.
	DefaultAccount string
	// ExtraDocs are pages served after the descriptor's (docs.list,
	// docs.read, lua_read_doc, the MCP resources): pages made at run time,
	// e.g. from what a server performs. A name the descriptor has already
	// is an error.
	ExtraDocs []*integration.DocPage
	// ExtraDocsFunc, when set, makes more such pages on first use (when
	// docs are listed, searched or read), so that a script that reads no
	// docs does not pay for them. It must not fail: a page it cannot make
	// is left out. A page whose name is taken already is left out too.
	ExtraDocsFunc func() []*integration.DocPage
}

// Runtime is a host for Lua scripts. It is safe for concurrent use.
type Runtime struct {
	opts Options
	lim  Limits
	inv  *invoke.Invoker
	in   *integration.Integration
	docs []*integration.DocPage // the descriptor's, then Options.ExtraDocs

	lazyDocsOnce sync.Once
	allDocs      []*integration.DocPage // docs, then Options.ExtraDocsFunc's
}

// New makes a runtime.
func New(opts Options) (*Runtime, error) {
	if opts.Invoker == nil {
		return nil, errors.New("luaruntime: Options.Invoker is required")
	}
	r := &Runtime{opts: opts, lim: opts.Limits.withDefaults(), inv: opts.Invoker, in: opts.Invoker.Integration()}
	r.docs = r.in.Docs
	if len(opts.ExtraDocs) > 0 {
		r.docs = append(slices.Clone(r.in.Docs), opts.ExtraDocs...)
		seen := map[string]bool{}
		for _, p := range r.docs {
			if p == nil || p.Name == "" {
				return nil, errors.New("luaruntime: Options.ExtraDocs has a page without a name")
			}
			if seen[p.Name] {
				return nil, fmt.Errorf("luaruntime: Options.ExtraDocs: the docs page %q is there twice", p.Name)
			}
			seen[p.Name] = true
		}
	}
	// A named account must exist; the default one may be resolved lazily
	// (on the first call), so it is not asked for here.
	if opts.DefaultAccount != "" && opts.DefaultAccount != accounts.DefaultName {
		if _, err := r.inv.Accounts().Get(opts.DefaultAccount); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Integration returns the descriptor.
func (r *Runtime) Integration() *integration.Integration { return r.in }

// Invoker returns the invoker calls go through.
func (r *Runtime) Invoker() *invoke.Invoker { return r.inv }

// Accounts returns the accounts.
func (r *Runtime) Accounts() *accounts.Set { return r.inv.Accounts() }

// Redact replaces every configured API key in s with [redacted].
func (r *Runtime) Redact(s string) string { return r.inv.Redact(s) }

// SetPolicy changes the policy; calls already running keep their decision,
// every later call (also from functions a script cached) sees the new one.
func (r *Runtime) SetPolicy(p invoke.Policy) { r.inv.SetPolicy(p) }

// Policy returns the current policy.
func (r *Runtime) Policy() invoke.Policy { return r.inv.Policy() }

// Limits returns the limits in force.
func (r *Runtime) Limits() Limits { return r.lim }

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
