// Package ir is the generator's intermediate representation: a validated,
// fully resolved view of one integration spec, in the shape of
// protoc-gen-go's protogen. At its heart is the runtime descriptor
// (integration.Integration, what running code sees): every name is computed
// once there, refs are pointers and kinds are typed. Around it the IR keeps
// what only the generator needs: Go names, OpenAPI files and operation IDs,
// the wire schemas, docs notes, example positions.
package ir

import (
	"github.com/cctoolkit/cloudconvert/gen/spec"
	"github.com/cctoolkit/cloudconvert/integration"
)

// Integration is one integration, ready for the emitters.
type Integration struct {
	Desc       *integration.Integration // the runtime descriptor
	SourceFile string                   // the spec file, as given to the generator
	GoName     string                   // Cloudconvert: for Go identifiers
	Servers    []*Server                // in spec order
	Functions  []*Function              // in spec order
	// ErrorType is the schema of error bodies, or nil; ErrorStatus the
	// statuses that carry it.
	ErrorType   *integration.Schema
	ErrorStatus []int
	// ErrorCodes are the API's common error codes, in spec order.
	ErrorCodes []ErrorCode
}

// ErrorCode is one of the API's error codes (Status 0: not an error
// answer's).
type ErrorCode struct {
	Code        string
	Status      int
	Description string
}

// Server is one family of base URLs. Each server with functions gets an
// OpenAPI document and a Go client of its own, since the same path can mean
// different things on two hosts (GET /jobs/{id} on the sync host waits).
type Server struct {
	Desc          *integration.Server
	OpenAPIFile   string      // openapi.yaml for the first server, openapi-<name>.yaml for others
	ClientPackage string      // client for the first server, <name>client for others
	Functions     []*Function // the functions on this server, in spec order
}

// Function is one function.
type Function struct {
	Desc   *integration.Function
	Server *Server
	GoName string // CreateJob
	// OperationID is the OpenAPI operationId. For a function whose path
	// is expanded over an operation name it is the prefix of each
	// per-operation ID.
	OperationID string
	// Expand is the path parameter whose enum values contain "/" and so
	// cannot be one path segment: the OpenAPI document gets one path per
	// value (POST /import/url, POST /convert, ...).
	Expand *Param
	Params []*Param
	// ShowOperations asks the docs to show the table of task operations.
	ShowOperations bool
	Notes          string // markdown shown after the parameter tables
	Examples       []Example
}

// Param is one named argument.
type Param struct {
	Desc   *integration.Param
	GoName string
	// WireSchema is what goes on the wire: for a keyed_by parameter, the
	// items without the key field.
	WireSchema *integration.Schema
}

// Example is a Lua snippet and where it stands in the spec.
type Example struct {
	Title, Lua string
	Pos        spec.Pos
}

// Function returns the function called name, or nil.
func (in *Integration) Function(name string) *Function {
	for _, f := range in.Functions {
		if f.Desc.Name == name {
			return f
		}
	}
	return nil
}

// ServedServers are the servers that have functions, in spec order.
func (in *Integration) ServedServers() []*Server {
	var out []*Server
	for _, s := range in.Servers {
		if len(s.Functions) > 0 {
			out = append(out, s)
		}
	}
	return out
}
