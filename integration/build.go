package integration

import (
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cctoolkit/cloudconvert/internal/suggest"
)

// Dialect is the language the caller writes arguments in. Messages about
// arguments are worded in it: a Lua caller passes "a table of named fields",
// a JSON caller "an object".
type Dialect uint8

// Dialects.
const (
	JSON Dialect = iota
	Lua
)

func (d Dialect) object() string {
	if d == Lua {
		return "a table of named fields"
	}
	return "an object"
}

func (d Dialect) objectHint() string {
	if d == Lua {
		return "a table of named fields ({name = value})"
	}
	return `an object ({"name": value})`
}

func (d Dialect) array() string {
	if d == Lua {
		return "an array (a list like {a, b})"
	}
	return "an array ([a, b])"
}

func (d Dialect) arrayOfObjects() string {
	if d == Lua {
		return "an array of tables ({{...}, {...}})"
	}
	return "an array of objects ([{...}, {...}])"
}

func (d Dialect) null() string {
	if d == Lua {
		return "nil"
	}
	return "null"
}

// call shows how a function is called with one argument, e.g.
// create_job({tasks = ...}) or {"tasks": ...}.
func (d Dialect) call(f *Function, param string) string {
	if d == Lua {
		arg := ""
		if param != "" {
			arg = param + " = ..."
		}
		return f.Name + "({" + arg + "})"
	}
	if param == "" {
		return "{}"
	}
	return `{"` + param + `": ...}`
}

// Describe names the type of an argument value for messages: `a string
// ("x")`, `a number (3)`, `a table`.
func (d Dialect) Describe(v any) string {
	switch v := v.(type) {
	case nil:
		return d.null()
	case bool:
		return "a boolean (" + strconv.FormatBool(v) + ")"
	case float64:
		return "a number (" + FormatNumber(v) + ")"
	case string:
		s := v
		if utf8.RuneCountInString(s) > 40 {
			s = string([]rune(s)[:40]) + "…"
		}
		return "a string (" + strconv.Quote(s) + ")"
	case *Object, []any:
		if d == Lua {
			return "a table"
		}
		if _, ok := v.([]any); ok {
			return "an array"
		}
		return "an object"
	case Opaque:
		return string(v)
	}
	return "a value that has no JSON form"
}

// Opaque stands for a value of the caller's language that has no JSON form
// (a Lua function, say); its text names it in messages ("a function").
type Opaque string

// TypeLabel names what a schema accepts, in this dialect: "a string", "an
// integer", "a string or an array of strings".
func (d Dialect) TypeLabel(s *Schema) string {
	s = s.Resolved()
	if s == nil {
		return "any value"
	}
	if len(s.OneOf) > 0 {
		parts := make([]string, 0, len(s.OneOf))
		for _, o := range s.OneOf {
			o = o.Resolved()
			if o.Type == TypeArray && o.Items != nil && o.Items.Resolved().Type != TypeAny {
				parts = append(parts, "an array of "+o.Items.Resolved().Type.String()+"s")
			} else {
				parts = append(parts, d.TypeLabel(o))
			}
		}
		return strings.Join(parts, " or ")
	}
	switch s.Type {
	case TypeObject:
		return d.object()
	case TypeArray:
		return d.array()
	case TypeAny:
		return "any value"
	case TypeInteger:
		return "an integer"
	}
	return "a " + s.Type.String()
}

// KV is one path or query value.
type KV struct{ Key, Value string }

// Request is a checked call, ready to send.
type Request struct {
	Function *Function
	Path     []KV
	Query    []KV
	// Body is the JSON body; nil when the function has no body parameters.
	Body []byte
	// Timeout bounds the call when a timeout parameter was given.
	Timeout time.Duration
	// Local are the values of InLocal parameters, for the host; Body then
	// holds them as JSON too (what an approver is shown), but it is not
	// sent.
	Local []KV
}

// LocalValue returns the value of an InLocal parameter, and whether it
// was given.
func (r *Request) LocalValue(name string) (string, bool) {
	for _, kv := range r.Local {
		if kv.Key == name {
			return kv.Value, true
		}
	}
	return "", false
}

// PathValue returns the value of a path parameter by wire name.
func (r *Request) PathValue(key string) string {
	for _, kv := range r.Path {
		if kv.Key == key {
			return kv.Value
		}
	}
	return ""
}

// RawQuery encodes the query, keeping the [ and ] of keys such as
// filter[status] readable.
func (r *Request) RawQuery() string {
	var b strings.Builder
	for i, kv := range r.Query {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(strings.NewReplacer("%5B", "[", "%5D", "]").Replace(url.QueryEscape(kv.Key)))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(kv.Value))
	}
	return b.String()
}

// URL is the request's URL under the server's base URL.
func (r *Request) URL(base string) string {
	p := r.Function.Path
	for _, kv := range r.Path {
		v := kv.Value
		if prm := r.Function.pathParam(kv.Key); prm == nil || !prm.Expands {
			v = url.PathEscape(v)
		}
		p = strings.ReplaceAll(p, "{"+kv.Key+"}", v)
	}
	u := strings.TrimRight(base, "/") + p
	if q := r.RawQuery(); q != "" {
		u += "?" + q
	}
	return u
}

func (f *Function) pathParam(key string) *Param {
	for _, p := range f.Params {
		if p.In == InPath && p.Key == key {
			return p
		}
	}
	return nil
}

// spreadParam is the body object whose fields go at the top level; its
// fields may also be given at the top level of the arguments.
func (f *Function) spreadParam() *Param {
	for _, p := range f.Params {
		if p.Spread {
			return p
		}
	}
	return nil
}

// Build checks the arguments (an *Object, or nil for none) against the
// function's parameters and makes the request. Every error is an *Error of
// kind invalid_argument that names the function and the parameter, worded
// in d; nothing is sent.
func (f *Function) Build(args any, d Dialect) (*Request, *Error) {
	var obj *Object
	switch a := args.(type) {
	case nil:
	case *Object:
		obj = a
	case []any:
		if len(a) == 0 {
			break // an empty Lua table
		}
		return nil, f.argErr("", "expects named arguments, like %s; got a list", d.call(f, exampleArg(f)))
	default:
		return nil, f.argErr("", "expects %s of named arguments, like %s; got %s", oneOf(d), d.call(f, exampleArg(f)), d.Describe(args))
	}
	spread := f.spreadParam()
	var extra *Object // top-level fields that belong to the spread object
	if obj != nil {
		for _, k := range obj.Keys() {
			if f.byName[k] != nil {
				continue
			}
			if spread != nil && suggest.Closest(k, f.names) == "" {
				if extra == nil {
					extra = NewObject(4)
				}
				v, _ := obj.Get(k)
				extra.Set(k, v)
				continue
			}
			if len(f.names) == 0 {
				return nil, f.argErr(k, "is not a parameter; %s takes no parameters", f.Name)
			}
			return nil, f.argErr(k, "is not a parameter%s; parameters: %s", suggest.DidYouMean(k, f.names), strings.Join(f.names, ", "))
		}
	}
	r := &Request{Function: f}
	e := &encoder{fn: f, d: d}
	var body []byte
	hasBody := false
	spreadKeys := map[string]string{}
	for _, p := range f.Params {
		if p.In == InBody || p.In == InLocal {
			hasBody = true
		}
		var v any
		given := false
		if obj != nil {
			v, given = obj.Get(p.Name)
		}
		if p == spread && extra != nil {
			merged, err := mergeSpread(f, p, v, given, extra, d)
			if err != nil {
				return nil, err
			}
			v, given = merged, true
		}
		if (!given || v == nil) && p.SendDefault && p.Schema.Resolved().Default != nil {
			v, given = p.Schema.Resolved().Default, true
		}
		if !given || v == nil {
			if p.Required {
				return nil, f.argErr(p.Name, "is required (%s)", d.TypeLabel(p.Schema))
			}
			continue
		}
		switch p.In {
		case InTimeout:
			s, err := e.scalar(v, p)
			if err != nil {
				return nil, err
			}
			secs, perr := strconv.ParseFloat(s, 64)
			if perr != nil || secs <= 0 {
				return nil, f.argErr(p.Name, "must be a positive number of seconds, got %s", s)
			}
			r.Timeout = time.Duration(secs * float64(time.Second))
		case InPath, InQuery, InLocal:
			s, err := e.scalar(v, p)
			if err != nil {
				return nil, err
			}
			if p.In == InLocal {
				r.Local = append(r.Local, KV{p.Key, s})
				member := AppendJSONString(nil, p.Key)
				member = append(member, ':')
				member = append(member, e.buf...)
				body = appendMember(body, member)
			} else if p.In == InPath {
				r.Path = append(r.Path, KV{p.Key, s})
			} else {
				r.Query = append(r.Query, KV{p.Key, s})
			}
		case InBody:
			e.buf = e.buf[:0]
			var err *Error
			if p.KeyedBy != nil {
				err = e.keyed(v, p)
			} else {
				err = e.value(v, p.Schema, p.Name, 0)
			}
			if err != nil {
				return nil, err
			}
			if p.Spread {
				inner := e.buf[1 : len(e.buf)-1]
				if o, ok := v.(*Object); ok {
					for _, k := range o.Keys() {
						spreadKeys[k] = p.Name
					}
				}
				if len(inner) > 0 {
					body = appendMember(body, inner)
				}
				continue
			}
			member := AppendJSONString(nil, p.Key)
			member = append(member, ':')
			member = append(member, e.buf...)
			body = appendMember(body, member)
		}
	}
	// A spread object's fields must not repeat another body parameter.
	for _, p := range f.Params {
		if p.In != InBody || p.Spread || obj == nil {
			continue
		}
		if v, ok := obj.Get(p.Name); !ok || v == nil {
			continue
		}
		if from, dup := spreadKeys[p.Key]; dup {
			return nil, f.argErr(from+"."+p.Key, "repeats the parameter %s; give it once", p.Name)
		}
	}
	if hasBody {
		r.Body = append(append([]byte{'{'}, body...), '}')
	}
	return r, nil
}

// mergeSpread adds the top-level extra fields to the spread object.
func mergeSpread(f *Function, p *Param, v any, given bool, extra *Object, d Dialect) (any, *Error) {
	merged := NewObject(extra.Len() + 4)
	if given && v != nil {
		o, ok := v.(*Object)
		if !ok {
			if l, isList := v.([]any); !isList || len(l) > 0 {
				return nil, f.argErr(p.Name, "must be %s, got %s", d.object(), d.Describe(v))
			}
			o = NewObject(0)
		}
		for _, k := range o.Keys() {
			x, _ := o.Get(k)
			merged.Set(k, x)
		}
	}
	for _, k := range extra.Keys() {
		if _, dup := merged.Get(k); dup {
			return nil, f.argErr(k, "is given both at the top level and in %s; give it once", p.Name)
		}
		x, _ := extra.Get(k)
		merged.Set(k, x)
	}
	return merged, nil
}

func oneOf(d Dialect) string {
	if d == Lua {
		return "one table"
	}
	return "one object"
}

func appendMember(body, member []byte) []byte {
	if len(body) > 0 {
		body = append(body, ',')
	}
	return append(body, member...)
}

func exampleArg(f *Function) string {
	for _, p := range f.Params {
		if p.Required {
			return p.Name
		}
	}
	if len(f.Params) > 0 {
		return f.Params[0].Name
	}
	return ""
}

// encoder checks argument values against schemas and writes them as JSON.
type encoder struct {
	fn  *Function
	d   Dialect
	buf []byte
}

func (e *encoder) err(path, format string, args ...any) *Error {
	fn := e.fn
	if fn == nil {
		fn = &Function{}
	}
	return fn.argErr(path, format, args...)
}

// scalar checks a path or query value and formats it.
func (e *encoder) scalar(v any, p *Param) (string, *Error) {
	e.buf = e.buf[:0]
	if err := e.value(v, p.Schema, p.Name, 0); err != nil {
		return "", err
	}
	switch v := v.(type) {
	case string:
		return v, nil
	case float64:
		return FormatNumber(v), nil
	case bool:
		return strconv.FormatBool(v), nil
	}
	return "", e.err(p.Name, "must be a string, number or boolean, got %s", e.d.Describe(v))
}

// value encodes v (not nil) per schema s at path.
func (e *encoder) value(v any, s *Schema, path string, depth int) *Error {
	if depth > MaxDepth {
		return e.err(path, "nests deeper than %d levels (does a table contain itself?)", MaxDepth)
	}
	s = s.Resolved()
	if s == nil || (s.Type == TypeAny && len(s.OneOf) == 0) {
		return e.any(v, path, depth)
	}
	if v == nil {
		if s.Nullable {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		return e.err(path, "must be %s, got %s", e.d.TypeLabel(s), e.d.null())
	}
	if len(s.OneOf) > 0 {
		return e.oneOf(v, s, path, depth)
	}
	switch s.Type {
	case TypeString:
		str, ok := v.(string)
		if !ok {
			return e.err(path, "must be a string, got %s", e.d.Describe(v))
		}
		if err := e.checkString(str, s, path); err != nil {
			return err
		}
		e.buf = AppendJSONString(e.buf, str)
	case TypeInteger, TypeNumber:
		f, ok := v.(float64)
		if !ok {
			return e.err(path, "must be %s, got %s", e.d.TypeLabel(s), e.d.Describe(v))
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return e.err(path, "must be a finite number, got %s", FormatNumber(f))
		}
		if s.Type == TypeInteger && (f != math.Trunc(f) || math.Abs(f) > 1<<53) {
			return e.err(path, "must be an integer, got %s", FormatNumber(f))
		}
		if s.Minimum != nil && f < *s.Minimum {
			return e.err(path, "must be at least %s, got %s", FormatNumber(*s.Minimum), FormatNumber(f))
		}
		if s.Maximum != nil && f > *s.Maximum {
			return e.err(path, "must be at most %s, got %s", FormatNumber(*s.Maximum), FormatNumber(f))
		}
		e.buf = AppendJSONNumber(e.buf, f)
	case TypeBoolean:
		b, ok := v.(bool)
		if !ok {
			return e.err(path, "must be a boolean (true or false), got %s", e.d.Describe(v))
		}
		e.buf = strconv.AppendBool(e.buf, b)
	case TypeArray:
		switch l := v.(type) {
		case []any:
			return e.array(l, s, path, depth)
		case *Object:
			if l.Len() == 0 { // an empty table is an empty list too
				return e.array(nil, s, path, depth)
			}
			return e.err(path, "must be %s, got %s with named fields", e.d.array(), e.d.Describe(v))
		}
		return e.err(path, "must be %s, got %s", e.d.array(), e.d.Describe(v))
	case TypeObject:
		switch o := v.(type) {
		case *Object:
			return e.object(o, s, path, depth, "")
		case []any:
			if len(o) == 0 {
				return e.object(NewObject(0), s, path, depth, "")
			}
			return e.err(path, "must be %s, got a list", e.d.objectHint())
		}
		return e.err(path, "must be %s, got %s", e.d.object(), e.d.Describe(v))
	default:
		return e.any(v, path, depth)
	}
	return nil
}

func (e *encoder) checkString(str string, s *Schema, path string) *Error {
	if len(s.Enum) > 0 && !slices.Contains(s.Enum, str) {
		list := strings.Join(s.Enum, ", ")
		if len(s.Enum) > 12 {
			list = strings.Join(s.Enum[:12], ", ") + ", ... (" + strconv.Itoa(len(s.Enum)) + " in all)"
		}
		return e.err(path, "%q is not allowed%s; use one of: %s", str, suggest.DidYouMean(str, s.Enum), list)
	}
	n := utf8.RuneCountInString(str)
	if s.MinLength != nil && n < *s.MinLength {
		if *s.MinLength == 1 {
			return e.err(path, "must not be empty")
		}
		return e.err(path, "must have at least %d characters, got %d", *s.MinLength, n)
	}
	if s.MaxLength != nil && n > *s.MaxLength {
		return e.err(path, "must have at most %d characters, got %d", *s.MaxLength, n)
	}
	if s.re != nil && !s.re.MatchString(str) {
		return e.err(path, "%q does not match the pattern %s", str, s.Pattern)
	}
	return nil
}

func (e *encoder) oneOf(v any, s *Schema, path string, depth int) *Error {
	start := len(e.buf)
	var first *Error
	for _, alt := range s.OneOf {
		a := alt.Resolved()
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
	return e.err(path, "must be %s, got %s", e.d.TypeLabel(s), e.d.Describe(v))
}

func kindMatches(v any, s *Schema) bool {
	switch s.Type {
	case TypeAny:
		return true
	case TypeObject:
		_, ok := v.(*Object)
		return ok
	case TypeArray:
		switch l := v.(type) {
		case []any:
			return true
		case *Object:
			return l.Len() == 0
		}
		return false
	case TypeString:
		_, ok := v.(string)
		return ok
	case TypeInteger, TypeNumber:
		_, ok := v.(float64)
		return ok
	case TypeBoolean:
		_, ok := v.(bool)
		return ok
	}
	return false
}

func (e *encoder) array(l []any, s *Schema, path string, depth int) *Error {
	if s.MinItems != nil && len(l) < *s.MinItems {
		if *s.MinItems == 1 {
			return e.err(path, "must not be empty")
		}
		return e.err(path, "must have at least %d items, got %d", *s.MinItems, len(l))
	}
	if s.MaxItems != nil && len(l) > *s.MaxItems {
		return e.err(path, "must have at most %d items, got %d", *s.MaxItems, len(l))
	}
	e.buf = append(e.buf, '[')
	for i, item := range l {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		if err := e.value(item, s.Items, index(path, i+1, e.d), depth+1); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, ']')
	return nil
}

// object encodes an object; skip names a field left out (the key field of
// a keyed_by item).
func (e *encoder) object(o *Object, s *Schema, path string, depth int, skip string) *Error {
	var unknown []string
	e.buf = append(e.buf, '{')
	n := 0
	for _, k := range o.Keys() {
		if k == skip {
			continue
		}
		prop := s.Property(k)
		var ps *Schema
		switch {
		case prop != nil:
			ps = prop.Schema
		case s.AdditionalProperties:
			ps = s.AdditionalSchema
		default:
			unknown = append(unknown, k)
			continue
		}
		if n > 0 {
			e.buf = append(e.buf, ',')
		}
		n++
		e.buf = AppendJSONString(e.buf, k)
		e.buf = append(e.buf, ':')
		v, _ := o.Get(k)
		if err := e.value(v, ps, join(path, k), depth+1); err != nil {
			return err
		}
	}
	for _, p := range s.Properties {
		if !p.Required || p.Name == skip {
			continue
		}
		if v, ok := o.Get(p.Name); ok && v != nil {
			continue
		}
		hint := ""
		for _, k := range o.Keys() {
			if s.Property(k) == nil && suggest.Closest(k, []string{p.Name}) != "" {
				hint = " (is " + strconv.Quote(k) + " a misspelling of it?)"
				break
			}
		}
		return e.err(join(path, p.Name), "is required (%s)%s", e.d.TypeLabel(p.Schema), hint)
	}
	if len(unknown) > 0 {
		names := s.PropertyNames()
		return e.err(join(path, unknown[0]), "is not a known field%s; fields: %s", suggest.DidYouMean(unknown[0], names), strings.Join(names, ", "))
	}
	e.buf = append(e.buf, '}')
	return nil
}

// any encodes a value no schema describes.
func (e *encoder) any(v any, path string, depth int) *Error {
	if depth > MaxDepth {
		return e.err(path, "nests deeper than %d levels (does a table contain itself?)", MaxDepth)
	}
	switch v := v.(type) {
	case nil:
		e.buf = append(e.buf, "null"...)
	case bool:
		e.buf = strconv.AppendBool(e.buf, v)
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return e.err(path, "must be a finite number, got %s", FormatNumber(v))
		}
		e.buf = AppendJSONNumber(e.buf, v)
	case string:
		e.buf = AppendJSONString(e.buf, v)
	case []any:
		e.buf = append(e.buf, '[')
		for i, item := range v {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			if err := e.any(item, index(path, i+1, e.d), depth+1); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, ']')
	case *Object:
		e.buf = append(e.buf, '{')
		for i, k := range v.Keys() {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.buf = AppendJSONString(e.buf, k)
			e.buf = append(e.buf, ':')
			x, _ := v.Get(k)
			if err := e.any(x, join(path, k), depth+1); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, '}')
	default:
		return e.err(path, "cannot be sent: %s has no JSON form", e.d.Describe(v))
	}
	return nil
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// index names an item of a list: tasks[1] in Lua (1-based), tasks[0] in
// JSON.
func index(path string, i int, d Dialect) string {
	if d == JSON {
		i--
	}
	return path + "[" + strconv.Itoa(i) + "]"
}

// keyed encodes a keyed_by parameter: an array of objects (each may give
// the key field), or an object keyed by name as the API itself takes it,
// becomes an object keyed by name. Unnamed items get default names and
// references are checked.
func (e *encoder) keyed(v any, p *Param) *Error {
	k := p.KeyedBy
	s := p.Schema.Resolved()
	items := s.Items.Resolved()
	noun := k.Noun
	if noun == "" {
		noun = "item"
	}
	type entry struct {
		path string
		obj  *Object
		name string
		base string
	}
	var list []entry
	explicit := map[string]int{}
	switch val := v.(type) {
	case []any:
		for i, x := range val {
			path := index(p.Name, i+1, e.d)
			o, ok := x.(*Object)
			if !ok {
				return e.err(path, "must be %s, got %s", e.d.object(), e.d.Describe(x))
			}
			list = append(list, entry{path: path, obj: o})
		}
	case *Object:
		// The API's own form: {"name": {...}, ...}.
		for _, name := range val.Keys() {
			x, _ := val.Get(name)
			path := p.Name + "." + name
			o, ok := x.(*Object)
			if !ok {
				return e.err(path, "must be %s, got %s", e.d.object(), e.d.Describe(x))
			}
			if inner, has := o.Get(k.Field); has && inner != name {
				return e.err(path+"."+k.Field, "is %s, but the %s is keyed %q; give the name once", e.d.Describe(inner), noun, name)
			}
			list = append(list, entry{path: path, obj: o, name: name})
		}
	default:
		return e.err(p.Name, "must be %s, got %s", e.d.arrayOfObjects(), e.d.Describe(v))
	}
	if s.MinItems != nil && len(list) < *s.MinItems {
		return e.err(p.Name, "must not be empty; give at least %d %s", *s.MinItems, noun)
	}
	if s.MaxItems != nil && len(list) > *s.MaxItems {
		return e.err(p.Name, "must have at most %d items, got %d", *s.MaxItems, len(list))
	}
	encoded := make([][]byte, len(list))
	for i := range list {
		it := &list[i]
		e.buf = e.buf[:0]
		if err := e.object(it.obj, items, it.path, 1, k.Field); err != nil {
			return err
		}
		encoded[i] = slices.Clone(e.buf)
		if it.name == "" {
			switch name := mustGet(it.obj, k.Field).(type) {
			case nil:
			case string:
				it.name = name
			default:
				return e.err(it.path+"."+k.Field, "must be a string, got %s", e.d.Describe(name))
			}
		}
		if it.name != "" {
			if k.re != nil && !k.re.MatchString(it.name) {
				return e.err(it.path+"."+k.Field, "%q is not a valid %s %s (it must match %s)", it.name, noun, k.Field, k.Pattern)
			}
			if prev, dup := explicit[it.name]; dup {
				return e.err(it.path+"."+k.Field, "%q is already the %s of %s; each %s needs its own", it.name, k.Field, list[prev].path, noun)
			}
			explicit[it.name] = i
		} else if k.DefaultFrom != "" {
			if from, ok := mustGet(it.obj, k.DefaultFrom).(string); ok {
				it.base = from
				if k.DefaultCut != "" {
					it.base, _, _ = strings.Cut(from, k.DefaultCut)
				}
			}
		}
	}
	// Default names: the base alone when one unnamed item has it and no
	// explicit name takes it, else numbered -1, -2, ... in order.
	count := map[string]int{}
	for _, it := range list {
		if it.name == "" {
			count[it.base]++
		}
	}
	next := map[string]int{}
	for i := range list {
		it := &list[i]
		if it.name != "" {
			continue
		}
		base := it.base
		if base == "" {
			base = noun
		}
		if _, taken := explicit[base]; count[it.base] == 1 && !taken {
			it.name = base
			continue
		}
		for guard := 0; guard <= len(list)+len(explicit); guard++ {
			next[base]++
			cand := base + "-" + strconv.Itoa(next[base])
			if _, taken := explicit[cand]; !taken {
				it.name = cand
				break
			}
		}
	}
	names := make([]string, len(list))
	for i, it := range list {
		names[i] = it.name
	}
	if k.References != "" {
		for i, it := range list {
			var refs []string
			switch r := mustGet(it.obj, k.References).(type) {
			case string:
				refs = []string{r}
			case []any:
				for _, x := range r {
					if s, ok := x.(string); ok {
						refs = append(refs, s)
					}
				}
			}
			for _, name := range refs {
				path := it.path + "." + k.References
				if name == names[i] {
					return e.err(path, "%q is this %s's own %s; a %s cannot use itself as %s", name, noun, k.Field, noun, k.References)
				}
				if !slices.Contains(names, name) {
					return e.err(path, "no %s is named %q%s; the %s names are: %s", noun, name, suggest.DidYouMean(name, names), noun, strings.Join(names, ", "))
				}
			}
		}
	}
	e.buf = e.buf[:0]
	e.buf = append(e.buf, '{')
	for i := range list {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		e.buf = AppendJSONString(e.buf, names[i])
		e.buf = append(e.buf, ':')
		e.buf = append(e.buf, encoded[i]...)
	}
	e.buf = append(e.buf, '}')
	return nil
}

func mustGet(o *Object, key string) any {
	v, _ := o.Get(key)
	return v
}

// EncodeJSON writes any argument value as JSON (json.encode in Lua): the
// error names where the value cannot be represented.
func EncodeJSON(v any, d Dialect) ([]byte, *Error) {
	e := &encoder{d: d}
	if err := e.any(v, "", 0); err != nil {
		// Name the value itself: "value", "value[2]", "name.field".
		if err.Param == "" || strings.HasPrefix(err.Param, "[") {
			err.Param = "value" + err.Param
		}
		return nil, err
	}
	return e.buf, nil
}
