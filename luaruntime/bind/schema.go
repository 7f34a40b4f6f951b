// Package bind is the hand-written half of the Lua bindings. The generated
// half (generated/<slug>/luabind) is a data table: every function of an
// integration with its parameters, their schemas, its response schema and
// the generated client method it calls. This package turns a Lua argument
// table into a validated request (Function.Build), and a JSON response into
// Lua tables (Decode), both directed by those schemas.
//
// Nothing here is specific to one integration.
package bind

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
)

// Doer sends HTTP requests; *http.Client is one. It has the method set of
// the generated clients' HttpRequestDoer.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Integration is the generated binding table of one integration.
type Integration struct {
	Slug    string // cloudconvert
	Name    string // CloudConvert
	LuaPath string // app.integrations.cloudconvert
	AuthEnv string // the env var of the default API key, e.g. CLOUDCONVERT_API_KEY
	Servers []Server
	// Types are the named schemas that Ref names.
	Types     map[string]*Schema
	Functions []*Function
	// NewClient makes the generated client of a server (by name) for one
	// base URL.
	NewClient func(server, baseURL string, doer Doer) (any, error)

	byName map[string]*Function
}

// Server is a family of base URLs.
type Server struct {
	Name, Live, Sandbox, Region string
}

// Function is one function of the integration.
type Function struct {
	Name      string // create_job
	FullName  string // cloudconvert.create_job
	Operation string // read or write
	Method    string // POST
	Path      string // /jobs
	Server    string // which Server's base URL
	Params    []*Param
	// Response is the schema of the success body.
	Response *Schema
	// Status is the success status.
	Status int
	// Call sends the request through the generated client made by
	// Integration.NewClient.
	Call func(ctx context.Context, client any, r *Request) (*http.Response, error)

	names []string
	byKey map[string]*Param
}

// Param is one named argument.
type Param struct {
	Name     string
	Required bool
	In       string // path, query or body
	Key      string // the wire name
	Spread   bool   // a body object whose fields go at the top level
	KeyedBy  *KeyedBy
	Schema   *Schema
}

// KeyedBy turns an array of objects into an object keyed by Field.
type KeyedBy struct {
	Field       string // name
	Pattern     string // what a key may look like
	DefaultFrom string // the item field a default key derives from (operation)
	References  string // the item field that names other items (input)

	re *regexp.Regexp
}

// Schema is the JSON-Schema subset the bindings check and follow.
type Schema struct {
	Type                 string // string, integer, number, boolean, object, array, or "" for any
	Ref                  string // a name in Integration.Types; other fields are then empty
	Enum                 []string
	Pattern              string
	Minimum, Maximum     *float64
	MinLength, MaxLength *int
	MinItems, MaxItems   *int
	Nullable             bool
	Items                *Schema
	Properties           []*Property
	// AdditionalProperties allows properties beyond Properties, of
	// AdditionalSchema when given.
	AdditionalProperties bool
	AdditionalSchema     *Schema
	OneOf                []*Schema

	target *Schema // what Ref resolves to
	props  map[string]*Property
	names  []string
	re     *regexp.Regexp
}

// Property is a field of an object schema.
type Property struct {
	Name     string
	Required bool
	Schema   *Schema
}

// Float and Int make pointers for the generated literals.
func Float(v float64) *float64 { return &v }

// Int makes a pointer for the generated literals.
func Int(v int) *int { return &v }

// Compile resolves references and builds lookup tables. The generated
// Integration() calls it; it panics on a table the generator should never
// have written (an unknown ref), since that is a generator bug.
func Compile(in *Integration) *Integration {
	in.byName = map[string]*Function{}
	seen := map[*Schema]bool{}
	for _, name := range sortedKeys(in.Types) {
		in.compile(in.Types[name], seen)
	}
	for _, fn := range in.Functions {
		in.byName[fn.Name] = fn
		fn.byKey = map[string]*Param{}
		for _, p := range fn.Params {
			fn.names = append(fn.names, p.Name)
			fn.byKey[p.Name] = p
			in.compile(p.Schema, seen)
			if k := p.KeyedBy; k != nil && k.Pattern != "" {
				k.re = regexp.MustCompile(k.Pattern)
			}
		}
		if fn.Response != nil {
			in.compile(fn.Response, seen)
		}
	}
	return in
}

func (in *Integration) compile(s *Schema, seen map[*Schema]bool) {
	if s == nil || seen[s] {
		return
	}
	seen[s] = true
	if s.Ref != "" {
		t, ok := in.Types[s.Ref]
		if !ok {
			panic(fmt.Sprintf("bind: unknown type %q", s.Ref))
		}
		s.target = t
		in.compile(t, seen)
		return
	}
	if s.Pattern != "" {
		s.re = regexp.MustCompile(s.Pattern)
	}
	if len(s.Properties) > 0 {
		s.props = make(map[string]*Property, len(s.Properties))
		for _, p := range s.Properties {
			s.props[p.Name] = p
			s.names = append(s.names, p.Name)
			in.compile(p.Schema, seen)
		}
	}
	in.compile(s.Items, seen)
	in.compile(s.AdditionalSchema, seen)
	for _, o := range s.OneOf {
		in.compile(o, seen)
	}
}

// resolve follows a Ref.
func (s *Schema) resolve() *Schema {
	for s != nil && s.target != nil {
		s = s.target
	}
	return s
}

// Property returns the property called name, or nil.
func (s *Schema) Property(name string) *Property {
	s = s.resolve()
	if s == nil {
		return nil
	}
	return s.props[name]
}

// Function returns the function with the given Lua name, or nil.
func (in *Integration) Function(name string) *Function { return in.byName[name] }

// FunctionNames lists the Lua names in spec order.
func (in *Integration) FunctionNames() []string {
	out := make([]string, len(in.Functions))
	for i, f := range in.Functions {
		out[i] = f.Name
	}
	return out
}

// Server returns the server called name; the first when name is "".
func (in *Integration) Server(name string) (Server, bool) {
	for _, s := range in.Servers {
		if s.Name == name || name == "" {
			return s, true
		}
	}
	return Server{}, false
}

// ParamNames lists the parameters in spec order.
func (f *Function) ParamNames() []string { return slices.Clone(f.names) }

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
