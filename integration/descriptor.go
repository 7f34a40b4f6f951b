// Package integration is the one model of an integration that running code
// sees: its functions, their parameters and schemas, the servers they call,
// whether each reads or writes, how each call maps onto an HTTP request,
// the examples and the docs pages. The generator writes one descriptor per
// integration (generated/<slug>.Descriptor()); the Lua runtime, the MCP
// server, the CLI and the Go client are driven by it and know nothing else
// of the service.
//
// A descriptor is built once (Link resolves its indexes) and then only read:
// share it freely between goroutines, never modify it.
//
// Besides the model, the package turns arguments into requests
// (Function.Build): every argument is checked against its schema before
// anything is sent, with errors that name the parameter and say what to do.
package integration

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Kind says whether a function reads or writes. Permissions are given per
// kind, and the kind decides how a failed call may be retried.
type Kind uint8

// Kinds of functions.
const (
	Read Kind = iota + 1
	Write
)

func (k Kind) String() string {
	switch k {
	case Read:
		return "read"
	case Write:
		return "write"
	}
	return "unknown"
}

// ParseKind reads "read" or "write".
func ParseKind(s string) (Kind, bool) {
	switch s {
	case "read":
		return Read, true
	case "write":
		return Write, true
	}
	return 0, false
}

// Retry is how a call may be repeated when it fails without an answer, or
// with an answer that says to try again (429, 502, 503, 504).
type Retry uint8

// Retry classes.
const (
	// RetrySafe calls may be sent again whenever no answer came back or
	// the answer says to try again: repeating them changes nothing.
	RetrySafe Retry = iota + 1
	// RetryUnsent calls are sent again only when the request provably
	// never reached the server (the connection could not be made): a
	// create that failed with 500 may have created the job.
	RetryUnsent
)

func (r Retry) String() string {
	switch r {
	case RetrySafe:
		return "safe"
	case RetryUnsent:
		return "unsent"
	}
	return "unknown"
}

// In says where a parameter goes.
type In uint8

// Where parameters go.
const (
	InBody In = iota + 1
	InPath
	InQuery
	// InTimeout values are not sent: in seconds, they bound how long the
	// call may take (for calls that block, such as waiting for a job).
	InTimeout
	// InLocal values are not sent either: the host uses them (the
	// parameters of a Transfer, such as a path in the workspace).
	InLocal
)

func (i In) String() string {
	switch i {
	case InBody:
		return "body"
	case InPath:
		return "path"
	case InQuery:
		return "query"
	case InTimeout:
		return "timeout"
	case InLocal:
		return "local"
	}
	return "unknown"
}

// ParseIn reads "body", "path", "query" or "timeout".
func ParseIn(s string) (In, bool) {
	for _, i := range []In{InBody, InPath, InQuery, InTimeout} {
		if i.String() == s {
			return i, true
		}
	}
	return 0, false
}

// Integration is the descriptor of one integration.
type Integration struct {
	Slug        string // cloudconvert: the Lua name and the prefix of tool names
	Name        string // CloudConvert: the display name
	Summary     string
	Description string
	DocsURL     string
	Version     string
	LuaPath     string // app.integrations.cloudconvert
	Auth        Auth
	Servers     []*Server // the first is the default server of functions
	Regions     []string
	// Operations is the integration's table of task operations (for
	// CloudConvert: import/url, convert, ...), in spec order.
	Operations []*Operation
	// Types are the named schemas, in spec order.
	Types     []*Schema
	Functions []*Function // in spec order
	// Accounts are example account names for the docs.
	Accounts []string
	// Docs are the agent-facing pages, in the order docs.list shows them.
	Docs []*DocPage

	byName map[string]*Function
	linked bool
}

// Auth says how requests authenticate.
type Auth struct {
	Kind   string // api_key or none
	Label  string // "API key auth"
	Scheme string // bearer, or header
	// Header is the header that carries the key: Authorization for bearer.
	Header      string
	Env         string // the environment variable of the default key
	Description string
}

// Apply puts key on h as the integration authenticates.
func (a Auth) Apply(h map[string][]string, key string) {
	if a.Kind != "api_key" || key == "" {
		return
	}
	if a.Scheme == "bearer" {
		h["Authorization"] = []string{"Bearer " + key}
		return
	}
	h[a.Header] = []string{key}
}

// Server is one family of base URLs (the REST API, the waiting API, ...).
type Server struct {
	Name        string
	Description string
	Live        string
	Sandbox     string
	Region      string // may contain {region}
}

// Operation is one entry of the table of task operations.
type Operation struct {
	Name        string // import/url
	Description string
	Common      bool // shown in the short table of the docs
}

// DocPage is one agent-facing docs page.
type DocPage struct {
	Name  string // how docs.read asks for it: "cloudconvert.create_job"
	Title string
	Text  string // markdown
}

// Example is a Lua snippet from the spec, shown in the docs.
type Example struct {
	Title string
	Lua   string
}

// Function is one function agents call.
type Function struct {
	Name     string // create_job: the Lua name
	FullName string // cloudconvert.create_job
	ToolName string // cloudconvert_create_job: the MCP tool name and the metadata slug
	DocPage  string // cloudconvert.create_job
	Kind     Kind
	Retry    Retry

	Summary     string
	Description string

	Method string  // GET, POST, ...
	Path   string  // /jobs/{id}, relative to the server's base URL
	Server *Server // the server the request goes to
	Params []*Param
	// Status and Response describe the success answer; Response is nil
	// for answers without a body (204).
	Status   int
	Response *Schema
	// Wait is set on functions that block until something has ended.
	Wait *Wait
	// Transfer is set on functions that move files between the host's
	// workspace and the service; they have no Method or Path of their own.
	Transfer *Transfer

	Examples []Example

	byName map[string]*Param
	names  []string
}

// Wait describes a function that blocks on its server until a resource has
// ended (CloudConvert's sync API). Where that server is not available the
// same answer is reached by calling Poll until the field at Field has one
// of the values in Until.
type Wait struct {
	Poll  *Function
	Field string   // dotted path in the answer, e.g. data.status
	Until []string // values that end the wait, e.g. finished, error
}

// Param is one named argument of a function.
type Param struct {
	Name     string // tasks
	Required bool
	In       In
	Key      string // the wire name: "id", "filter[status]", "tasks"
	// Spread is a body object whose fields go at the top level of the body.
	Spread bool
	// SendDefault is a query parameter sent with its schema's default
	// when the caller gives none (the server's own default differs).
	SendDefault bool
	// KeyedBy turns an array of objects into an object keyed by one of
	// their fields.
	KeyedBy *KeyedBy
	// Schema is what the caller passes; for a KeyedBy parameter its items
	// include the key field.
	Schema  *Schema
	Example any // JSON-like value, or nil
	// Expands is set on a path parameter whose values contain "/" and so
	// are not escaped (POST /import/url).
	Expands bool
}

// KeyedBy turns an array of objects into an object keyed by one field of
// each item, the way CloudConvert wants a job's tasks.
type KeyedBy struct {
	Field   string // name: the key field, taken out of each item
	Noun    string // task: what an item is called in messages
	Pattern string // what a key may look like

	// DefaultFrom names the item field whose value, up to DefaultCut,
	// names an item that has no key (operation "import/url" -> "import").
	// Items that would share a name are numbered -1, -2, ... in order.
	DefaultFrom string
	DefaultCut  string
	// References names the item field whose values must be keys of other
	// items (input).
	References string

	re *regexp.Regexp
}

// Link resolves the descriptor's indexes and compiles its patterns. The
// generated Descriptor calls it once; it returns an error for a descriptor
// the generator should never have written.
func (in *Integration) Link() error {
	if in.linked {
		return nil
	}
	in.byName = make(map[string]*Function, len(in.Functions))
	seen := map[*Schema]bool{}
	for _, t := range in.Types {
		if err := t.compile(seen); err != nil {
			return fmt.Errorf("type %s: %w", t.Name, err)
		}
	}
	for _, fn := range in.Functions {
		if _, dup := in.byName[fn.Name]; dup {
			return fmt.Errorf("function %s is defined twice", fn.Name)
		}
		in.byName[fn.Name] = fn
		fn.byName = make(map[string]*Param, len(fn.Params))
		fn.names = fn.names[:0]
		for _, p := range fn.Params {
			fn.byName[p.Name] = p
			fn.names = append(fn.names, p.Name)
			if err := p.Schema.compile(seen); err != nil {
				return fmt.Errorf("function %s: parameter %s: %w", fn.Name, p.Name, err)
			}
			if k := p.KeyedBy; k != nil && k.Pattern != "" {
				re, err := regexp.Compile(k.Pattern)
				if err != nil {
					return fmt.Errorf("function %s: parameter %s: keyed_by pattern: %w", fn.Name, p.Name, err)
				}
				k.re = re
			}
		}
		if err := fn.Response.compile(seen); err != nil {
			return fmt.Errorf("function %s: response: %w", fn.Name, err)
		}
		if fn.Server == nil {
			return fmt.Errorf("function %s has no server", fn.Name)
		}
	}
	for _, fn := range in.Functions {
		if fn.Transfer != nil {
			if err := fn.Transfer.check(fn); err != nil {
				return fmt.Errorf("function %s: transfer: %w", fn.Name, err)
			}
		}
	}
	in.linked = true
	return nil
}

// MustLink is Link for generated code: a descriptor that does not link is
// a generator bug.
func MustLink(in *Integration) *Integration {
	if err := in.Link(); err != nil {
		panic("integration: generated descriptor is broken: " + err.Error())
	}
	return in
}

// Function returns the function with the given Lua name, full name or tool
// name, or nil.
func (in *Integration) Function(name string) *Function {
	if fn := in.byName[name]; fn != nil {
		return fn
	}
	if rest, ok := strings.CutPrefix(name, in.Slug+"."); ok {
		return in.byName[rest]
	}
	if rest, ok := strings.CutPrefix(name, in.Slug+"_"); ok {
		return in.byName[rest]
	}
	return nil
}

// FunctionNames lists the Lua names of the functions, in spec order.
func (in *Integration) FunctionNames() []string {
	out := make([]string, len(in.Functions))
	for i, f := range in.Functions {
		out[i] = f.Name
	}
	return out
}

// Server returns the server called name, or nil.
func (in *Integration) Server(name string) *Server {
	for _, s := range in.Servers {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// IsFirstServer reports whether s is the integration's default server.
func (in *Integration) IsFirstServer(s *Server) bool {
	return len(in.Servers) > 0 && in.Servers[0] == s
}

// Operation returns the task operation called name, or nil.
func (in *Integration) Operation(name string) *Operation {
	for _, o := range in.Operations {
		if o.Name == name {
			return o
		}
	}
	return nil
}

// OperationNames lists the task operations, in spec order.
func (in *Integration) OperationNames() []string {
	out := make([]string, len(in.Operations))
	for i, o := range in.Operations {
		out[i] = o.Name
	}
	return out
}

// Type returns the named type, or nil.
func (in *Integration) Type(name string) *Schema {
	for _, t := range in.Types {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// Doc returns the docs page called name, or nil.
func (in *Integration) Doc(name string) *DocPage {
	for _, d := range in.Docs {
		if d.Name == name {
			return d
		}
	}
	return nil
}

// Counts returns how many functions there are, of each kind.
func (in *Integration) Counts() (all, reads, writes int) {
	for _, f := range in.Functions {
		if f.Kind == Write {
			writes++
		} else {
			reads++
		}
	}
	return len(in.Functions), reads, writes
}

// Param returns the parameter called name, or nil.
func (f *Function) Param(name string) *Param { return f.byName[name] }

// ParamNames lists the parameters in spec order.
func (f *Function) ParamNames() []string { return slices.Clone(f.names) }

// HasBody reports whether the function sends a body.
func (f *Function) HasBody() bool {
	for _, p := range f.Params {
		if p.In == InBody {
			return true
		}
	}
	return false
}
