// Package ir is the generator's intermediate representation: a validated,
// fully resolved view of one integration spec in which every derived name is
// already computed, so that emitters only print.
package ir

import (
	"strings"

	"github.com/cctoolkit/cloudconvert/gen/spec"
)

// Operation types of functions.
const (
	Read  = "read"
	Write = "write"
)

// Where a parameter goes in the request.
const (
	InPath  = "path"
	InQuery = "query"
	InBody  = "body"
	// InTimeout is not sent: the value, in seconds, bounds how long the
	// call may take (for calls that block, such as waiting for a job).
	InTimeout = "timeout"
)

// Integration is one integration, ready for the emitters.
type Integration struct {
	SourceFile  string // the spec file, as given to the generator
	Slug        string // cloudconvert
	Name        string // CloudConvert
	GoName      string // Cloudconvert: used for Go identifiers
	Summary     string
	Description string
	DocsURL     string
	Version     string
	Auth        Auth
	Servers     []Server
	Regions     []string
	Operations  []Operation // the table of task operations, in spec order
	Types       []*NamedType
	ErrorRef    string // name of the error body type, or ""
	ErrorStatus []int
	Functions   []*Function // in spec order
	Accounts    []string    // example account names for the docs
	ReadCount   int
	WriteCount  int
	LuaPath     string // app.integrations.cloudconvert
}

// Auth says how requests authenticate.
type Auth struct {
	Kind        string // api_key
	Label       string // "API key auth"
	Scheme      string // bearer
	Env         string
	Description string
}

// Server is one family of base URLs. Each server with functions gets an
// OpenAPI document and a Go client of its own, since the same path can mean
// different things on two hosts (GET /jobs/{id} on the sync host waits).
type Server struct {
	Name, Description     string
	Live, Sandbox, Region string
	OpenAPIFile           string // openapi.yaml for the first server, openapi-<name>.yaml for others
	ClientPackage         string // client for the first server, <name>client for others
}

// Operation is a task operation such as "import/url".
type Operation struct {
	Name        string
	Description string
	Common      bool
	GoName      string // ImportUrl: the suffix of CreateTask's per-operation client methods
}

// NamedType is a shared type from the spec's types section.
type NamedType struct {
	Name   string // Job
	Schema *Schema
}

// Function is one function of the integration.
type Function struct {
	Name        string // create_job (as in the spec)
	Slug        string // cloudconvert_create_job
	LuaName     string // create_job
	FullName    string // cloudconvert.create_job
	GoName      string // CreateJob
	MCPToolName string // cloudconvert_create_job
	DocPage     string // cloudconvert.create_job: the docs page name
	Operation   string // read or write
	Summary     string
	Description string
	Notes       string // markdown shown after the parameter tables
	// ShowOperations asks the docs to show the table of task operations.
	ShowOperations bool

	Method string // GET, POST, ...
	Path   string // /jobs/{id}: relative to the server
	Server string // the Server's name
	// OperationID is the OpenAPI operationId and so the generated client's
	// method name. For functions whose path is expanded over an operation
	// name, it is the prefix of each per-operation method.
	OperationID string
	// Expand is the path parameter whose enum values contain "/" and so
	// cannot be one path segment: the OpenAPI document gets one path per
	// value (POST /import/url, POST /convert, ...).
	Expand *Param

	Params   []*Param
	Response Response
	Examples []Example

	// InputSchema is the JSON Schema of the argument table, refs resolved.
	InputSchema *Schema
}

// Response is a function's success response.
type Response struct {
	Status int
	Ref    string
}

// Example is a Lua snippet for the docs.
type Example struct {
	Title string
	Lua   string
	Pos   spec.Pos
}

// Param is one named argument.
type Param struct {
	Name     string
	GoName   string
	Required bool
	// Schema is what the caller passes, refs resolved (for a keyed_by
	// parameter the items include the key field).
	Schema *Schema
	// WireSchema is what goes on the wire, refs kept as Ref.
	WireSchema *Schema
	In         string // path, query or body
	Key        string // wire name: "id", "filter[status]", "tasks"
	Spread     bool   // body object whose fields go at the top level
	KeyedBy    *KeyedBy
	Example    any // an ordered value (see Map), or nil
}

// KeyedBy turns an array of objects into an object keyed by a field.
type KeyedBy struct {
	Field       string
	Description string
	Pattern     string
	DefaultFrom string
	References  string
}

// Schema is a JSON-Schema-like type. Ref names a NamedType; when set, the
// other fields other than Description and Nullable are empty.
type Schema struct {
	Type                  string // string, integer, number, boolean, object, array, or "" (any / one_of)
	Ref                   string
	Title                 string
	Description           string
	Format                string
	Pattern               string
	Enum                  []string
	EnumFrom              string // "operations" when Enum is the operations table
	Default               any
	Minimum, Maximum      *float64
	MinLength, MaxLength  *int
	MinItems, MaxItems    *int
	Nullable              bool
	Items                 *Schema
	Properties            []*Property
	AdditionalProperties  bool
	AdditionalSchema      *Schema // schema of additional values, when given
	AdditionalDescription string
	OneOf                 []*Schema
}

// Property is a field of an object schema.
type Property struct {
	Name     string
	Required bool
	Schema   *Schema
}

// Property returns the property called name, or nil.
func (s *Schema) Property(name string) *Property {
	for _, p := range s.Properties {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Lookup returns the named type, or nil.
func (in *Integration) Lookup(name string) *NamedType {
	for _, t := range in.Types {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// Function returns the function called name, or nil.
func (in *Integration) Function(name string) *Function {
	for _, f := range in.Functions {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// TypeLabel is how a schema's type reads in the docs: "string", "array",
// "string or array".
func (s *Schema) TypeLabel() string {
	if len(s.OneOf) > 0 {
		var parts []string
		for _, o := range s.OneOf {
			parts = append(parts, o.TypeLabel())
		}
		return strings.Join(parts, " or ")
	}
	if s.Type == "" {
		return "any"
	}
	return s.Type
}
