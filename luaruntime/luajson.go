package luaruntime

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"

	"github.com/cctoolkit/cloudconvert/integration"
)

// JSONDecoder turns JSON into Lua values: objects become tables with named
// fields, arrays 1-based sequences, null nil, numbers Lua numbers (an
// integer prints as an integer). A schema decides what an empty [] or {}
// is: PHP-backed APIs send [] for an empty object, and an empty array gets
// ArrayMeta as metatable so that json.encode writes it back as [].
// Nothing the schema does not know is dropped.
type JSONDecoder struct {
	L *lua.LState
	// ArrayMeta marks empty arrays; nil leaves them unmarked.
	ArrayMeta *lua.LTable
}

// JSONSyntaxError is a JSON document that does not parse.
type JSONSyntaxError struct {
	Offset int
	Msg    string
}

func (e *JSONSyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at byte %d: %s", e.Offset, e.Msg)
}

// Decode parses data, directed by s (nil for none).
func (d *JSONDecoder) Decode(data []byte, s *integration.Schema) (lua.LValue, error) {
	p := parser{d: d, data: data}
	p.ws()
	v := p.value(s.Resolved(), 0)
	if p.err != nil {
		return lua.LNil, p.err
	}
	p.ws()
	if p.i < len(p.data) {
		return lua.LNil, &JSONSyntaxError{p.i, "unexpected data after the value"}
	}
	return v, nil
}

type parser struct {
	d    *JSONDecoder
	data []byte
	i    int
	err  error
}

func (p *parser) fail(msg string) lua.LValue {
	if p.err == nil {
		p.err = &JSONSyntaxError{p.i, msg}
	}
	return lua.LNil
}

func (p *parser) ws() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) value(s *integration.Schema, depth int) lua.LValue {
	if depth > 512 {
		return p.fail("nested too deeply")
	}
	if p.i >= len(p.data) {
		return p.fail("unexpected end of input")
	}
	switch c := p.data[p.i]; {
	case c == '{':
		return p.object(s, depth)
	case c == '[':
		return p.array(s, depth)
	case c == '"':
		str, ok := p.str()
		if !ok {
			return lua.LNil
		}
		return lua.LString(str)
	case c == 't':
		return p.lit("true", lua.LTrue)
	case c == 'f':
		return p.lit("false", lua.LFalse)
	case c == 'n':
		return p.lit("null", lua.LNil)
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	}
	return p.fail(fmt.Sprintf("unexpected character %q", p.data[p.i]))
}

func (p *parser) lit(word string, v lua.LValue) lua.LValue {
	if len(p.data)-p.i >= len(word) && string(p.data[p.i:p.i+len(word)]) == word {
		p.i += len(word)
		return v
	}
	return p.fail("invalid literal")
}

func (p *parser) number() lua.LValue {
	start := p.i
	if p.data[p.i] == '-' {
		p.i++
	}
	intStart := p.i
	for p.i < len(p.data) && p.data[p.i] >= '0' && p.data[p.i] <= '9' {
		p.i++
	}
	digits := p.i - intStart
	if digits == 0 || (digits > 1 && p.data[intStart] == '0') {
		return p.fail("invalid number")
	}
	isInt := true
	if p.i < len(p.data) && p.data[p.i] == '.' {
		isInt = false
		p.i++
		n := p.i
		for p.i < len(p.data) && p.data[p.i] >= '0' && p.data[p.i] <= '9' {
			p.i++
		}
		if p.i == n {
			return p.fail("invalid number")
		}
	}
	if p.i < len(p.data) && (p.data[p.i] == 'e' || p.data[p.i] == 'E') {
		isInt = false
		p.i++
		if p.i < len(p.data) && (p.data[p.i] == '+' || p.data[p.i] == '-') {
			p.i++
		}
		n := p.i
		for p.i < len(p.data) && p.data[p.i] >= '0' && p.data[p.i] <= '9' {
			p.i++
		}
		if p.i == n {
			return p.fail("invalid number")
		}
	}
	if isInt && digits <= 15 {
		var n int64
		for _, c := range p.data[intStart:p.i] {
			n = n*10 + int64(c-'0')
		}
		if p.data[start] == '-' {
			n = -n
		}
		return lua.LNumber(n)
	}
	f, err := strconv.ParseFloat(string(p.data[start:p.i]), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return p.fail("invalid number")
	}
	// Underflow gives 0, which is fine; overflow would be an infinity that
	// no JSON can carry back.
	if math.IsInf(f, 0) {
		num := string(p.data[start:min(p.i, start+40)])
		p.i = start
		return p.fail("number " + num + " is out of range")
	}
	return lua.LNumber(f)
}

// str parses a string at p.i (which is '"').
func (p *parser) str() (string, bool) {
	p.i++
	start := p.i
	for p.i < len(p.data) {
		c := p.data[p.i]
		if c == '"' {
			s := string(p.data[start:p.i])
			p.i++
			return s, true
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			return p.strSlow(start)
		}
		p.i++
	}
	p.fail("unterminated string")
	return "", false
}

func (p *parser) strSlow(start int) (string, bool) {
	buf := make([]byte, 0, p.i-start+16)
	buf = append(buf, p.data[start:p.i]...)
	for p.i < len(p.data) {
		c := p.data[p.i]
		switch {
		case c == '"':
			p.i++
			return string(buf), true
		case c < 0x20:
			p.fail("control character in string")
			return "", false
		case c == '\\':
			p.i++
			if p.i >= len(p.data) {
				break
			}
			e := p.data[p.i]
			p.i++
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := p.hex4()
				if !ok {
					return "", false
				}
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if p.i+1 < len(p.data) && p.data[p.i] == '\\' && p.data[p.i+1] == 'u' {
						save := p.i
						p.i += 2
						if x, ok := p.hex4(); ok {
							r2 = x
						} else {
							return "", false
						}
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							r = d
						} else {
							p.i = save
							r = utf8.RuneError
						}
					} else {
						r = utf8.RuneError
					}
				}
				buf = utf8.AppendRune(buf, r)
			default:
				p.fail("invalid escape in string")
				return "", false
			}
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			p.i++
		default:
			r, size := utf8.DecodeRune(p.data[p.i:])
			if r == utf8.RuneError && size == 1 {
				buf = append(buf, "\uFFFD"...)
			} else {
				buf = append(buf, p.data[p.i:p.i+size]...)
			}
			p.i += size
		}
	}
	p.fail("unterminated string")
	return "", false
}

func (p *parser) hex4() (rune, bool) {
	if p.i+4 > len(p.data) {
		p.fail("short \\u escape")
		return 0, false
	}
	var r rune
	for _, c := range p.data[p.i : p.i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			p.fail("invalid \\u escape")
			return 0, false
		}
	}
	p.i += 4
	return r, true
}

func (p *parser) object(s *integration.Schema, depth int) lua.LValue {
	p.i++ // {
	hint := 4
	if s != nil && len(s.Properties) > 0 {
		hint = len(s.Properties) + 2
	}
	t := p.d.L.CreateTable(0, hint)
	p.ws()
	if p.i < len(p.data) && p.data[p.i] == '}' {
		p.i++
		if s != nil && s.Type == integration.TypeArray && p.d.ArrayMeta != nil {
			t.Metatable = p.d.ArrayMeta
		}
		return t
	}
	for {
		p.ws()
		if p.i >= len(p.data) || p.data[p.i] != '"' {
			return p.fail("expected a field name")
		}
		key, ok := p.keyStr(s)
		if !ok {
			return lua.LNil
		}
		p.ws()
		if p.i >= len(p.data) || p.data[p.i] != ':' {
			return p.fail("expected ':' after a field name")
		}
		p.i++
		p.ws()
		var vs *integration.Schema
		if s != nil {
			if prop := s.Property(key); prop != nil {
				vs = prop.Schema.Resolved()
			} else if s.AdditionalSchema != nil {
				vs = s.AdditionalSchema.Resolved()
			}
		}
		v := p.value(vs, depth+1)
		if p.err != nil {
			return lua.LNil
		}
		if v != lua.LNil {
			t.RawSetString(key, v)
		}
		p.ws()
		if p.i >= len(p.data) {
			return p.fail("unterminated object")
		}
		if p.data[p.i] == ',' {
			p.i++
			continue
		}
		if p.data[p.i] == '}' {
			p.i++
			return t
		}
		return p.fail("expected ',' or '}' in an object")
	}
}

// keyStr parses a field name, reusing the schema's property name (no
// allocation) when it is one.
func (p *parser) keyStr(s *integration.Schema) (string, bool) {
	if s != nil && len(s.Properties) > 0 {
		start := p.i + 1
		for j := start; j < len(p.data); j++ {
			c := p.data[j]
			if c == '"' {
				if prop := s.PropertyBytes(p.data[start:j]); prop != nil {
					p.i = j + 1
					return prop.Name, true
				}
				break
			}
			if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
				break
			}
		}
	}
	return p.str()
}

func (p *parser) array(s *integration.Schema, depth int) lua.LValue {
	p.i++ // [
	var items *integration.Schema
	if s != nil && s.Items != nil {
		items = s.Items.Resolved()
	}
	p.ws()
	if p.i < len(p.data) && p.data[p.i] == ']' {
		p.i++
		t := p.d.L.CreateTable(0, 0)
		// [] where the schema wants an object is an empty object.
		if (s == nil || s.Type != integration.TypeObject) && p.d.ArrayMeta != nil {
			t.Metatable = p.d.ArrayMeta
		}
		return t
	}
	t := p.d.L.CreateTable(8, 0)
	n := 0
	for {
		p.ws()
		v := p.value(items, depth+1)
		if p.err != nil {
			return lua.LNil
		}
		n++
		// null items keep their place: a JSON array [1, null, 3] has three
		// items; Lua sees a nil hole at [2] (# may then be 1 or 3).
		t.RawSetInt(n, v)
		p.ws()
		if p.i >= len(p.data) {
			return p.fail("unterminated array")
		}
		if p.data[p.i] == ',' {
			p.i++
			continue
		}
		if p.data[p.i] == ']' {
			p.i++
			return t
		}
		return p.fail("expected ',' or ']' in an array")
	}
}
