package bind

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"

	"github.com/cctoolkit/cloudconvert/internal/suggest"
)

// MaxDepth is how deeply argument tables and JSON documents may nest.
const MaxDepth = 64

func sprintf(format string, args ...any) string {
	if len(args) == 0 {
		return format
	}
	return fmt.Sprintf(format, args...)
}

// encoder turns Lua values into JSON, checking them against schemas.
type encoder struct {
	fn  *Function
	buf []byte
}

// describe names the type of a Lua value for messages: "a string ("x")".
func describe(v lua.LValue) string {
	switch v := v.(type) {
	case *lua.LNilType:
		return "nil"
	case lua.LBool:
		return "a boolean (" + v.String() + ")"
	case lua.LNumber:
		return "a number (" + formatNumber(float64(v)) + ")"
	case lua.LString:
		s := string(v)
		if utf8.RuneCountInString(s) > 40 {
			s = string([]rune(s)[:40]) + "…"
		}
		return "a string (" + strconv.Quote(s) + ")"
	case *lua.LTable:
		return "a table"
	case *lua.LFunction:
		return "a function"
	case *lua.LUserData:
		return "a userdata value"
	default:
		return "a " + v.Type().String()
	}
}

func formatNumber(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func appendNumber(b []byte, f float64) []byte {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.AppendInt(b, int64(f), 10)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

// AppendString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func AppendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// shape is what a Lua table looks like.
type shape struct {
	seq      int        // number of keys 1..n when the table is a sequence
	isSeq    bool       // only keys 1..n
	hasNamed bool       // has string keys
	badKey   lua.LValue // a key that is neither a string nor a positive integer
	gap      int        // first missing index of a list with holes
	keys     []string   // string keys in iteration order
}

func tableShape(t *lua.LTable, wantKeys bool) shape {
	var sh shape
	maxN, count := 0, 0
	k, v := t.Next(lua.LNil)
	for k != lua.LNil {
		_ = v
		switch key := k.(type) {
		case lua.LString:
			sh.hasNamed = true
			if wantKeys {
				sh.keys = append(sh.keys, string(key))
			}
		case lua.LNumber:
			f := float64(key)
			if f >= 1 && f == math.Trunc(f) && f < 1<<31 {
				count++
				maxN = max(maxN, int(f))
			} else if sh.badKey == nil {
				sh.badKey = k
			}
		default:
			if sh.badKey == nil {
				sh.badKey = k
			}
		}
		k, v = t.Next(k)
	}
	sh.seq = count
	sh.isSeq = !sh.hasNamed && sh.badKey == nil && count == maxN
	if count != maxN {
		// The first hole is at most count+1: never walk up to a huge key.
		for i := 1; i <= count+1; i++ {
			if t.RawGetInt(i) == lua.LNil {
				sh.gap = i
				break
			}
		}
	}
	return sh
}

func isArrayMarked(t *lua.LTable) bool {
	mt, ok := t.Metatable.(*lua.LTable)
	return ok && mt.RawGetString("__jsontype") == lua.LString("array")
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func typeLabel(s *Schema) string {
	s = s.resolve()
	if s == nil {
		return "any value"
	}
	if len(s.OneOf) > 0 {
		var parts []string
		for _, o := range s.OneOf {
			o = o.resolve()
			if o.Type == "array" && o.Items != nil && o.Items.resolve().Type != "" {
				parts = append(parts, "an array of "+o.Items.resolve().Type+"s")
			} else {
				parts = append(parts, article(o.Type))
			}
		}
		return strings.Join(parts, " or ")
	}
	if s.Type == "object" {
		return "a table of named fields"
	}
	if s.Type == "array" {
		return "an array (a list like {a, b})"
	}
	return article(s.Type)
}

func article(t string) string {
	switch t {
	case "":
		return "any value"
	case "integer", "array", "object":
		return "an " + t
	}
	return "a " + t
}

// value encodes v (not nil) per schema s at path.
func (e *encoder) value(v lua.LValue, s *Schema, path string, depth int) *Error {
	if depth > MaxDepth {
		return e.fn.argErr(path, "nests deeper than %d levels (does a table contain itself?)", MaxDepth)
	}
	s = s.resolve()
	if s == nil || (s.Type == "" && len(s.OneOf) == 0) {
		return e.any(v, path, depth)
	}
	if len(s.OneOf) > 0 {
		return e.oneOf(v, s, path, depth)
	}
	switch s.Type {
	case "string":
		str, ok := v.(lua.LString)
		if !ok {
			return e.fn.argErr(path, "must be a string, got %s", describe(v))
		}
		if err := e.checkString(string(str), s, path); err != nil {
			return err
		}
		e.buf = AppendString(e.buf, string(str))
	case "integer", "number":
		n, ok := v.(lua.LNumber)
		if !ok {
			return e.fn.argErr(path, "must be %s, got %s", article(s.Type), describe(v))
		}
		f := float64(n)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return e.fn.argErr(path, "must be a finite number, got %s", formatNumber(f))
		}
		if s.Type == "integer" && (f != math.Trunc(f) || math.Abs(f) > 1<<53) {
			return e.fn.argErr(path, "must be an integer, got %s", formatNumber(f))
		}
		if s.Minimum != nil && f < *s.Minimum {
			return e.fn.argErr(path, "must be at least %s, got %s", formatNumber(*s.Minimum), formatNumber(f))
		}
		if s.Maximum != nil && f > *s.Maximum {
			return e.fn.argErr(path, "must be at most %s, got %s", formatNumber(*s.Maximum), formatNumber(f))
		}
		e.buf = appendNumber(e.buf, f)
	case "boolean":
		b, ok := v.(lua.LBool)
		if !ok {
			return e.fn.argErr(path, "must be a boolean (true or false), got %s", describe(v))
		}
		e.buf = strconv.AppendBool(e.buf, bool(b))
	case "array":
		t, ok := v.(*lua.LTable)
		if !ok {
			return e.fn.argErr(path, "must be an array (a list like {a, b}), got %s", describe(v))
		}
		return e.array(t, s, path, depth)
	case "object":
		t, ok := v.(*lua.LTable)
		if !ok {
			return e.fn.argErr(path, "must be a table of named fields, got %s", describe(v))
		}
		return e.object(t, s, path, depth, "")
	default:
		return e.any(v, path, depth)
	}
	return nil
}

func (e *encoder) checkString(str string, s *Schema, path string) *Error {
	if len(s.Enum) > 0 {
		ok := false
		for _, x := range s.Enum {
			if x == str {
				ok = true
				break
			}
		}
		if !ok {
			list := strings.Join(s.Enum, ", ")
			if len(s.Enum) > 12 {
				list = strings.Join(s.Enum[:12], ", ") + ", ... (" + strconv.Itoa(len(s.Enum)) + " in all)"
			}
			return e.fn.argErr(path, "%q is not allowed%s; use one of: %s", str, suggest.DidYouMean(str, s.Enum), list)
		}
	}
	n := utf8.RuneCountInString(str)
	if s.MinLength != nil && n < *s.MinLength {
		if *s.MinLength == 1 {
			return e.fn.argErr(path, "must not be empty")
		}
		return e.fn.argErr(path, "must have at least %d characters, got %d", *s.MinLength, n)
	}
	if s.MaxLength != nil && n > *s.MaxLength {
		return e.fn.argErr(path, "must have at most %d characters, got %d", *s.MaxLength, n)
	}
	if s.re != nil && !s.re.MatchString(str) {
		return e.fn.argErr(path, "%q does not match the pattern %s", str, s.Pattern)
	}
	return nil
}

func (e *encoder) oneOf(v lua.LValue, s *Schema, path string, depth int) *Error {
	start := len(e.buf)
	var first *Error
	for _, alt := range s.OneOf {
		a := alt.resolve()
		// Only try alternatives of the value's own kind, so the error of a
		// near miss is the one reported.
		if !kindMatches(v, a) {
			continue
		}
		err := e.value(v, a, path, depth)
		if err == nil {
			return nil
		}
		e.buf = e.buf[:start]
		if first == nil {
			first = err
		}
	}
	if first != nil {
		return first
	}
	return e.fn.argErr(path, "must be %s, got %s", typeLabel(s), describe(v))
}

func kindMatches(v lua.LValue, s *Schema) bool {
	switch s.Type {
	case "", "object":
		_, ok := v.(*lua.LTable)
		return ok || s.Type == ""
	case "array":
		_, ok := v.(*lua.LTable)
		return ok
	case "string":
		return v.Type() == lua.LTString
	case "integer", "number":
		return v.Type() == lua.LTNumber
	case "boolean":
		return v.Type() == lua.LTBool
	}
	return false
}

func (e *encoder) array(t *lua.LTable, s *Schema, path string, depth int) *Error {
	sh := tableShape(t, false)
	if !sh.isSeq {
		switch {
		case sh.hasNamed:
			return e.fn.argErr(path, "must be an array (a list like {a, b}), got a table with named fields")
		case sh.badKey != nil:
			return e.fn.argErr(path, "must be an array (a list like {a, b}), got a table with key %s", describe(sh.badKey))
		default:
			return e.fn.argErr(path, "must be an array without holes, but item [%d] is nil", sh.gap)
		}
	}
	if s.MinItems != nil && sh.seq < *s.MinItems {
		if *s.MinItems == 1 {
			return e.fn.argErr(path, "must not be empty")
		}
		return e.fn.argErr(path, "must have at least %d items, got %d", *s.MinItems, sh.seq)
	}
	if s.MaxItems != nil && sh.seq > *s.MaxItems {
		return e.fn.argErr(path, "must have at most %d items, got %d", *s.MaxItems, sh.seq)
	}
	e.buf = append(e.buf, '[')
	for i := 1; i <= sh.seq; i++ {
		if i > 1 {
			e.buf = append(e.buf, ',')
		}
		if err := e.value(t.RawGetInt(i), s.Items, index(path, i), depth+1); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, ']')
	return nil
}

// object encodes a table of named fields; skip names a field left out
// (the key field of a keyed_by item).
func (e *encoder) object(t *lua.LTable, s *Schema, path string, depth int, skip string) *Error {
	sh := tableShape(t, true)
	if sh.seq > 0 {
		return e.fn.argErr(path, "must be a table of named fields ({name = value}), got a list")
	}
	if sh.badKey != nil {
		return e.fn.argErr(path, "has a key of %s; field names must be strings", describe(sh.badKey))
	}
	var unknown []string
	e.buf = append(e.buf, '{')
	n := 0
	for _, k := range sh.keys {
		if k == skip {
			continue
		}
		prop := s.props[k]
		var ps *Schema
		if prop != nil {
			ps = prop.Schema
		} else if s.AdditionalProperties {
			ps = s.AdditionalSchema
		} else {
			unknown = append(unknown, k)
			continue
		}
		if n > 0 {
			e.buf = append(e.buf, ',')
		}
		n++
		e.buf = AppendString(e.buf, k)
		e.buf = append(e.buf, ':')
		if err := e.value(t.RawGetString(k), ps, join(path, k), depth+1); err != nil {
			return err
		}
	}
	for _, p := range s.Properties {
		if p.Required && p.Name != skip && t.RawGetString(p.Name) == lua.LNil {
			hint := ""
			for _, k := range sh.keys {
				if s.props[k] == nil && suggest.Closest(k, []string{p.Name}) != "" {
					hint = fmt.Sprintf(" (is %q a misspelling of it?)", k)
					break
				}
			}
			return e.fn.argErr(join(path, p.Name), "is required (%s)%s", typeLabel(p.Schema), hint)
		}
	}
	if len(unknown) > 0 {
		return e.fn.argErr(join(path, unknown[0]), "is not a known field%s; fields: %s", suggest.DidYouMean(unknown[0], s.names), strings.Join(s.names, ", "))
	}
	e.buf = append(e.buf, '}')
	return nil
}

// any encodes a value no schema describes: a sequence becomes an array, a
// table with named fields an object, an empty table {} (or [] when it came
// from a JSON array).
func (e *encoder) any(v lua.LValue, path string, depth int) *Error {
	switch v := v.(type) {
	case *lua.LNilType:
		e.buf = append(e.buf, "null"...)
	case lua.LBool:
		e.buf = strconv.AppendBool(e.buf, bool(v))
	case lua.LNumber:
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return e.fn.argErr(path, "must be a finite number, got %s", formatNumber(f))
		}
		e.buf = appendNumber(e.buf, f)
	case lua.LString:
		e.buf = AppendString(e.buf, string(v))
	case *lua.LTable:
		if depth > MaxDepth {
			return e.fn.argErr(path, "nests deeper than %d levels (does a table contain itself?)", MaxDepth)
		}
		sh := tableShape(v, true)
		switch {
		case sh.badKey != nil:
			return e.fn.argErr(path, "has a key of %s; only string keys and list positions can be sent", describe(sh.badKey))
		case sh.hasNamed && sh.seq > 0:
			return e.fn.argErr(path, "mixes list items and named fields; use one or the other")
		case sh.seq > 0 && !sh.isSeq:
			return e.fn.argErr(path, "is a list with a hole: item [%d] is nil", sh.gap)
		case sh.seq > 0 || (len(sh.keys) == 0 && isArrayMarked(v)):
			e.buf = append(e.buf, '[')
			for i := 1; i <= sh.seq; i++ {
				if i > 1 {
					e.buf = append(e.buf, ',')
				}
				if err := e.any(v.RawGetInt(i), index(path, i), depth+1); err != nil {
					return err
				}
			}
			e.buf = append(e.buf, ']')
		default:
			e.buf = append(e.buf, '{')
			for i, k := range sh.keys {
				if i > 0 {
					e.buf = append(e.buf, ',')
				}
				e.buf = AppendString(e.buf, k)
				e.buf = append(e.buf, ':')
				if err := e.any(v.RawGetString(k), join(path, k), depth+1); err != nil {
					return err
				}
			}
			e.buf = append(e.buf, '}')
		}
	default:
		return e.fn.argErr(path, "cannot be sent: %s has no JSON form", describe(v))
	}
	return nil
}

// EncodeJSON turns any Lua value into JSON, as json.encode does: errors
// name where the value cannot be represented. who prefixes messages.
func EncodeJSON(v lua.LValue, who string) ([]byte, error) {
	e := &encoder{fn: &Function{Name: who, FullName: who}}
	if err := e.any(v, "", 0); err != nil {
		if err.Param == "" {
			err.Param = "value"
		}
		return nil, err
	}
	return e.buf, nil
}
