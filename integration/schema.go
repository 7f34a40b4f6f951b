package integration

import (
	"fmt"
	"regexp"
	"strings"
)

// Type is the type of a schema.
type Type uint8

// Types of schemas. TypeAny (the zero value) is any JSON value, and the
// type of a OneOf or Ref schema.
const (
	TypeAny Type = iota
	TypeString
	TypeInteger
	TypeNumber
	TypeBoolean
	TypeObject
	TypeArray
)

var typeNames = [...]string{TypeAny: "", TypeString: "string", TypeInteger: "integer", TypeNumber: "number", TypeBoolean: "boolean", TypeObject: "object", TypeArray: "array"}

// String is the JSON Schema name of the type ("" for TypeAny).
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "unknown"
}

// ParseType reads a JSON Schema type name.
func ParseType(s string) (Type, bool) {
	for i, n := range typeNames {
		if n == s && s != "" {
			return Type(i), true
		}
	}
	return TypeAny, false
}

// TypeNames lists the type names a spec may use.
func TypeNames() []string {
	return []string{"string", "integer", "number", "boolean", "object", "array"}
}

// Schema is the type language of descriptors: JSON Schema's core. A named
// type (Name set) is shared by pointer; a use of it elsewhere is a schema
// whose Ref points at it and which may add its own Description and
// Nullable.
type Schema struct {
	Name string  // the named type this schema is ("Job"), or ""
	Ref  *Schema // a use of a named type; other fields but Description and Nullable are then empty

	Type        Type
	Title       string
	Description string
	Format      string
	Pattern     string
	Enum        []string
	// EnumTable names the integration table Enum was filled from
	// ("operations"), so the docs can show the table instead.
	EnumTable            string
	Default              any
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
	// AdditionalLabel and AdditionalDescription describe the additional
	// properties in the docs ("operation-specific fields", "Depends on the
	// operation").
	AdditionalLabel       string
	AdditionalDescription string
	OneOf                 []*Schema

	re    *regexp.Regexp
	props map[string]*Property
	names []string
}

// Property is a field of an object schema.
type Property struct {
	Name     string
	Required bool
	Schema   *Schema
}

// Float and Int make pointers for generated literals.
func Float(v float64) *float64 { return &v }

// Int makes a pointer for generated literals.
func Int(v int) *int { return &v }

// Resolved follows Ref to the named type's schema.
func (s *Schema) Resolved() *Schema {
	for i := 0; s != nil && s.Ref != nil && i < 64; i++ {
		s = s.Ref
	}
	return s
}

// Property returns the property called name, or nil.
func (s *Schema) Property(name string) *Property {
	s = s.Resolved()
	if s == nil {
		return nil
	}
	if s.props != nil {
		return s.props[name]
	}
	for _, p := range s.Properties {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// PropertyBytes is Property for a name held in bytes (a JSON key), without
// allocating a string; the schema must be linked.
func (s *Schema) PropertyBytes(name []byte) *Property {
	return s.props[string(name)]
}

// PropertyNames lists the properties in order.
func (s *Schema) PropertyNames() []string {
	s = s.Resolved()
	out := make([]string, 0, len(s.Properties))
	for _, p := range s.Properties {
		out = append(out, p.Name)
	}
	return out
}

// compile builds the lookup tables and regular expressions once.
func (s *Schema) compile(seen map[*Schema]bool) error {
	if s == nil || seen[s] {
		return nil
	}
	seen[s] = true
	if s.Ref != nil {
		return s.Ref.compile(seen)
	}
	if s.Pattern != "" {
		re, err := regexp.Compile(s.Pattern)
		if err != nil {
			return fmt.Errorf("pattern %q: %w", s.Pattern, err)
		}
		s.re = re
	}
	if len(s.Properties) > 0 {
		s.props = make(map[string]*Property, len(s.Properties))
		s.names = s.names[:0]
		for _, p := range s.Properties {
			s.props[p.Name] = p
			s.names = append(s.names, p.Name)
			if err := p.Schema.compile(seen); err != nil {
				return fmt.Errorf("%s: %w", p.Name, err)
			}
		}
	}
	for _, sub := range append([]*Schema{s.Items, s.AdditionalSchema}, s.OneOf...) {
		if err := sub.compile(seen); err != nil {
			return err
		}
	}
	return nil
}

// TypeLabel is how a schema's type reads in the docs: "string", "array",
// "string or array".
func (s *Schema) TypeLabel() string {
	s = s.Resolved()
	if s == nil {
		return "any"
	}
	if len(s.OneOf) > 0 {
		parts := make([]string, 0, len(s.OneOf))
		for _, o := range s.OneOf {
			parts = append(parts, o.TypeLabel())
		}
		return strings.Join(parts, " or ")
	}
	if s.Type == TypeAny {
		return "any"
	}
	return s.Type.String()
}

// DescriptionOr returns the schema's description, or the named type's when
// the use gives none.
func (s *Schema) DescriptionOr() string {
	for i := 0; s != nil && i < 64; i++ {
		if s.Description != "" {
			return s.Description
		}
		s = s.Ref
	}
	return ""
}
