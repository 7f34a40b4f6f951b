package bind

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/cctoolkit/cloudconvert/internal/suggest"
)

// Where a parameter goes.
const (
	InPath  = "path"
	InQuery = "query"
	// InTimeout values are not sent: they bound the call, in seconds.
	InTimeout = "timeout"
	InBody    = "body"
)

// KV is one path or query value.
type KV struct{ Key, Value string }

// Request is a validated call, ready to send.
type Request struct {
	Function *Function
	Path     []KV
	Query    []KV
	// Body is the JSON body, nil when the function has no body parameters.
	Body []byte
	// Timeout bounds the call when a timeout parameter was given.
	Timeout time.Duration
	// Header is added to the request (the runtime puts auth here).
	Header http.Header
}

// PathParam returns the value of a path parameter by wire name.
func (r *Request) PathParam(key string) string {
	for _, kv := range r.Path {
		if kv.Key == key {
			return kv.Value
		}
	}
	return ""
}

// PathInt returns an integer path parameter.
func (r *Request) PathInt(key string) int {
	n, _ := strconv.Atoi(r.PathParam(key))
	return n
}

// BodyReader returns the body for the generated client's WithBody methods.
func (r *Request) BodyReader() io.Reader { return bytes.NewReader(r.Body) }

// RawQuery encodes the query, keeping [ and ] of keys such as
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

// Edit is a request editor for the generated client: it sets the query and
// the headers.
func (r *Request) Edit(_ context.Context, req *http.Request) error {
	if len(r.Query) > 0 {
		req.URL.RawQuery = r.RawQuery()
	}
	for k, vs := range r.Header {
		req.Header[k] = vs
	}
	return nil
}

// URL is the request's URL under base, for dry runs and logs.
func (r *Request) URL(base string) string {
	p := r.Function.Path
	for _, kv := range r.Path {
		v := kv.Value
		if !strings.Contains(v, "/") || r.Function.Expands(kv.Key) == false {
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

// Expands says whether the path parameter key is expanded into one path
// per value (its values contain "/").
func (f *Function) Expands(key string) bool {
	for _, p := range f.Params {
		if p.In == InPath && p.Key == key {
			s := p.Schema.resolve()
			return s != nil && slices.ContainsFunc(s.Enum, func(v string) bool { return strings.Contains(v, "/") })
		}
	}
	return false
}

// Build checks a Lua argument table against the function's parameters and
// makes the request. Every error is an *Error of kind invalid_argument that
// names the function and the parameter; nothing is sent.
func (f *Function) Build(args lua.LValue) (*Request, error) {
	r := &Request{Function: f}
	var t *lua.LTable
	switch a := args.(type) {
	case *lua.LNilType:
		t = nil
	case *lua.LTable:
		t = a
	default:
		return nil, f.argErr("", "expects one table of named arguments, like %s({%s}); got %s", f.Name, exampleArgs(f), describe(args))
	}
	if t != nil {
		sh := tableShape(t, true)
		if sh.seq > 0 || sh.badKey != nil {
			return nil, f.argErr("", "expects named arguments, like %s({%s}); got a list", f.Name, exampleArgs(f))
		}
		for _, k := range sh.keys {
			if f.byKey[k] == nil {
				if len(f.names) == 0 {
					return nil, f.argErr(k, "is not a parameter; %s takes no parameters", f.Name)
				}
				return nil, f.argErr(k, "is not a parameter%s; parameters: %s", suggest.DidYouMean(k, f.names), strings.Join(f.names, ", "))
			}
		}
	}
	e := &encoder{fn: f}
	var body []byte
	hasBody := false
	var spreadKeys map[string]string
	for _, p := range f.Params {
		if p.In == InBody {
			hasBody = true
		}
		v := lua.LValue(lua.LNil)
		if t != nil {
			v = t.RawGetString(p.Name)
		}
		if v == lua.LNil {
			if p.Required {
				return nil, f.argErr(p.Name, "is required (%s)", typeLabel(p.Schema))
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
		case InPath, InQuery:
			s, err := e.scalar(v, p)
			if err != nil {
				return nil, err
			}
			if p.In == InPath {
				r.Path = append(r.Path, KV{p.Key, s})
			} else {
				r.Query = append(r.Query, KV{p.Key, s})
			}
		case InBody:
			e.buf = e.buf[:0]
			switch {
			case p.KeyedBy != nil:
				if err := e.keyed(v, p); err != nil {
					return nil, err
				}
			default:
				if err := e.value(v, p.Schema, p.Name, 0); err != nil {
					return nil, err
				}
			}
			if p.Spread {
				inner := e.buf[1 : len(e.buf)-1]
				if len(inner) == 0 {
					continue
				}
				tbl := v.(*lua.LTable)
				if spreadKeys == nil {
					spreadKeys = map[string]string{}
				}
				for _, k := range tableShape(tbl, true).keys {
					spreadKeys[k] = p.Name
				}
				body = appendMember(body, inner)
				continue
			}
			member := AppendString(nil, p.Key)
			member = append(member, ':')
			member = append(member, e.buf...)
			body = appendMember(body, member)
		}
	}
	// A spread object's fields must not repeat another body parameter.
	for _, p := range f.Params {
		if p.In != InBody || p.Spread || t == nil || t.RawGetString(p.Name) == lua.LNil {
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

func appendMember(body, member []byte) []byte {
	if len(body) > 0 {
		body = append(body, ',')
	}
	return append(body, member...)
}

func exampleArgs(f *Function) string {
	for _, p := range f.Params {
		if p.Required {
			return p.Name + " = ..."
		}
	}
	if len(f.Params) > 0 {
		return f.Params[0].Name + " = ..."
	}
	return ""
}

// scalar checks a path or query value and formats it.
func (e *encoder) scalar(v lua.LValue, p *Param) (string, *Error) {
	e.buf = e.buf[:0]
	if err := e.value(v, p.Schema, p.Name, 0); err != nil {
		return "", err
	}
	switch v := v.(type) {
	case lua.LString:
		return string(v), nil
	case lua.LNumber:
		return formatNumber(float64(v)), nil
	case lua.LBool:
		return strconv.FormatBool(bool(v)), nil
	}
	return "", e.fn.argErr(p.Name, "must be a string, number or boolean, got %s", describe(v))
}

// keyed encodes an array of objects as an object keyed by the key field,
// giving unnamed items default names and checking references.
func (e *encoder) keyed(v lua.LValue, p *Param) *Error {
	f, k := e.fn, p.KeyedBy
	s := p.Schema.resolve()
	t, ok := v.(*lua.LTable)
	if !ok {
		return f.argErr(p.Name, "must be an array (a list like {{...}, {...}}), got %s", describe(v))
	}
	sh := tableShape(t, false)
	if !sh.isSeq {
		if sh.hasNamed {
			return f.argErr(p.Name, "must be an array of tables ({{...}, {...}}), got a table with named fields")
		}
		return f.argErr(p.Name, "must be an array without holes, but item [%d] is nil", sh.gap)
	}
	if s.MinItems != nil && sh.seq < *s.MinItems {
		return f.argErr(p.Name, "must not be empty; give at least %d", *s.MinItems)
	}
	if s.MaxItems != nil && sh.seq > *s.MaxItems {
		return f.argErr(p.Name, "must have at most %d items, got %d", *s.MaxItems, sh.seq)
	}
	items := s.Items.resolve()
	noun := strings.TrimSuffix(p.Name, "s")
	n := sh.seq
	encoded := make([][]byte, n)
	names := make([]string, n)
	explicit := map[string]int{}
	bases := make([]string, n)
	for i := 1; i <= n; i++ {
		path := index(p.Name, i)
		item, ok := t.RawGetInt(i).(*lua.LTable)
		if !ok {
			return f.argErr(path, "must be a table of named fields, got %s", describe(t.RawGetInt(i)))
		}
		e.buf = e.buf[:0]
		if err := e.object(item, items, path, 1, k.Field); err != nil {
			return err
		}
		encoded[i-1] = slices.Clone(e.buf)
		switch name := item.RawGetString(k.Field).(type) {
		case *lua.LNilType:
		case lua.LString:
			if k.re != nil && !k.re.MatchString(string(name)) {
				return f.argErr(path+"."+k.Field, "%q is not a valid %s %s (it must match %s)", string(name), noun, k.Field, k.Pattern)
			}
			if prev, dup := explicit[string(name)]; dup {
				return f.argErr(path+"."+k.Field, "%q is already the %s of %s; each %s needs its own", string(name), k.Field, index(p.Name, prev), noun)
			}
			explicit[string(name)] = i
			names[i-1] = string(name)
		default:
			return f.argErr(path+"."+k.Field, "must be a string, got %s", describe(name))
		}
		if names[i-1] == "" && k.DefaultFrom != "" {
			if from, ok := item.RawGetString(k.DefaultFrom).(lua.LString); ok {
				base, _, _ := strings.Cut(string(from), "/")
				bases[i-1] = base
			}
		}
	}
	// Default names: the base alone when one unnamed item has it and no
	// explicit name takes it, else numbered -1, -2, ... in order.
	count := map[string]int{}
	for i := range n {
		if names[i] == "" {
			count[bases[i]]++
		}
	}
	next := map[string]int{}
	for i := range n {
		if names[i] != "" {
			continue
		}
		base := bases[i]
		if base == "" {
			base = "item"
		}
		if _, taken := explicit[base]; count[bases[i]] == 1 && !taken {
			names[i] = base
			continue
		}
		for {
			next[base]++
			cand := base + "-" + strconv.Itoa(next[base])
			if _, taken := explicit[cand]; !taken {
				names[i] = cand
				break
			}
		}
	}
	if k.References != "" {
		for i := 1; i <= n; i++ {
			item := t.RawGetInt(i).(*lua.LTable)
			ref := item.RawGetString(k.References)
			var refs []string
			switch r := ref.(type) {
			case lua.LString:
				refs = []string{string(r)}
			case *lua.LTable:
				for j := 1; j <= r.Len(); j++ {
					if s, ok := r.RawGetInt(j).(lua.LString); ok {
						refs = append(refs, string(s))
					}
				}
			}
			for _, name := range refs {
				path := index(p.Name, i) + "." + k.References
				if name == names[i-1] {
					return f.argErr(path, "%q is this %s's own %s; a %s cannot use itself as %s", name, noun, k.Field, noun, k.References)
				}
				if !slices.Contains(names, name) {
					return f.argErr(path, "no %s is named %q%s; the %s names are: %s", noun, name, suggest.DidYouMean(name, names), noun, strings.Join(names, ", "))
				}
			}
		}
	}
	e.buf = e.buf[:0]
	e.buf = append(e.buf, '{')
	for i := range n {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		e.buf = AppendString(e.buf, names[i])
		e.buf = append(e.buf, ':')
		e.buf = append(e.buf, encoded[i]...)
	}
	e.buf = append(e.buf, '}')
	return nil
}
