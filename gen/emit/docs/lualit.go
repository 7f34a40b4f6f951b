package docs

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/cctoolkit/cloudconvert/integration"
)

var luaIdent = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

var luaKeywords = map[string]bool{
	"and": true, "break": true, "do": true, "else": true, "elseif": true, "end": true,
	"false": true, "for": true, "function": true, "if": true, "in": true, "local": true,
	"nil": true, "not": true, "or": true, "repeat": true, "return": true, "then": true,
	"true": true, "until": true, "while": true,
}

// LuaLiteral writes a value (nil, bool, float64, string, []any,
// *integration.Object) as Lua source, indented by indent levels of two spaces.
func LuaLiteral(v any, indent int) string {
	var b strings.Builder
	writeLua(&b, v, indent)
	return b.String()
}

func writeLua(b *strings.Builder, v any, indent int) {
	pad := strings.Repeat("  ", indent+1)
	switch x := v.(type) {
	case nil:
		b.WriteString("nil")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case float64:
		b.WriteString(integration.FormatNumber(x))
	case string:
		b.WriteString(LuaString(x))
	case []any:
		if len(x) == 0 {
			b.WriteString("{}")
			return
		}
		if allScalar(x) {
			b.WriteString("{")
			for i, e := range x {
				if i > 0 {
					b.WriteString(", ")
				}
				writeLua(b, e, indent)
			}
			b.WriteString("}")
			return
		}
		b.WriteString("{\n")
		for i, e := range x {
			b.WriteString(pad)
			writeLua(b, e, indent+1)
			if i < len(x)-1 {
				b.WriteString(",")
			}
			b.WriteString("\n")
		}
		b.WriteString(strings.Repeat("  ", indent) + "}")
	case *integration.Object:
		if x.Len() == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteString("{\n")
		for i, k := range x.Keys() {
			b.WriteString(pad + LuaKey(k) + " = ")
			v, _ := x.Get(k)
			writeLua(b, v, indent+1)
			if i < x.Len()-1 {
				b.WriteString(",")
			}
			b.WriteString("\n")
		}
		b.WriteString(strings.Repeat("  ", indent) + "}")
	default:
		panic(fmt.Sprintf("docs: no Lua form for %T", v))
	}
}

func allScalar(xs []any) bool {
	for _, x := range xs {
		switch x.(type) {
		case []any, *integration.Object:
			return false
		}
	}
	return true
}

// LuaKey writes a table key: bare when it is a Lua name, else ["key"].
func LuaKey(k string) string {
	if luaIdent.MatchString(k) && !luaKeywords[k] {
		return k
	}
	return "[" + LuaString(k) + "]"
}

// LuaString quotes s as a Lua string literal.
func LuaString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 {
				fmt.Fprintf(&b, `\%03d`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// exampleValue is a value that fits a parameter: its example, else its
// default, else one made from its type.
func exampleValue(p *integration.Param) any {
	if p.Example != nil {
		return p.Example
	}
	return valueFor(p.Name, p.Schema, 0)
}

func valueFor(name string, s *integration.Schema, depth int) any {
	s = s.Resolved()
	if s == nil || depth > 8 {
		return nil
	}
	if s.Default != nil {
		return s.Default
	}
	if len(s.Enum) > 0 {
		return s.Enum[0]
	}
	if len(s.OneOf) > 0 {
		return valueFor(name, s.OneOf[0], depth+1)
	}
	switch s.Type {
	case integration.TypeInteger:
		if s.Minimum != nil {
			return *s.Minimum
		}
		return 1.0
	case integration.TypeNumber:
		if s.Minimum != nil {
			return *s.Minimum
		}
		return 1.5
	case integration.TypeBoolean:
		return true
	case integration.TypeArray:
		if s.Items != nil {
			return []any{valueFor(name, s.Items, depth+1)}
		}
		return []any{}
	case integration.TypeObject:
		m := integration.NewObject(len(s.Properties))
		for _, p := range s.Properties {
			if p.Required {
				m.Set(p.Name, valueFor(p.Name, p.Schema, depth+1))
			}
		}
		return m
	}
	return "example " + strings.ReplaceAll(name, "_", " ")
}
