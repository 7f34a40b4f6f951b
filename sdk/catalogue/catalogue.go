// Package catalogue is the operations catalogue of a CloudConvert server
// (GET /v2/operations with include=options): which operation turns which
// input format into which output format, with which engine, taking which
// options. A Source fetches it from a server and keeps it on disk per
// server URL for a while; Check uses it to refuse a task before it is sent
// when its operation, formats or options are not what the server takes,
// with a did-you-mean for a misspelt option. DocPages renders it as one
// docs page per operation family.
//
// The same code reads the local server's catalogue and the real
// service's: both answer GET /v2/operations the same way.
package catalogue

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Option is one task field an operation takes.
type Option struct {
	Name string `json:"name"`
	// Type is the API's: string, integer, float, boolean, enum (see
	// PossibleValues) or dictionary.
	Type           string   `json:"type"`
	Default        any      `json:"default"`
	PossibleValues []string `json:"possible_values,omitempty"`
	Minimum        *float64 `json:"minimum,omitempty"`
	Maximum        *float64 `json:"maximum,omitempty"`
	Required       bool     `json:"required,omitempty"`
	Description    string   `json:"description,omitempty"`
}

// UnmarshalJSON also reads "values" for possible_values and "label" for
// the description, as some answers name them.
func (o *Option) UnmarshalJSON(data []byte) error {
	type plain Option
	var x struct {
		plain
		Values []any  `json:"values"`
		Label  string `json:"label"`
	}
	if err := json.Unmarshal(data, &x); err != nil {
		return err
	}
	*o = Option(x.plain)
	if len(o.PossibleValues) == 0 {
		for _, v := range x.Values {
			o.PossibleValues = append(o.PossibleValues, scalarText(v))
		}
	}
	if o.Description == "" {
		o.Description = x.Label
	}
	return nil
}

// Options are an operation's options. They decode from a list of options
// (the API's form) or from an object keyed by option name.
type Options []Option

// UnmarshalJSON reads a list or an object keyed by name (sorted by name).
func (ol *Options) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '{' {
		var m map[string]Option
		if err := json.Unmarshal(data, &m); err != nil {
			return err
		}
		out := make(Options, 0, len(m))
		for name, o := range m {
			o.Name = name
			out = append(out, o)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
		*ol = out
		return nil
	}
	var l []Option
	if err := json.Unmarshal(data, &l); err != nil {
		return err
	}
	*ol = l
	return nil
}

// Operation is one item of the catalogue: an operation from one input
// format to one output format by one engine.
type Operation struct {
	Operation string `json:"operation"`
	// InputFormat is a file extension; "" for imports, "*" for any file.
	InputFormat string `json:"input_format,omitempty"`
	// OutputFormat is "" when no file is made, "*" when the files keep
	// their formats.
	OutputFormat string  `json:"output_format,omitempty"`
	Engine       string  `json:"engine,omitempty"`
	Options      Options `json:"options,omitempty"`
	// Available is the local server's: false when its engine is not
	// installed or the operation runs on the real service only (Note
	// says why). Absent (nil) on the real service: always available.
	Available *bool  `json:"available,omitempty"`
	Note      string `json:"note,omitempty"`
}

// IsAvailable reports whether the server performs the operation now.
func (o *Operation) IsAvailable() bool { return o.Available == nil || *o.Available }

// Option returns the option called name, or nil.
func (o *Operation) Option(name string) *Option {
	for i := range o.Options {
		if o.Options[i].Name == name {
			return &o.Options[i]
		}
	}
	return nil
}

// Where names the operation in messages: "convert from png to jpg".
func (o *Operation) Where() string {
	return where(o.Operation, o.InputFormat, o.OutputFormat)
}

func where(op, in, out string) string {
	s := op
	if in != "" && in != "*" && in != "website" {
		s += " from " + in
	}
	if out != "" && out != "*" {
		s += " to " + out
	}
	return s
}

// Catalogue is a server's list of operations.
type Catalogue struct {
	// URL is where it was read: the server's API URL + /operations.
	URL        string      `json:"url"`
	FetchedAt  time.Time   `json:"fetched_at"`
	Operations []Operation `json:"operations"`
}

// Family is the part of an operation before its first "/": pdf/encrypt ->
// pdf, import/url -> import, convert -> convert.
func Family(op string) string {
	f, _, _ := strings.Cut(op, "/")
	return f
}

// Families lists the catalogue's operation families, sorted.
func (c *Catalogue) Families() []string {
	seen := map[string]bool{}
	var out []string
	for _, o := range c.Operations {
		if f := Family(o.Operation); !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	sort.Strings(out)
	return out
}

// OperationNames lists the distinct operations, sorted.
func (c *Catalogue) OperationNames() []string {
	seen := map[string]bool{}
	var out []string
	for _, o := range c.Operations {
		if !seen[o.Operation] {
			seen[o.Operation] = true
			out = append(out, o.Operation)
		}
	}
	sort.Strings(out)
	return out
}

// page is one answer of GET /operations.
type page struct {
	Data  []Operation `json:"data"`
	Links struct {
		Next *string `json:"next"`
	} `json:"links"`
}

// Parse reads one answer of GET /operations; next is the URL of the next
// page when the answer is paginated ("" when it is the last or only one).
func Parse(data []byte) (ops []Operation, next string, err error) {
	var p page
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, "", fmt.Errorf("the operations list is not the API's JSON: %w", err)
	}
	if p.Data == nil {
		return nil, "", fmt.Errorf("the operations list has no data array")
	}
	for i, o := range p.Data {
		if o.Operation == "" {
			return nil, "", fmt.Errorf("item %d of the operations list has no operation", i)
		}
	}
	if p.Links.Next != nil {
		next = *p.Links.Next
	}
	return p.Data, next, nil
}

// NormalizeFormat lowercases a format and folds the aliases the servers
// fold (jpeg -> jpg, tif -> tiff, tgz -> tar.gz).
func NormalizeFormat(f string) string {
	f = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(f), ".")))
	switch f {
	case "jpeg":
		return "jpg"
	case "tif":
		return "tiff"
	case "tgz":
		return "tar.gz"
	}
	return f
}

// FormatOfName is the format a file name's extension says ("" for none).
func FormatOfName(name string) string {
	if i := strings.IndexAny(name, "?#"); i >= 0 {
		name = name[:i]
	}
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	lower := strings.ToLower(name)
	if strings.HasSuffix(lower, ".tar.gz") {
		return "tar.gz"
	}
	i := strings.LastIndex(lower, ".")
	if i <= 0 || i == len(lower)-1 {
		return ""
	}
	return NormalizeFormat(lower[i+1:])
}

// scalarText is a value as the servers compare it with possible values:
// 90 -> "90", true -> "true", "x" -> "x".
func scalarText(v any) string {
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x)
	case float64:
		if x == float64(int64(x)) {
			return fmt.Sprintf("%d", int64(x))
		}
		return fmt.Sprint(x)
	case json.Number:
		return x.String()
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}
