package localserver

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/cctoolkit/cloudconvert/localserver/engine"
)

// The operations catalogue: what this server performs, served as
// GET /v2/operations the way the real API lists its operations. It is the
// engines' catalogue (engine.Registry.Catalogue, the one the engines check
// tasks against) with the imports and the export the server performs
// itself in front, and the operations only the real service performs
// behind, marked unavailable with the reason.

// transferCapabilities are the imports and the export the server itself
// performs (ops.go): no formats, their fields as options.
func transferCapabilities() []engine.Capability {
	filename := engine.Option{Name: "filename", Type: "string", Description: "Name of the imported file; its extension tells the next tasks its format."}
	content := engine.Option{Name: "file", Type: "string", Required: true}
	caps := []engine.Capability{
		{Operation: "import/url", OutputFormat: "*", Options: []engine.Option{
			{Name: "url", Type: "string", Required: true, Description: "The http or https URL to download the file from."},
			{Name: "filename", Type: "string", Description: "Name of the imported file (default: from Content-Disposition or the URL); its extension tells the next tasks its format."},
			{Name: "headers", Type: "object", Description: `HTTP headers sent with the download, e.g. {"Authorization": "Bearer ..."}; they are dropped when a redirect leads to another host.`},
		}},
		{Operation: "import/upload", OutputFormat: "*", Options: []engine.Option{}},
		{Operation: "import/base64", OutputFormat: "*", Options: []engine.Option{
			withDesc(content, "The file content, base64-encoded (a data: URL prefix is accepted)."),
			withRequired(filename),
		}},
		{Operation: "import/raw", OutputFormat: "*", Options: []engine.Option{
			withDesc(content, "The file content as a string."),
			withRequired(filename),
		}},
		{Operation: "export/url", InputFormat: "*", Options: []engine.Option{
			{Name: "archive_multiple_files", Type: "boolean", Default: false, Description: "With several input files, export one zip archive of them instead of one URL per file."},
			{Name: "inline", Type: "boolean", Default: false, Description: "Accepted for compatibility with the real API; the local server serves its downloads as attachments."},
		}},
	}
	for i := range caps {
		caps[i].Available = true
	}
	return caps
}

func withDesc(o engine.Option, d string) engine.Option { o.Description = d; return o }
func withRequired(o engine.Option) engine.Option       { o.Required = true; return o }

// realOnlyCapabilities are the operations of the real API that no local
// engine performs: listed unavailable, the note saying why.
func realOnlyCapabilities() []engine.Capability {
	var caps []engine.Capability
	for op, why := range engine.RealServiceOnly() {
		c := engine.Capability{Operation: op, Note: "runs on the real CloudConvert service only: " + why, Options: []engine.Option{}}
		switch {
		case strings.HasPrefix(op, "import/"):
			c.OutputFormat = "*"
		case strings.HasPrefix(op, "export/"):
			c.InputFormat = "*"
		case op == "command":
			c.InputFormat, c.OutputFormat = "*", "*"
		default:
			c.InputFormat, c.OutputFormat = "pdf", "pdf"
		}
		caps = append(caps, c)
	}
	return caps
}

// Catalogue lists everything the local server knows how to do, sorted by
// operation, input and output format: its imports and export, the
// engines' capabilities (unavailable ones marked, with a note), and the
// operations only the real service performs (unavailable, the note saying
// why).
func Catalogue(reg *engine.Registry) []engine.Capability {
	caps := append(transferCapabilities(), reg.Catalogue()...)
	caps = append(caps, realOnlyCapabilities()...)
	engine.SortCapabilities(caps)
	return caps
}

// Operation is one item of GET /v2/operations. The real API's fields
// (operation, input_format, output_format, engine, options,
// engine_versions) come first; available and note are this server's.
type Operation struct {
	Operation      string            `json:"operation"`
	InputFormat    string            `json:"input_format,omitempty"`
	OutputFormat   string            `json:"output_format,omitempty"`
	Engine         string            `json:"engine,omitempty"`
	Options        []OperationOption `json:"options,omitempty"`
	EngineVersions []EngineVersion   `json:"engine_versions,omitempty"`
	Available      bool              `json:"available"`
	Note           string            `json:"note,omitempty"`
}

// OperationOption is one option of an Operation. Type is the real API's:
// string, integer, boolean, enum (with possible_values) or dictionary.
type OperationOption struct {
	Name           string   `json:"name"`
	Type           string   `json:"type"`
	Default        any      `json:"default"`
	PossibleValues []string `json:"possible_values,omitempty"`
	Minimum        *int     `json:"minimum,omitempty"`
	Maximum        *int     `json:"maximum,omitempty"`
	Required       bool     `json:"required,omitempty"`
	Description    string   `json:"description,omitempty"`
}

// EngineVersion is one version of an Operation's engine.
type EngineVersion struct {
	Version string `json:"version"`
	Default bool   `json:"default"`
	Latest  bool   `json:"latest"`
}

// wireOption maps an engine option onto the API's option types.
func wireOption(o engine.Option) OperationOption {
	w := OperationOption{Name: o.Name, Type: o.Type, Default: o.Default, PossibleValues: o.Values,
		Minimum: o.Minimum, Maximum: o.Maximum, Required: o.Required, Description: o.Description}
	switch {
	case len(o.Values) > 0:
		w.Type = "enum"
	case o.Type == "object":
		w.Type = "dictionary"
	}
	return w
}

// Operations is the whole catalogue as GET /v2/operations?include=options
// serves it: the one form the docs and the client-side checks read.
func Operations(reg *engine.Registry) []Operation {
	return operationItems(Catalogue(reg), nil, true)
}

// operationItems renders capabilities as API items; versions (engine ->
// version) adds engine_versions when not nil.
func operationItems(caps []engine.Capability, versions map[string]string, options bool) []Operation {
	out := make([]Operation, 0, len(caps))
	for _, c := range caps {
		op := Operation{Operation: c.Operation, InputFormat: c.InputFormat, OutputFormat: c.OutputFormat,
			Engine: c.Engine, Available: c.Available, Note: c.Note}
		if options {
			op.Options = make([]OperationOption, len(c.Options))
			for i, o := range c.Options {
				op.Options[i] = wireOption(o)
			}
		}
		if versions != nil {
			op.EngineVersions = []EngineVersion{}
			if v := versions[c.Engine]; v != "" {
				op.EngineVersions = append(op.EngineVersions, EngineVersion{Version: v, Default: true, Latest: true})
			}
		}
		out = append(out, op)
	}
	return out
}

// engineVersions maps each engine to its version ("" when unknown).
func (s *Server) engineVersions() map[string]string {
	m := map[string]string{}
	for _, e := range s.eng.Engines() {
		m[e.Name] = e.Version
	}
	return m
}

// listOperations answers GET /v2/operations: filters filter[operation],
// filter[input_format], filter[output_format], filter[engine],
// filter[engine_version]; include=options,engine_versions. An input
// format "*" (any file: archive) matches every input filter. alternatives is accepted: each
// pair has one engine here. No API key is needed: it is public discovery
// data, as on the real API.
func (s *Server) listOperations(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	withOptions, withVersions := false, false
	for _, inc := range q["include"] {
		for part := range strings.SplitSeq(inc, ",") {
			switch strings.TrimSpace(part) {
			case "options":
				withOptions = true
			case "engine_versions":
				withVersions = true
			case "":
			default:
				writeJSON(w, http.StatusUnprocessableEntity, errInvalid("The given data was invalid.", map[string][]string{
					"include": {fmt.Sprintf("%q cannot be included; include takes options, engine_versions or both, separated by a comma", short(part))}}), true)
				return
			}
		}
	}
	if a := q.Get("alternatives"); a != "" {
		if _, err := strconv.ParseBool(a); err != nil {
			writeJSON(w, http.StatusUnprocessableEntity, errInvalid("The given data was invalid.", map[string][]string{
				"alternatives": {"alternatives must be true or false"}}), true)
			return
		}
	}
	var versions map[string]string
	if withVersions || q.Get("filter[engine_version]") != "" {
		versions = s.engineVersions()
	}
	match := func(filter, value string, anyValue bool) bool {
		f := strings.ToLower(strings.TrimSpace(q.Get(filter)))
		return f == "" || strings.EqualFold(f, value) || (anyValue && value == "*")
	}
	var sel []engine.Capability
	for _, c := range Catalogue(s.eng) {
		if match("filter[operation]", c.Operation, false) && match("filter[input_format]", c.InputFormat, true) &&
			match("filter[output_format]", c.OutputFormat, false) && match("filter[engine]", c.Engine, false) &&
			(versions == nil || match("filter[engine_version]", versions[c.Engine], false)) {
			sel = append(sel, c)
		}
	}
	if !withVersions {
		versions = nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": operationItems(sel, versions, withOptions)}, true)
}
