package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Arguments are JSON-like values: nil, bool, float64, string, []any and
// *Object (an object that keeps the order of its fields, so that a request
// body follows the order the caller wrote). The Lua runtime converts Lua
// tables into them and the CLI and the MCP server decode JSON into them;
// Function.Build checks and encodes them the same way for every surface.

// Object is a JSON object that keeps its fields in insertion order.
type Object struct {
	keys []string
	vals map[string]any
}

// NewObject makes an object with room for n fields.
func NewObject(n int) *Object {
	return &Object{keys: make([]string, 0, n), vals: make(map[string]any, n)}
}

// Set sets a field; a new field goes last.
func (o *Object) Set(key string, v any) {
	if _, ok := o.vals[key]; !ok {
		o.keys = append(o.keys, key)
	}
	o.vals[key] = v
}

// Get returns a field.
func (o *Object) Get(key string) (any, bool) {
	v, ok := o.vals[key]
	return v, ok
}

// Delete removes a field.
func (o *Object) Delete(key string) {
	if _, ok := o.vals[key]; !ok {
		return
	}
	delete(o.vals, key)
	for i, k := range o.keys {
		if k == key {
			o.keys = append(o.keys[:i], o.keys[i+1:]...)
			break
		}
	}
}

// Keys lists the fields in order. The slice must not be modified.
func (o *Object) Keys() []string { return o.keys }

// Len is the number of fields.
func (o *Object) Len() int { return len(o.keys) }

// MarshalJSON writes the fields in order.
func (o *Object) MarshalJSON() ([]byte, error) {
	var e encoder
	if err := e.any(o, "", 0); err != nil {
		return nil, err
	}
	return e.buf, nil
}

// ObjectOf makes an ordered object of key, value pairs (for generated
// literals): ObjectOf("url", "https://...", "filename", "a.pdf").
func ObjectOf(kv ...any) *Object {
	o := NewObject(len(kv) / 2)
	for i := 0; i+1 < len(kv); i += 2 {
		k, _ := kv[i].(string)
		o.Set(k, kv[i+1])
	}
	return o
}

// ObjectFrom makes an ordered object of a map, its keys sorted.
func ObjectFrom(m map[string]any) *Object {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	o := NewObject(len(keys))
	for _, k := range keys {
		o.Set(k, m[k])
	}
	return o
}

// Normalize turns JSON-like Go values (map[string]any, []any, json.Number,
// ints, ...) into argument values, sorting map keys.
func Normalize(v any) (any, error) {
	switch v := v.(type) {
	case nil, bool, float64, string:
		return v, nil
	case int:
		return float64(v), nil
	case int64:
		return float64(v), nil
	case float32:
		return float64(v), nil
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return nil, fmt.Errorf("bad number %s", v)
		}
		return f, nil
	case []string:
		out := make([]any, len(v))
		for i, s := range v {
			out[i] = s
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			n, err := Normalize(x)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case map[string]any:
		o := ObjectFrom(v)
		for _, k := range o.keys {
			n, err := Normalize(o.vals[k])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			o.vals[k] = n
		}
		return o, nil
	case *Object:
		return v, nil
	}
	return nil, fmt.Errorf("cannot use a %T as an argument", v)
}

// ToGo turns an argument value into plain Go values (map[string]any, []any),
// as encoding/json would decode it.
func ToGo(v any) any {
	switch v := v.(type) {
	case *Object:
		m := make(map[string]any, len(v.keys))
		for _, k := range v.keys {
			m[k] = ToGo(v.vals[k])
		}
		return m
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = ToGo(x)
		}
		return out
	}
	return v
}

// MaxDepth is how deeply argument values may nest.
const MaxDepth = 64

// JSONLimits bound DecodeJSON.
type JSONLimits struct {
	MaxBytes int // default 64 MiB
	MaxDepth int // default MaxDepth
}

// SyntaxError is a JSON document that does not parse or breaks a limit.
type SyntaxError struct {
	Offset int64
	Msg    string
}

func (e *SyntaxError) Error() string {
	if e.Offset <= 0 {
		return "invalid JSON: " + e.Msg
	}
	return fmt.Sprintf("invalid JSON at byte %d: %s", e.Offset, e.Msg)
}

// DecodeJSON parses one JSON value into argument values, keeping the order
// of object fields.
func DecodeJSON(data []byte, lim JSONLimits) (any, error) {
	if lim.MaxBytes <= 0 {
		lim.MaxBytes = 64 << 20
	}
	if lim.MaxDepth <= 0 {
		lim.MaxDepth = MaxDepth
	}
	if len(data) > lim.MaxBytes {
		return nil, &SyntaxError{Msg: fmt.Sprintf("the document is %d bytes, more than the limit of %d", len(data), lim.MaxBytes)}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec, 0, lim.MaxDepth)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &SyntaxError{Offset: dec.InputOffset(), Msg: "unexpected data after the value"}
	}
	return v, nil
}

func decodeValue(dec *json.Decoder, depth, maxDepth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, jsonErr(dec, err)
	}
	return decodeToken(dec, tok, depth, maxDepth)
}

func decodeToken(dec *json.Decoder, tok json.Token, depth, maxDepth int) (any, error) {
	switch t := tok.(type) {
	case json.Delim:
		if depth >= maxDepth {
			return nil, &SyntaxError{Offset: dec.InputOffset(), Msg: fmt.Sprintf("nests deeper than %d levels", maxDepth)}
		}
		switch t {
		case '{':
			o := NewObject(4)
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, jsonErr(dec, err)
				}
				k, _ := kt.(string)
				v, err := decodeValue(dec, depth+1, maxDepth)
				if err != nil {
					return nil, err
				}
				o.Set(k, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, jsonErr(dec, err)
			}
			return o, nil
		case '[':
			list := []any{}
			for dec.More() {
				v, err := decodeValue(dec, depth+1, maxDepth)
				if err != nil {
					return nil, err
				}
				list = append(list, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, jsonErr(dec, err)
			}
			return list, nil
		}
		return nil, &SyntaxError{Offset: dec.InputOffset(), Msg: "unexpected " + t.String()}
	case json.Number:
		f, err := t.Float64()
		if err != nil {
			return nil, &SyntaxError{Offset: dec.InputOffset(), Msg: "number " + t.String() + " is out of range"}
		}
		return f, nil
	case string, bool, nil:
		return t, nil
	}
	return nil, &SyntaxError{Offset: dec.InputOffset(), Msg: fmt.Sprintf("unexpected token %v", tok)}
}

func jsonErr(dec *json.Decoder, err error) error {
	if errors.Is(err, io.EOF) {
		return &SyntaxError{Offset: dec.InputOffset(), Msg: "unexpected end of input"}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &SyntaxError{Offset: se.Offset, Msg: se.Error()}
	}
	return &SyntaxError{Offset: dec.InputOffset(), Msg: err.Error()}
}

// AppendJSONString appends s as a JSON string; invalid UTF-8 becomes
// U+FFFD, and U+2028/U+2029 are escaped.
func AppendJSONString(b []byte, s string) []byte {
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

// AppendJSONNumber appends f, an integer without a fraction or exponent
// up to 2^53 (so an API that reads integers gets 9007199254740992, not
// 9.007199254740992e+15).
func AppendJSONNumber(b []byte, f float64) []byte {
	if f == math.Trunc(f) && math.Abs(f) <= 1<<53 {
		return strconv.AppendInt(b, int64(f), 10)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

// FormatNumber formats f as AppendJSONNumber does.
func FormatNumber(f float64) string { return string(AppendJSONNumber(nil, f)) }
