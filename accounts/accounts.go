// Package accounts resolves the CloudConvert accounts a program may use: a
// default account and named ones, each with an API key and optionally the
// sandbox, a region or explicit base URLs. They come from environment
// variables and from a YAML config file.
//
// Environment:
//
//	CLOUDCONVERT_API_KEY                 the default account's key
//	CLOUDCONVERT_BASE_URL                its REST base URL (e.g. http://127.0.0.1:8080/v2); with
//	                                     no key, the default account is that server without a key
//	CLOUDCONVERT_SYNC_URL                its waiting-API base URL (e.g. http://127.0.0.1:8080/sync/v2)
//	CLOUDCONVERT_SOCKETIO_URL            its realtime events host (e.g. http://127.0.0.1:8080)
//	CLOUDCONVERT_SANDBOX, CLOUDCONVERT_REGION
//	CLOUDCONVERT_ACCOUNT_<NAME>_API_KEY  a named account (NAME is lower-cased)
//	CLOUDCONVERT_ACCOUNT_<NAME>_SANDBOX, _REGION, _BASE_URL, _SYNC_URL, _SOCKETIO_URL
//	                                     (_BASE_URL alone: that server without a key)
//	CLOUDCONVERT_CONFIG                  the config file (default: <user config dir>/cloudconvert/accounts.yaml)
//
// Config file:
//
//	default: production          # optional: the named account used as default
//	accounts:
//	  production:
//	    api_key_env: CC_PROD_KEY # or api_key: ...
//	    region: eu-central
//	  staging:
//	    api_key_env: CC_STAGING_KEY
//	    sandbox: true
//	  local:
//	    base_url: http://127.0.0.1:8080/v2   # a key is optional with base_url
//	  careful:
//	    api_key_env: CC_CAREFUL_KEY
//	    permissions: {read: allow, write: ask} # allow, ask or deny per kind
//
// An account's permissions decide for its calls in place of the program's
// own policy (the CLI's --read/--write flags), kind by kind; they apply to
// its API key, so that another name for the same key (the default account
// made from CLOUDCONVERT_API_KEY, say) cannot get around them (see
// Set.Permission).
//
// Keys never print: Secret formats as [redacted] everywhere.
package accounts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// DefaultName is the name of the default account.
const DefaultName = "default"

// Secret is an API key. It prints as [redacted] with every verb and in
// JSON; Reveal gives the key to the code that sends it.
type Secret struct{ v string }

// NewSecret wraps a key.
func NewSecret(key string) Secret { return Secret{key} }

// Reveal returns the key.
func (s Secret) Reveal() string { return s.v }

// IsZero says whether no key is set.
func (s Secret) IsZero() bool { return s.v == "" }

// String redacts.
func (s Secret) String() string { return "[redacted]" }

// GoString redacts.
func (s Secret) GoString() string { return "[redacted]" }

// Format redacts with every verb.
func (s Secret) Format(f fmt.State, _ rune) { f.Write([]byte("[redacted]")) }

// MarshalJSON redacts.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"[redacted]"`), nil }

// MarshalText redacts.
func (s Secret) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// Account is one set of credentials and where to send them.
type Account struct {
	Name    string `json:"name"`
	APIKey  Secret `json:"-"`
	Sandbox bool   `json:"sandbox,omitempty"`
	Region  string `json:"region,omitempty"`
	// BaseURL overrides the REST base URL, SyncURL the waiting API's,
	// SocketIOURL the realtime events host's.
	BaseURL     string `json:"base_url,omitempty"`
	SyncURL     string `json:"sync_url,omitempty"`
	SocketIOURL string `json:"socketio_url,omitempty"`
	// Source says where the account was configured, for messages.
	Source string `json:"source"`
	// Permissions, when set, override the program's policy for this
	// account's calls.
	Permissions *Permissions `json:"permissions,omitempty"`
}

// Permission values.
const (
	Allow = "allow"
	Ask   = "ask"
	Deny  = "deny"
)

// Permissions are an account's own decisions per kind of function:
// "allow", "ask", "deny", or "" to leave the kind to the program's policy.
type Permissions struct {
	Read  string `json:"read,omitempty" yaml:"read"`
	Write string `json:"write,omitempty" yaml:"write"`
}

// For returns the decision for a kind ("read" or "write"), "" when unset.
func (p *Permissions) For(kind string) string {
	switch {
	case p == nil:
		return ""
	case kind == "read":
		return p.Read
	case kind == "write":
		return p.Write
	}
	return ""
}

func (p *Permissions) check() error {
	for _, f := range []struct{ name, v string }{{"read", p.Read}, {"write", p.Write}} {
		switch f.v {
		case "", Allow, Ask, Deny:
		default:
			return fmt.Errorf("permissions.%s must be allow, ask or deny, got %q", f.name, f.v)
		}
	}
	return nil
}

// strictness orders decisions: deny over ask over allow.
func strictness(d string) int {
	switch d {
	case Deny:
		return 3
	case Ask:
		return 2
	case Allow:
		return 1
	}
	return 0
}

// ServerURL picks the base URL of a server family for this account:
// BaseURL for the first family, SyncURL for "sync", SocketIOURL for
// "socketio", "" for other families
// of an account whose BaseURL points elsewhere, else the region, sandbox or
// live URL of the family.
func (a *Account) ServerURL(name string, first bool, live, sandbox, region string) string {
	switch {
	case first && a.BaseURL != "":
		return a.BaseURL
	case name == "sync" && a.SyncURL != "":
		return a.SyncURL
	case name == "socketio" && a.SocketIOURL != "":
		return a.SocketIOURL
	case !first && a.BaseURL != "":
		// The account points the API elsewhere (a local server, a proxy)
		// without saying where this server is: unknown, so callers fall
		// back (a waiting function polls) rather than reach the live host
		// with the wrong key.
		return ""
	case a.Region != "" && region != "":
		return strings.ReplaceAll(region, "{region}", a.Region)
	case a.Sandbox && sandbox != "":
		return sandbox
	}
	return live
}

// Set is the configured accounts.
type Set struct {
	def *Account
	// defFn resolves the default account when none is configured.
	defFn func() (*Account, error)
	named map[string]*Account
}

// NewSet builds a set; def may be nil.
func NewSet(def *Account, named ...*Account) *Set {
	s := &Set{def: def, named: map[string]*Account{}}
	for _, a := range named {
		s.named[a.Name] = a
	}
	return s
}

// Default returns the configured default account, or nil when none is
// configured. It does not call a SetDefaultFunc function.
func (s *Set) Default() *Account { return s.def }

// SetDefault replaces the default account.
func (s *Set) SetDefault(a *Account) { s.def = a }

// SetDefaultFunc gives the default account when none is configured: Get
// calls fn each time the default account is asked for, so that nothing is
// done (a local server found or started) until a call needs it. fn must
// be safe for concurrent use and cache what it resolves; a nil account
// means none.
func (s *Set) SetDefaultFunc(fn func() (*Account, error)) { s.defFn = fn }

// HasDefault says whether a default account is configured or resolvable.
func (s *Set) HasDefault() bool { return s.def != nil || s.defFn != nil }

// All lists the configured accounts: the default one (when configured, not
// resolved by a SetDefaultFunc function) and the named ones, sorted.
func (s *Set) All() []*Account {
	var out []*Account
	if s.def != nil {
		out = append(out, s.def)
	}
	for _, n := range s.Names() {
		out = append(out, s.named[n])
	}
	return out
}

// Permission is the account's own decision for a kind ("read" or "write")
// and the account whose permissions give it; "" and nil when no account
// decides, and the program's policy applies. Permissions belong to an API
// key: every configured account with a's key that sets the kind is
// considered (a itself first), and the strictest decision wins (deny over
// ask over allow), so no other name for the same key gets around them.
func (s *Set) Permission(a *Account, kind string) (string, *Account) {
	d, from := a.Permissions.For(kind), a
	if d == "" {
		from = nil
	}
	key := a.APIKey.Reveal()
	if key == "" {
		return d, from
	}
	for _, o := range s.All() {
		if o == a || o.APIKey.Reveal() != key {
			continue
		}
		if od := o.Permissions.For(kind); strictness(od) > strictness(d) {
			d, from = od, o
		}
	}
	return d, from
}

// Names lists the named accounts, sorted.
func (s *Set) Names() []string {
	out := make([]string, 0, len(s.named))
	for n := range s.named {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// ErrNoDefault is returned by Get for the default account when none is set.
var ErrNoDefault = errors.New("no default account is configured")

// UnknownError is an account name that is not configured.
type UnknownError struct {
	Name       string
	Configured []string
}

func (e *UnknownError) Error() string {
	if len(e.Configured) == 0 {
		return fmt.Sprintf("account %q is not configured; no named accounts are configured (set CLOUDCONVERT_ACCOUNT_%s_API_KEY or add it to the config file)", e.Name, strings.ToUpper(e.Name))
	}
	return fmt.Sprintf("account %q is not configured; configured accounts: %s", e.Name, strings.Join(e.Configured, ", "))
}

// Get returns the account called name; "" and "default" mean the default.
func (s *Set) Get(name string) (*Account, error) {
	if name == "" || name == DefaultName {
		switch {
		case s.def != nil:
			return s.def, nil
		case s.defFn != nil:
			a, err := s.defFn()
			if err != nil {
				return nil, err
			}
			if a == nil {
				return nil, ErrNoDefault
			}
			return a, nil
		}
		return nil, ErrNoDefault
	}
	if a, ok := s.named[name]; ok {
		return a, nil
	}
	conf := s.Names()
	if s.HasDefault() {
		conf = append([]string{DefaultName}, conf...)
	}
	return nil, &UnknownError{Name: name, Configured: conf}
}

var nameRe = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Options says where to look.
type Options struct {
	// Prefix of the environment variables, e.g. "CLOUDCONVERT".
	Prefix string
	// Getenv and Environ read the environment; os.Getenv / os.Environ when nil.
	Getenv  func(string) string
	Environ func() []string
	// ConfigPath is the config file; "" means $<PREFIX>_CONFIG or the
	// default path, which may be missing. An explicit path must exist.
	ConfigPath string
}

type fileConfig struct {
	Default  string                 `yaml:"default"`
	Accounts map[string]fileAccount `yaml:"accounts"`
}

type fileAccount struct {
	APIKey    string `yaml:"api_key"`
	APIKeyEnv string `yaml:"api_key_env"`
	Sandbox   bool   `yaml:"sandbox"`
	Region    string `yaml:"region"`
	BaseURL   string `yaml:"base_url"`
	SyncURL   string `yaml:"sync_url"`
	SocketIO  string `yaml:"socketio_url"`
	// Permissions are decoded strictly too: a misspelt kind is an error.
	Permissions *Permissions `yaml:"permissions"`
}

// Load reads the environment and the config file.
func Load(o Options) (*Set, error) {
	if o.Prefix == "" {
		o.Prefix = "CLOUDCONVERT"
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Environ == nil {
		o.Environ = os.Environ
	}
	s := NewSet(nil)
	// Config file first; environment variables override it.
	path, explicit := o.ConfigPath, o.ConfigPath != ""
	if path == "" {
		if p := o.Getenv(o.Prefix + "_CONFIG"); p != "" {
			path, explicit = p, true
		} else if dir, err := os.UserConfigDir(); err == nil {
			path = filepath.Join(dir, strings.ToLower(o.Prefix), "accounts.yaml")
		}
	}
	defaultName := ""
	if path != "" {
		data, err := os.ReadFile(path)
		switch {
		case err == nil:
			var fc fileConfig
			dec := yaml.NewDecoder(bytes.NewReader(data))
			dec.KnownFields(true)
			if err := dec.Decode(&fc); err != nil && !errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("reading accounts from %s: %v", path, err)
			}
			for _, name := range sortedNames(fc.Accounts) {
				fa := fc.Accounts[name]
				if !nameRe.MatchString(name) || name == DefaultName {
					return nil, fmt.Errorf("%s: account name %q must be lower-case letters, digits and _ (and not %q)", path, name, DefaultName)
				}
				key := fa.APIKey
				if fa.APIKeyEnv != "" {
					if fa.APIKey != "" {
						return nil, fmt.Errorf("%s: account %q has both api_key and api_key_env; give one", path, name)
					}
					key = o.Getenv(fa.APIKeyEnv)
					if key == "" {
						return nil, fmt.Errorf("%s: account %q reads its key from $%s, which is not set", path, name, fa.APIKeyEnv)
					}
				}
				if key == "" && fa.BaseURL == "" {
					return nil, fmt.Errorf("%s: account %q has no api_key or api_key_env (only an account with a base_url may have no key)", path, name)
				}
				if fa.Permissions != nil {
					if err := fa.Permissions.check(); err != nil {
						return nil, fmt.Errorf("%s: account %q: %v", path, name, err)
					}
				}
				s.named[name] = &Account{Name: name, APIKey: NewSecret(key), Sandbox: fa.Sandbox, Region: fa.Region, BaseURL: fa.BaseURL, SyncURL: fa.SyncURL, SocketIOURL: fa.SocketIO, Source: "config file " + path, Permissions: fa.Permissions}
			}
			defaultName = fc.Default
		case os.IsNotExist(err) && !explicit:
		default:
			return nil, fmt.Errorf("reading accounts: %v", err)
		}
	}
	// Named accounts from the environment.
	pre := o.Prefix + "_ACCOUNT_"
	for _, kv := range o.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		suffix := "_API_KEY"
		if !strings.HasSuffix(k, suffix) {
			suffix = "_BASE_URL"
		}
		if !strings.HasPrefix(k, pre) || !strings.HasSuffix(k, suffix) {
			continue
		}
		up := strings.TrimSuffix(strings.TrimPrefix(k, pre), suffix)
		name := strings.ToLower(up)
		if suffix == "_BASE_URL" && o.Getenv(pre+up+"_API_KEY") != "" {
			continue // the account is read from its _API_KEY
		}
		if !nameRe.MatchString(name) || name == DefaultName {
			return nil, fmt.Errorf("$%s: account name %q must be letters, digits and _ (and not %q)", k, name, DefaultName)
		}
		if o.Getenv(k) == "" {
			continue
		}
		a := &Account{Name: name, APIKey: NewSecret(o.Getenv(pre + up + "_API_KEY")), Source: "environment $" + k}
		if err := envOverrides(a, o.Getenv, pre+up); err != nil {
			return nil, err
		}
		if old := s.named[name]; old != nil && old.Permissions != nil {
			// The environment replaces the file's account but not its
			// permissions: they are a limit the user set on that name.
			a.Permissions = old.Permissions
			a.Source += " (permissions from " + old.Source + ")"
		}
		s.named[name] = a
	}
	if key, base := o.Getenv(o.Prefix+"_API_KEY"), o.Getenv(o.Prefix+"_BASE_URL"); key != "" || base != "" {
		// A base URL alone selects that server, without a key: its own
		// answer (e.g. 401) is what the user sees.
		src := "environment $" + o.Prefix + "_API_KEY"
		if key == "" {
			src = "environment $" + o.Prefix + "_BASE_URL (no $" + o.Prefix + "_API_KEY)"
		}
		a := &Account{Name: DefaultName, APIKey: NewSecret(key), Source: src}
		if err := envOverrides(a, o.Getenv, o.Prefix); err != nil {
			return nil, err
		}
		s.def = a
	} else if defaultName != "" {
		a, ok := s.named[defaultName]
		if !ok {
			return nil, fmt.Errorf("%s: default: account %q is not configured; configured accounts: %s", path, defaultName, strings.Join(s.Names(), ", "))
		}
		d := *a
		d.Name = DefaultName
		d.Source = a.Source + " (default: " + defaultName + ")"
		s.def = &d
	}
	return s, nil
}

func envOverrides(a *Account, getenv func(string) string, pre string) error {
	a.BaseURL = getenv(pre + "_BASE_URL")
	a.SyncURL = getenv(pre + "_SYNC_URL")
	a.SocketIOURL = getenv(pre + "_SOCKETIO_URL")
	a.Region = getenv(pre + "_REGION")
	if v := getenv(pre + "_SANDBOX"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("$%s_SANDBOX=%q is not a boolean (true or false)", pre, v)
		}
		a.Sandbox = b
	}
	return nil
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// MarshalJSON lists the accounts without keys.
func (s *Set) MarshalJSON() ([]byte, error) {
	var list []*Account
	if s.def != nil {
		list = append(list, s.def)
	}
	for _, n := range s.Names() {
		list = append(list, s.named[n])
	}
	return json.Marshal(list)
}
