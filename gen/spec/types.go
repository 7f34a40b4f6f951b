// Package spec is the YAML form of an integration spec: the Go types it
// decodes into, a strict loader that rejects unknown keys, and validation.
// Every value keeps its position so that errors can name file:line:col.
package spec

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// Pos is a position in a spec file.
type Pos struct {
	File      string
	Line, Col int
}

func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// File is a whole spec file.
type File struct {
	Pos          Pos               `yaml:"-"`
	Integration  Integration       `yaml:"integration"`
	Operations   []Operation       `yaml:"operations"`
	Types        Entries[Schema]   `yaml:"types"`
	Errors       *ErrorsDecl       `yaml:"errors"`
	Functions    []Function        `yaml:"functions"`
	MultiAccount *MultiAccountDecl `yaml:"multi_account"`
}

// Integration describes the service as a whole.
type Integration struct {
	Pos         Pos      `yaml:"-"`
	Slug        string   `yaml:"slug"`
	Name        string   `yaml:"name"`
	Summary     string   `yaml:"summary"`
	Description string   `yaml:"description"`
	DocsURL     string   `yaml:"docs_url"`
	Version     string   `yaml:"version"`
	Auth        Auth     `yaml:"auth"`
	Servers     []Server `yaml:"servers"`
	Regions     []string `yaml:"regions"`
}

// Auth says how requests authenticate.
type Auth struct {
	Pos         Pos    `yaml:"-"`
	Kind        string `yaml:"kind"`   // api_key
	Scheme      string `yaml:"scheme"` // bearer or header
	Header      string `yaml:"header"` // the header of scheme header, e.g. X-Api-Key
	Env         string `yaml:"env"`    // environment variable holding the key
	Description string `yaml:"description"`
}

// Server is one family of base URLs (the REST API, the waiting API, ...).
type Server struct {
	Pos         Pos    `yaml:"-"`
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Live        string `yaml:"live"`
	Sandbox     string `yaml:"sandbox"`
	Region      string `yaml:"region"` // may contain {region}
}

// Operation is one entry of the integration's table of task operations.
type Operation struct {
	Pos         Pos    `yaml:"-"`
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Common      bool   `yaml:"common"`
}

// ErrorsDecl names the error body type and the statuses that carry it.
type ErrorsDecl struct {
	Pos      Pos    `yaml:"-"`
	Ref      string `yaml:"ref"`
	Statuses []int  `yaml:"statuses"`
	// Codes are the API's common error codes, for the errors docs page.
	Codes []ErrorCode `yaml:"codes"`
}

// ErrorCode is one of the API's error codes.
type ErrorCode struct {
	Pos  Pos    `yaml:"-"`
	Code string `yaml:"code"`
	// Status is the HTTP status that carries it; 0 for a code that is not
	// an error answer (a failed task's code, say).
	Status      int    `yaml:"status"`
	Description string `yaml:"description"`
}

// MultiAccountDecl gives the example account names used in the docs.
type MultiAccountDecl struct {
	Pos      Pos      `yaml:"-"`
	Accounts []string `yaml:"accounts"`
}

// Function is one function agents call.
type Function struct {
	Pos            Pos    `yaml:"-"`
	Name           string `yaml:"name"`
	Operation      string `yaml:"operation"` // read or write
	Summary        string `yaml:"summary"`
	Description    string `yaml:"description"`
	ShowOperations bool   `yaml:"show_operations"`
	// Retry overrides how a failed call may be repeated: safe (any time)
	// or unsent (only when it never reached the server). Default: safe for
	// reads, unsent for writes.
	Retry      string        `yaml:"retry"`
	Wait       *WaitDecl     `yaml:"wait"`
	Transfer   *TransferDecl `yaml:"transfer"`
	HTTP       HTTP          `yaml:"http"`
	Parameters []Parameter   `yaml:"parameters"`
	Notes      string        `yaml:"notes"`
	Response   Response      `yaml:"response"`
	Examples   []Example     `yaml:"examples"`
}

// WaitDecl says that a function blocks until something has ended, and how
// to reach the same answer by polling where its server is not available.
type WaitDecl struct {
	Pos   Pos      `yaml:"-"`
	Poll  string   `yaml:"poll"`  // the function to call repeatedly, e.g. get_job
	Field string   `yaml:"field"` // dotted path in the answer, e.g. data.status
	Until []string `yaml:"until"` // values that end the wait
}

// TransferDecl makes a function that moves files between the host's
// workspace and the service, through other functions of the spec, instead
// of one HTTP request: it has no http mapping, and its parameters are used
// by the host (except timeout ones). Exactly one of upload and download.
type TransferDecl struct {
	Pos      Pos           `yaml:"-"`
	Upload   *UploadDecl   `yaml:"upload"`
	Download *DownloadDecl `yaml:"download"`
}

// UploadDecl sends one local file to an HTML-style upload form.
type UploadDecl struct {
	Pos Pos `yaml:"-"`
	// Via makes the upload target, with the fixed arguments Args.
	Via  string     `yaml:"via"`
	Args *yaml.Node `yaml:"args"`
	// FormURL and FormFields are paths in Via's answer: the URL to POST
	// the form to, and the object of fields sent before the file.
	FormURL    string `yaml:"form_url"`
	FormFields string `yaml:"form_fields"`
	FileField  string `yaml:"file_field"` // the form field of the file
	FileParam  string `yaml:"file_param"` // the parameter naming the local file
	NameParam  string `yaml:"name_param"` // the parameter naming the file as sent
	// Then reads what the function answers, once the file is sent.
	Then *StepDecl `yaml:"then"`
}

// StepDecl calls a function with arguments taken from a previous answer:
// args maps its parameters to paths in that answer.
type StepDecl struct {
	Pos  Pos             `yaml:"-"`
	Via  string          `yaml:"via"`
	Args Entries[string] `yaml:"args"`
}

// DownloadDecl saves files into a folder of the workspace.
type DownloadDecl struct {
	Pos      Pos    `yaml:"-"`
	DirParam string `yaml:"dir_param"`
	// URLField and NameField are the fields of a file object that hold
	// its download URL and its name.
	URLField  string       `yaml:"url_field"`
	NameField string       `yaml:"name_field"`
	Sources   []SourceDecl `yaml:"sources"`
}

// SourceDecl is one way to name what to download: a parameter passed to
// via (files: the path of the file objects in its answer), or without via
// the URL of one file.
type SourceDecl struct {
	Pos    Pos         `yaml:"-"`
	Param  string      `yaml:"param"`
	Via    string      `yaml:"via"`
	Files  string      `yaml:"files"`
	Failed *FailedDecl `yaml:"failed"`
	Hint   string      `yaml:"hint"`
}

// FailedDecl says when via's answer means that what it names failed: the
// value at field is one of is; code and message are paths of the reason.
type FailedDecl struct {
	Pos     Pos      `yaml:"-"`
	Field   string   `yaml:"field"`
	Is      []string `yaml:"is"`
	Code    string   `yaml:"code"`
	Message string   `yaml:"message"`
}

// HTTP maps a function onto a request.
type HTTP struct {
	Pos    Pos    `yaml:"-"`
	Method string `yaml:"method"`
	Path   string `yaml:"path"`
	Server string `yaml:"server"` // a Server name; default the first server
}

// Response is the success response of a function.
type Response struct {
	Pos    Pos    `yaml:"-"`
	Status int    `yaml:"status"`
	Ref    string `yaml:"ref"`
}

// Example is a Lua snippet shown in the docs.
type Example struct {
	Pos   Pos    `yaml:"-"`
	Title string `yaml:"title"`
	Lua   string `yaml:"lua"`
	// LuaPos is where the snippet's first line stands in the file.
	LuaPos Pos `yaml:"-"`
}

// Parameter is one named argument of a function: a schema plus where it goes
// on the wire.
type Parameter struct {
	Schema `yaml:",inline"`
	Name   string     `yaml:"name"`
	HTTP   *ParamHTTP `yaml:"http"`
}

// ParamHTTP says where a parameter goes in the request.
type ParamHTTP struct {
	Pos    Pos    `yaml:"-"`
	In     string `yaml:"in"`     // path, query or body (default body)
	Key    string `yaml:"key"`    // the wire name, default the parameter name
	Spread bool   `yaml:"spread"` // body: the object's fields go at the top level
	// SendDefault: a query parameter that is not given is sent with its
	// default (the default differs from the server's own).
	SendDefault bool     `yaml:"send_default"`
	KeyedBy     *KeyedBy `yaml:"keyed_by"`
}

// KeyedBy turns an array of objects into an object keyed by one field of each
// item, the way CloudConvert wants a job's tasks.
type KeyedBy struct {
	Pos         Pos    `yaml:"-"`
	Field       string `yaml:"field"`
	Description string `yaml:"description"`
	Pattern     string `yaml:"pattern"`
	// Noun is what an item is called in messages ("task").
	Noun string `yaml:"noun"`
	// DefaultFrom names the item field whose value, up to DefaultCut,
	// names an item that has no key; clashes are numbered -1, -2, ...
	DefaultFrom string `yaml:"default_from"`
	DefaultCut  string `yaml:"default_cut"`
	// References names the item field whose values must be keys of the object.
	References string `yaml:"references"`
}

// Schema is the small type language of the spec: JSON Schema's core,
// written compactly.
type Schema struct {
	Pos                   Pos                   `yaml:"-"`
	Type                  string                `yaml:"type"`
	Ref                   string                `yaml:"ref"`
	Title                 string                `yaml:"title"`
	Description           string                `yaml:"description"`
	Format                string                `yaml:"format"`
	Pattern               string                `yaml:"pattern"`
	Enum                  []string              `yaml:"enum"`
	EnumFrom              string                `yaml:"enum_from"`
	Default               *yaml.Node            `yaml:"default"`
	Example               *yaml.Node            `yaml:"example"`
	Minimum               *float64              `yaml:"minimum"`
	Maximum               *float64              `yaml:"maximum"`
	MinLength             *int                  `yaml:"min_length"`
	MaxLength             *int                  `yaml:"max_length"`
	MinItems              *int                  `yaml:"min_items"`
	MaxItems              *int                  `yaml:"max_items"`
	Required              bool                  `yaml:"required"`
	Nullable              bool                  `yaml:"nullable"`
	Items                 *Schema               `yaml:"items"`
	Properties            Entries[Schema]       `yaml:"properties"`
	AdditionalProperties  *AdditionalProperties `yaml:"additional_properties"`
	AdditionalLabel       string                `yaml:"additional_label"`
	AdditionalDescription string                `yaml:"additional_description"`
	OneOf                 []Schema              `yaml:"one_of"`
}

// AdditionalProperties is `true`, `false` or a schema for the values.
type AdditionalProperties struct {
	Pos     Pos
	Allowed bool
	Schema  *Schema
}

// Entry is one key of an ordered mapping.
type Entry[T any] struct {
	Key    string
	KeyPos Pos
	Value  T
}

// Entries is an ordered mapping: YAML order is kept, so output that follows
// it is deterministic and reads in the order the author chose.
type Entries[T any] []Entry[T]

// Get returns the value under key.
func (e Entries[T]) Get(key string) (T, bool) {
	for _, x := range e {
		if x.Key == key {
			return x.Value, true
		}
	}
	var zero T
	return zero, false
}
