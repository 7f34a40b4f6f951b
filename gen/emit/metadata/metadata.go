// Package metadata emits an integration's metadata tables as JSON
// (meta/metadata.json): what every function is called, whether it reads or
// writes, how it maps onto HTTP and the JSON Schema of its arguments. They
// are the seed's metadata tables for tools outside Go; Go code reads the
// same facts from the descriptor.
package metadata

import (
	"encoding/json"
	"fmt"

	"github.com/cctoolkit/cloudconvert/gen/ir"
	"github.com/cctoolkit/cloudconvert/integration"
)

// JSONFile is the emitted file, relative to the integration's output folder.
const JSONFile = "meta/metadata.json"

// Tables is the JSON form of the metadata tables.
type Tables struct {
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
	Kind   string `json:"kind"`
	Label  string `json:"label"`
	Scheme string `json:"scheme"`
	Header string `json:"header,omitempty"`
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
	Slug        string          `json:"slug"`
	LuaName     string          `json:"lua_name"`
	FullName    string          `json:"full_name"`
	MCPToolName string          `json:"mcp_tool_name"`
	DocPage     string          `json:"doc_page"`
	Operation   string          `json:"operation"`
	Retry       string          `json:"retry"`
	Summary     string          `json:"summary"`
	Description string          `json:"description"`
	Method      string          `json:"method,omitempty"`
	Path        string          `json:"path,omitempty"`
	Server      string          `json:"server"`
	Transfer    *Transfer       `json:"transfer,omitempty"`
	Parameters  []Parameter     `json:"parameters"`
	InputSchema json.RawMessage `json:"input_schema"`
}

// Transfer is what a transfer function is made of: its kind (upload or
// download) and the functions it calls, in order.
type Transfer struct {
	Kind  string   `json:"kind"`
	Calls []string `json:"calls"`
	// Params are the parameters that name local paths or sources.
	Params []string `json:"params"`
}

// Parameter is one argument of a function.
type Parameter struct {
	Name        string          `json:"name"`
	Type        string          `json:"type"`
	Required    bool            `json:"required"`
	Description string          `json:"description"`
	In          string          `json:"in"`
	Key         string          `json:"key"`
	Schema      json.RawMessage `json:"schema"`
}

// Build turns the IR's descriptor into the tables.
func Build(in *ir.Integration) (*Tables, error) {
	d := in.Desc
	all, reads, writes := d.Counts()
	t := &Tables{
		Slug: d.Slug, Name: d.Name, Summary: d.Summary, Description: d.Description, DocsURL: d.DocsURL,
		LuaNamespace: d.LuaPath,
		Auth:         Auth{Kind: d.Auth.Kind, Label: d.Auth.Label, Scheme: d.Auth.Scheme, Env: d.Auth.Env},
		Counts:       Counts{Functions: all, Read: reads, Write: writes},
		Regions:      d.Regions,
		Functions:    []Function{},
	}
	if d.Auth.Scheme == "header" {
		t.Auth.Header = d.Auth.Header
	}
	for _, s := range d.Servers {
		t.Servers = append(t.Servers, Server{Name: s.Name, Live: s.Live, Sandbox: s.Sandbox, Region: s.Region})
	}
	for _, op := range d.Operations {
		t.Operations = append(t.Operations, Operation{Name: op.Name, Description: op.Description, Common: op.Common})
	}
	for _, fn := range d.Functions {
		input, err := json.Marshal(fn.InputSchema())
		if err != nil {
			return nil, fmt.Errorf("function %s: input schema: %w", fn.Name, err)
		}
		f := Function{
			Slug: fn.ToolName, LuaName: fn.Name, FullName: fn.FullName, MCPToolName: fn.ToolName, DocPage: fn.DocPage,
			Operation: fn.Kind.String(), Retry: fn.Retry.String(), Summary: fn.Summary, Description: fn.Description,
			Method: fn.Method, Path: fn.Path, Server: fn.Server.Name,
			Parameters: []Parameter{}, InputSchema: input,
		}
		if t := fn.Transfer; t != nil {
			f.Transfer = transfer(t)
		}
		for _, p := range fn.Params {
			schema, err := json.Marshal(p.Schema.JSONSchema())
			if err != nil {
				return nil, fmt.Errorf("function %s: parameter %s: %w", fn.Name, p.Name, err)
			}
			f.Parameters = append(f.Parameters, Parameter{
				Name: p.Name, Type: p.Schema.TypeLabel(), Required: p.Required,
				Description: p.Schema.DescriptionOr(), In: p.In.String(), Key: p.Key, Schema: schema,
			})
		}
		t.Functions = append(t.Functions, f)
	}
	return t, nil
}

func transfer(t *integration.Transfer) *Transfer {
	if u := t.Upload; u != nil {
		out := &Transfer{Kind: "upload", Calls: []string{u.Via.Name}, Params: []string{u.FileParam}}
		if u.NameParam != "" {
			out.Params = append(out.Params, u.NameParam)
		}
		if u.Then != nil {
			out.Calls = append(out.Calls, u.Then.Via.Name)
		}
		return out
	}
	d := t.Download
	out := &Transfer{Kind: "download", Calls: []string{}}
	for _, s := range d.Sources {
		out.Params = append(out.Params, s.Param)
		if s.Via != nil {
			out.Calls = append(out.Calls, s.Via.Name)
		}
	}
	if d.DirParam != "" {
		out.Params = append(out.Params, d.DirParam)
	}
	return out
}

// Emit writes the JSON file.
func Emit(in *ir.Integration) (map[string][]byte, error) {
	t, err := Build(in)
	if err != nil {
		return nil, err
	}
	js, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding metadata JSON: %w", err)
	}
	return map[string][]byte{JSONFile: append(js, '\n')}, nil
}
