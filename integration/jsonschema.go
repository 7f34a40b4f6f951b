package integration

// JSONSchema renders a schema (refs resolved, use-site descriptions kept)
// as a JSON Schema object whose keys keep a fixed order, so that its bytes
// are stable. It is the one rendering: the metadata tables, the MCP tools
// and `cloudconvert schema` all use it.
func (s *Schema) JSONSchema() *Object { return jsonSchema(s, 0) }

// InputSchema is the JSON Schema of a function's argument object. Unknown
// names are refused unless a spread parameter takes them.
func (f *Function) InputSchema() *Object {
	o := NewObject(4)
	o.Set("type", "object")
	if f.Summary != "" {
		o.Set("description", f.Summary)
	}
	props := NewObject(len(f.Params))
	var required []any
	for _, p := range f.Params {
		props.Set(p.Name, jsonSchema(p.Schema, 0))
		if p.Required {
			required = append(required, p.Name)
		}
	}
	o.Set("properties", props)
	if len(required) > 0 {
		o.Set("required", required)
	}
	o.Set("additionalProperties", f.spreadParam() != nil)
	return o
}

func jsonSchema(s *Schema, depth int) *Object {
	o := NewObject(4)
	if s == nil || depth > MaxDepth {
		return o
	}
	desc, nullable := s.Description, s.Nullable
	for i := 0; s.Ref != nil && i < MaxDepth; i++ {
		s = s.Ref
		if desc == "" {
			desc = s.Description
		}
		nullable = nullable || s.Nullable
	}
	if s.Title != "" {
		o.Set("title", s.Title)
	}
	switch {
	case s.Type != TypeAny && nullable:
		o.Set("type", []any{s.Type.String(), "null"})
	case s.Type != TypeAny:
		o.Set("type", s.Type.String())
	}
	if desc != "" {
		o.Set("description", desc)
	}
	if s.Format != "" {
		o.Set("format", s.Format)
	}
	if len(s.Enum) > 0 {
		enum := make([]any, len(s.Enum))
		for i, v := range s.Enum {
			enum[i] = v
		}
		o.Set("enum", enum)
	}
	if s.Default != nil {
		o.Set("default", s.Default)
	}
	if s.Minimum != nil {
		o.Set("minimum", *s.Minimum)
	}
	if s.Maximum != nil {
		o.Set("maximum", *s.Maximum)
	}
	if s.MinLength != nil {
		o.Set("minLength", float64(*s.MinLength))
	}
	if s.MaxLength != nil {
		o.Set("maxLength", float64(*s.MaxLength))
	}
	if s.Pattern != "" {
		o.Set("pattern", s.Pattern)
	}
	if s.MinItems != nil {
		o.Set("minItems", float64(*s.MinItems))
	}
	if s.MaxItems != nil {
		o.Set("maxItems", float64(*s.MaxItems))
	}
	if s.Items != nil {
		o.Set("items", jsonSchema(s.Items, depth+1))
	}
	if len(s.Properties) > 0 {
		props := NewObject(len(s.Properties))
		var required []any
		for _, p := range s.Properties {
			props.Set(p.Name, jsonSchema(p.Schema, depth+1))
			if p.Required {
				required = append(required, p.Name)
			}
		}
		o.Set("properties", props)
		if len(required) > 0 {
			o.Set("required", required)
		}
	}
	switch {
	case s.AdditionalSchema != nil:
		o.Set("additionalProperties", jsonSchema(s.AdditionalSchema, depth+1))
	case s.Type == TypeObject && !s.AdditionalProperties && len(s.Properties) > 0:
		o.Set("additionalProperties", false)
	}
	if len(s.OneOf) > 0 {
		alts := make([]any, len(s.OneOf))
		for i, a := range s.OneOf {
			alts[i] = jsonSchema(a, depth+1)
		}
		o.Set("oneOf", alts)
	}
	return o
}
