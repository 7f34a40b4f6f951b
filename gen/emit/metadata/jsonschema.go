package metadata

import (
	"encoding/json"

	"github.com/cctoolkit/cloudconvert/gen/ir"
)

// JSONSchema renders an IR schema (refs resolved) as JSON Schema, keys in a
// fixed order so the bytes are stable.
func JSONSchema(s *ir.Schema) json.RawMessage {
	b, err := json.Marshal(jsonSchema(s))
	if err != nil {
		panic("metadata: JSON schema of plain values cannot fail: " + err.Error())
	}
	return b
}

// InputSchema is the JSON Schema of a function's argument table: no other
// names than the parameters are allowed.
func InputSchema(fn *ir.Function) json.RawMessage {
	m := jsonSchema(fn.InputSchema)
	if _, ok := m.Values["properties"]; !ok {
		m.set("properties", &ir.Map{Values: map[string]any{}})
	}
	m.set("additionalProperties", false)
	b, _ := json.Marshal(m)
	return b
}

type obj struct{ *ir.Map }

func (o obj) set(k string, v any) {
	if _, ok := o.Values[k]; !ok {
		o.Keys = append(o.Keys, k)
	}
	o.Values[k] = v
}

func jsonSchema(s *ir.Schema) obj {
	o := obj{&ir.Map{Values: map[string]any{}}}
	if s.Title != "" {
		o.set("title", s.Title)
	}
	switch {
	case s.Type != "" && s.Nullable:
		o.set("type", []string{s.Type, "null"})
	case s.Type != "":
		o.set("type", s.Type)
	}
	if s.Description != "" {
		o.set("description", s.Description)
	}
	if s.Format != "" {
		o.set("format", s.Format)
	}
	if len(s.Enum) > 0 {
		o.set("enum", s.Enum)
	}
	if s.Default != nil {
		o.set("default", s.Default)
	}
	if s.Minimum != nil {
		o.set("minimum", number(*s.Minimum))
	}
	if s.Maximum != nil {
		o.set("maximum", number(*s.Maximum))
	}
	if s.MinLength != nil {
		o.set("minLength", *s.MinLength)
	}
	if s.MaxLength != nil {
		o.set("maxLength", *s.MaxLength)
	}
	if s.Pattern != "" {
		o.set("pattern", s.Pattern)
	}
	if s.MinItems != nil {
		o.set("minItems", *s.MinItems)
	}
	if s.MaxItems != nil {
		o.set("maxItems", *s.MaxItems)
	}
	if s.Items != nil {
		o.set("items", jsonSchema(s.Items).Map)
	}
	if len(s.Properties) > 0 {
		props := obj{&ir.Map{Values: map[string]any{}}}
		var required []string
		for _, p := range s.Properties {
			props.set(p.Name, jsonSchema(p.Schema).Map)
			if p.Required {
				required = append(required, p.Name)
			}
		}
		o.set("properties", props.Map)
		if len(required) > 0 {
			o.set("required", required)
		}
	}
	switch {
	case s.AdditionalSchema != nil:
		o.set("additionalProperties", jsonSchema(s.AdditionalSchema).Map)
	case s.Type == "object" && !s.AdditionalProperties && len(s.Properties) > 0:
		o.set("additionalProperties", false)
	}
	if len(s.OneOf) > 0 {
		var alts []any
		for _, a := range s.OneOf {
			alts = append(alts, jsonSchema(a).Map)
		}
		o.set("oneOf", alts)
	}
	return o
}

// number prints whole numbers without a fraction.
func number(f float64) any {
	if f == float64(int64(f)) {
		return int64(f)
	}
	return f
}
