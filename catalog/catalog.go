// Package catalog defines the metadata tables that the generator writes for
// each integration (see generated/<slug>/meta): what every function is
// called, whether it reads or writes, and the JSON Schema of its arguments.
// The Lua runtime, the CLI and the MCP server are driven by these tables.
package catalog

import "encoding/json"

// Operation types.
const (
	Read  = "read"
	Write = "write"
)

// Integration is the metadata of one integration.
type Integration struct {
	Slug         string      `json:"slug"`
	Name         string      `json:"name"`
	Summary      string      `json:"summary"`
	Description  string      `json:"description"`
	DocsURL      string      `json:"docs_url,omitempty"`
	LuaNamespace string      `json:"lua_namespace"`
	Auth         Auth        `json:"auth"`
	Counts       Counts      `json:"counts"`
	Servers      []Server    `json:"servers"`
	Regions      []string    `json:"regions,omitempty"`
	Operations   []Operation `json:"operations,omitempty"`
	Functions    []Function  `json:"functions"`
}

// Auth says how the integration authenticates.
type Auth struct {
	Kind   string `json:"kind"`   // api_key
	Label  string `json:"label"`  // "API key auth"
	Scheme string `json:"scheme"` // bearer
	Env    string `json:"env,omitempty"`
}

// Counts are the numbers shown on the integration page.
type Counts struct {
	Functions int `json:"functions"`
	Read      int `json:"read"`
	Write     int `json:"write"`
}

// Server is one family of base URLs.
type Server struct {
	Name    string `json:"name"`
	Live    string `json:"live"`
	Sandbox string `json:"sandbox,omitempty"`
	Region  string `json:"region,omitempty"`
}

// Operation is one entry of the table of task operations.
type Operation struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Common      bool   `json:"common,omitempty"`
}

// Function is one function.
type Function struct {
	Slug        string `json:"slug"`          // cloudconvert_create_job
	LuaName     string `json:"lua_name"`      // create_job
	FullName    string `json:"full_name"`     // cloudconvert.create_job
	GoName      string `json:"go_name"`       // CreateJob
	MCPToolName string `json:"mcp_tool_name"` // cloudconvert_create_job
	DocPage     string `json:"doc_page"`      // cloudconvert.create_job
	Operation   string `json:"operation"`     // read or write
	Summary     string `json:"summary"`
	Description string `json:"description"`
	Method      string `json:"method"`
	Path        string `json:"path"`
	Server      string `json:"server"`
	// OperationID names the generated client's method (see the OpenAPI
	// document); for expanded paths it is the methods' common prefix.
	OperationID string          `json:"operation_id"`
	Parameters  []Parameter     `json:"parameters"`
	InputSchema json.RawMessage `json:"input_schema"`
}

// Parameter is one argument of a function.
type Parameter struct {
	Name        string          `json:"name"`
	Type        string          `json:"type"` // as shown in the docs: string, integer, array, ...
	Required    bool            `json:"required"`
	Description string          `json:"description"`
	In          string          `json:"in"`  // path, query or body
	Key         string          `json:"key"` // the wire name
	Schema      json.RawMessage `json:"schema"`
}

// Function returns the function with the given Lua name, slug or full name.
func (in *Integration) Function(name string) (*Function, bool) {
	for i := range in.Functions {
		f := &in.Functions[i]
		if f.LuaName == name || f.Slug == name || f.FullName == name || f.MCPToolName == name {
			return f, true
		}
	}
	return nil, false
}

// FunctionNames lists the Lua names of the functions, in spec order.
func (in *Integration) FunctionNames() []string {
	out := make([]string, len(in.Functions))
	for i, f := range in.Functions {
		out[i] = f.LuaName
	}
	return out
}
