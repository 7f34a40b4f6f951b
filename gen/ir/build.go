package ir

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	lua "github.com/yuin/gopher-lua/parse"

	"github.com/cctoolkit/cloudconvert/gen/spec"
	"github.com/cctoolkit/cloudconvert/internal/suggest"
)

var (
	slugRe      = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	snakeRe     = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	placeholder = regexp.MustCompile(`\{([^{}]*)\}`)
	schemaTypes = []string{"string", "integer", "number", "boolean", "object", "array"}
	paramIns    = []string{InPath, InQuery, InBody, InTimeout}
	methods     = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}
)

// builder collects every problem rather than stopping at the first, so that
// one run of the generator shows all of them.
type builder struct {
	file  *spec.File
	types map[string]*spec.Schema
	named map[string]*Schema // converted types, for resolving refs
	errs  spec.ErrorList
	ops   []string
}

func (b *builder) errorf(p spec.Pos, format string, args ...any) {
	// A section left out of the spec has no position of its own: name the
	// top of the file instead.
	if p.Line == 0 {
		p = b.file.Pos
		if p.Line == 0 {
			p.Line, p.Col = 1, 1
		}
	}
	b.errs = append(b.errs, &spec.Error{Pos: p, Msg: fmt.Sprintf(format, args...)})
}

// Build validates a decoded spec and turns it into the IR. The error, if
// any, is a spec.ErrorList with every problem found.
func Build(f *spec.File) (*Integration, error) {
	b := &builder{file: f, types: map[string]*spec.Schema{}, named: map[string]*Schema{}}
	in := b.integration()
	if len(b.errs) > 0 {
		slices.SortStableFunc(b.errs, func(x, y *spec.Error) int {
			if x.Pos.Line != y.Pos.Line {
				return x.Pos.Line - y.Pos.Line
			}
			return x.Pos.Col - y.Pos.Col
		})
		return nil, b.errs
	}
	return in, nil
}

func (b *builder) integration() *Integration {
	f := b.file
	si := f.Integration
	in := &Integration{
		SourceFile:  f.Pos.File,
		Slug:        si.Slug,
		Name:        si.Name,
		GoName:      GoName(si.Slug),
		Summary:     strings.TrimSpace(si.Summary),
		Description: strings.TrimSpace(si.Description),
		DocsURL:     si.DocsURL,
		Version:     si.Version,
		Regions:     si.Regions,
		LuaPath:     "app.integrations." + si.Slug,
	}
	switch {
	case si.Slug == "":
		b.errorf(f.Pos, "integration.slug is missing; give the integration a lower-case name such as %q", "cloudconvert")
	case !slugRe.MatchString(si.Slug):
		b.errorf(si.Pos, "integration.slug %q must be lower-case letters, digits and _ (it becomes a Lua name and a Go package)", si.Slug)
	}
	if si.Name == "" {
		b.errorf(si.Pos, "integration.name is missing; it is the display name used in the docs")
	}
	if si.Auth.Pos.Line == 0 {
		si.Auth.Pos = si.Pos
	}
	in.Auth = b.auth(si.Auth)
	for _, s := range si.Servers {
		if s.Name == "" || s.Live == "" {
			b.errorf(s.Pos, "a server needs a name and a live URL")
		}
		srv := Server{Name: s.Name, Description: strings.TrimSpace(s.Description), Live: s.Live, Sandbox: s.Sandbox, Region: s.Region,
			OpenAPIFile: "openapi.yaml", ClientPackage: "client"}
		if len(in.Servers) > 0 {
			srv.OpenAPIFile = "openapi-" + s.Name + ".yaml"
			srv.ClientPackage = strings.ReplaceAll(s.Name, "_", "") + "client"
		}
		if s.Name != "" && !slugRe.MatchString(s.Name) {
			b.errorf(s.Pos, "server name %q must be lower-case letters, digits and _ (it names a Go package)", s.Name)
		}
		in.Servers = append(in.Servers, srv)
	}
	if len(in.Servers) == 0 {
		b.errorf(si.Pos, "integration.servers is empty; name at least the API's base URL")
	}

	seenOps := map[string]bool{}
	for _, op := range f.Operations {
		if op.Name == "" {
			b.errorf(op.Pos, "an operation needs a name")
			continue
		}
		if seenOps[op.Name] {
			b.errorf(op.Pos, "operation %q is listed twice", op.Name)
			continue
		}
		seenOps[op.Name] = true
		b.ops = append(b.ops, op.Name)
		in.Operations = append(in.Operations, Operation{Name: op.Name, Description: op.Description, Common: op.Common, GoName: PascalPlain(op.Name)})
	}

	for i := range f.Types {
		b.types[f.Types[i].Key] = &f.Types[i].Value
	}
	for _, t := range f.Types {
		s := b.schema(&t.Value, "types."+t.Key)
		b.named[t.Key] = s
		in.Types = append(in.Types, &NamedType{Name: t.Key, Schema: s})
	}
	if f.Errors != nil {
		if b.refOK(f.Errors.Pos, f.Errors.Ref, "errors.ref") {
			in.ErrorRef = f.Errors.Ref
		}
		in.ErrorStatus = f.Errors.Statuses
		for _, s := range f.Errors.Statuses {
			if s < 400 || s > 599 {
				b.errorf(f.Errors.Pos, "error status %d is not a 4xx or 5xx status", s)
			}
		}
	}
	if f.MultiAccount != nil {
		in.Accounts = f.MultiAccount.Accounts
	}

	if len(f.Functions) == 0 {
		b.errorf(f.Pos, "the spec has no functions; add at least one under functions:")
	}
	seen := map[string]spec.Pos{}
	for i := range f.Functions {
		sf := &f.Functions[i]
		if prev, dup := seen[sf.Name]; dup && sf.Name != "" {
			b.errorf(sf.Pos, "function %q is defined twice (first at %s)", sf.Name, prev)
			continue
		}
		seen[sf.Name] = sf.Pos
		fn := b.function(in, sf)
		if fn == nil {
			continue
		}
		in.Functions = append(in.Functions, fn)
		if fn.Operation == Read {
			in.ReadCount++
		} else {
			in.WriteCount++
		}
	}
	return in
}

func (b *builder) auth(a spec.Auth) Auth {
	out := Auth{Kind: a.Kind, Scheme: a.Scheme, Env: a.Env, Description: strings.TrimSpace(a.Description)}
	switch a.Kind {
	case "api_key":
		out.Label = "API key auth"
	case "none":
		out.Label = "no auth"
	default:
		b.errorf(a.Pos, "auth.kind %q is not known; use api_key or none", a.Kind)
	}
	if a.Kind == "api_key" && a.Scheme != "bearer" && a.Scheme != "header" {
		b.errorf(a.Pos, "auth.scheme %q is not known; use bearer", a.Scheme)
	}
	return out
}

func (b *builder) refOK(p spec.Pos, ref, where string) bool {
	if _, ok := b.types[ref]; ok {
		return true
	}
	names := make([]string, 0, len(b.types))
	for n := range b.types {
		names = append(names, n)
	}
	slices.Sort(names)
	b.errorf(p, "%s: unknown type %q%s; types defined: %s", where, ref, suggest.DidYouMean(ref, names), strings.Join(names, ", "))
	return false
}

func (b *builder) function(in *Integration, sf *spec.Function) *Function {
	where := "function " + sf.Name
	if sf.Name == "" {
		b.errorf(sf.Pos, "a function needs a name")
		return nil
	}
	if !snakeRe.MatchString(sf.Name) {
		b.errorf(sf.Pos, "%s: the name must be snake_case (lower-case words joined by _), as Lua and MCP names derive from it", where)
	}
	fn := &Function{
		Name:           sf.Name,
		Slug:           in.Slug + "_" + sf.Name,
		LuaName:        sf.Name,
		FullName:       in.Slug + "." + sf.Name,
		GoName:         GoName(sf.Name),
		MCPToolName:    in.Slug + "_" + sf.Name,
		DocPage:        in.Slug + "." + sf.Name,
		Operation:      sf.Operation,
		Summary:        strings.TrimSpace(sf.Summary),
		Description:    strings.TrimSpace(sf.Description),
		Notes:          strings.TrimSpace(sf.Notes),
		ShowOperations: sf.ShowOperations,
		Method:         strings.ToUpper(sf.HTTP.Method),
		Path:           sf.HTTP.Path,
		Server:         sf.HTTP.Server,
		OperationID:    PascalPlain(sf.Name),
	}
	if sf.Operation != Read && sf.Operation != Write {
		b.errorf(sf.Pos, "%s: operation %q must be read or write", where, sf.Operation)
	}
	if fn.Summary == "" {
		b.errorf(sf.Pos, "%s: summary is missing; it is the one-line description agents see", where)
	}
	if fn.Description == "" {
		fn.Description = fn.Summary
	}
	if !slices.Contains(methods, fn.Method) {
		b.errorf(sf.HTTP.Pos, "%s: http.method %q is not one of %s", where, sf.HTTP.Method, strings.Join(methods, ", "))
	}
	if !strings.HasPrefix(fn.Path, "/") {
		b.errorf(sf.HTTP.Pos, "%s: http.path %q must start with /", where, fn.Path)
	}
	if fn.Server == "" && len(in.Servers) > 0 {
		fn.Server = in.Servers[0].Name
	} else if !slices.ContainsFunc(in.Servers, func(s Server) bool { return s.Name == fn.Server }) {
		b.errorf(sf.HTTP.Pos, "%s: http.server %q is not one of integration.servers", where, fn.Server)
	}

	seen := map[string]bool{}
	for i := range sf.Parameters {
		sp := &sf.Parameters[i]
		if seen[sp.Name] {
			b.errorf(sp.Pos, "%s: parameter %q is defined twice", where, sp.Name)
			continue
		}
		seen[sp.Name] = true
		if p := b.param(fn, sp); p != nil {
			fn.Params = append(fn.Params, p)
		}
	}
	b.checkPath(fn, sf)

	if sf.Response.Ref == "" {
		b.errorf(sf.Pos, "%s: response.ref is missing; name the type of the success body", where)
	} else if b.refOK(sf.Response.Pos, sf.Response.Ref, where+": response") {
		fn.Response = Response{Status: sf.Response.Status, Ref: sf.Response.Ref}
	}
	if s := sf.Response.Status; sf.Response.Ref != "" && (s < 200 || s > 299) {
		b.errorf(sf.Response.Pos, "%s: response.status %d is not a 2xx status", where, s)
	}
	for _, ex := range sf.Examples {
		b.checkLua(ex.LuaPos, ex.Lua, where+" example")
		fn.Examples = append(fn.Examples, Example{Title: ex.Title, Lua: strings.TrimRight(ex.Lua, "\n"), Pos: ex.LuaPos})
	}
	fn.InputSchema = inputSchema(fn)
	return fn
}

// checkPath matches {placeholders} with path parameters, both ways.
func (b *builder) checkPath(fn *Function, sf *spec.Function) {
	holes := map[string]bool{}
	for _, m := range placeholder.FindAllStringSubmatch(fn.Path, -1) {
		holes[m[1]] = true
	}
	for _, p := range fn.Params {
		if p.In != InPath {
			continue
		}
		if !holes[p.Key] {
			b.errorf(sf.HTTP.Pos, "function %s: path parameter %q (wire name %q) does not appear in http.path %q; add {%s} to the path or change its http.in",
				fn.Name, p.Name, p.Key, fn.Path, p.Key)
		}
		delete(holes, p.Key)
		if slices.ContainsFunc(p.Schema.Enum, func(v string) bool { return strings.Contains(v, "/") }) {
			fn.Expand = p
		}
	}
	for h := range holes {
		b.errorf(sf.HTTP.Pos, "function %s: http.path %q has {%s} but no parameter has http.in: path with that key", fn.Name, fn.Path, h)
	}
}

func (b *builder) checkLua(p spec.Pos, src, where string) {
	if strings.TrimSpace(src) == "" {
		b.errorf(p, "%s: the Lua snippet is empty", where)
		return
	}
	if err := CheckLua(src); err != nil {
		var le *LuaError
		if asLuaError(err, &le) {
			b.errorf(spec.Pos{File: p.File, Line: p.Line + le.Line - 1, Col: p.Col + max(le.Col-1, 0)}, "%s does not parse as Lua: %s", where, le.Msg)
			return
		}
		b.errorf(p, "%s does not parse as Lua: %v", where, err)
	}
}

func (b *builder) param(fn *Function, sp *spec.Parameter) *Param {
	where := fmt.Sprintf("function %s: parameter %q", fn.Name, sp.Name)
	if sp.Name == "" {
		b.errorf(sp.Pos, "function %s: a parameter needs a name", fn.Name)
		return nil
	}
	if !snakeRe.MatchString(sp.Name) {
		b.errorf(sp.Pos, "%s: the name must be snake_case", where)
	}
	p := &Param{Name: sp.Name, GoName: GoName(sp.Name), Required: sp.Required, In: InBody, Key: sp.Name}
	if h := sp.HTTP; h != nil {
		if h.In != "" {
			p.In = h.In
		}
		if h.Key != "" {
			p.Key = h.Key
		}
		p.Spread = h.Spread
		if !slices.Contains(paramIns, p.In) {
			b.errorf(h.Pos, "%s: http.in %q must be one of %s", where, h.In, strings.Join(paramIns, ", "))
		}
		if h.Spread && (p.In != InBody || sp.Type != "object") {
			b.errorf(h.Pos, "%s: http.spread needs an object parameter in the body", where)
		}
	}
	if sp.Required && sp.Default != nil {
		b.errorf(sp.Pos, "%s is required and has a default; a required parameter is always given, so drop one of the two", where)
	}
	if p.In == InPath && !sp.Required {
		b.errorf(sp.Pos, "%s: path parameters must be required", where)
	}
	if p.In == InTimeout && sp.Type != "integer" && sp.Type != "number" {
		b.errorf(sp.Pos, "%s: a timeout parameter counts seconds, so it must be an integer or a number", where)
	}
	p.WireSchema = b.schema(&sp.Schema, where)
	if p.In == InQuery && p.WireSchema.Type != "string" && p.WireSchema.Type != "integer" && p.WireSchema.Type != "number" && p.WireSchema.Type != "boolean" {
		b.errorf(sp.Pos, "%s: query parameters must be strings, numbers or booleans", where)
	}
	if sp.Example != nil {
		v, err := valueOf(sp.Example)
		if err != nil {
			b.errorf(sp.Pos, "%s: example: %v", where, err)
		}
		p.Example = v
	}
	p.Schema = b.resolve(p.WireSchema)
	if h := sp.HTTP; h != nil && h.KeyedBy != nil {
		p.KeyedBy = b.keyedBy(where, h.KeyedBy, p)
	}
	return p
}

// keyedBy checks a keyed_by mapping and adds the key field to the
// caller-facing item schema.
func (b *builder) keyedBy(where string, k *spec.KeyedBy, p *Param) *KeyedBy {
	if p.Schema.Type != "array" || p.Schema.Items == nil || p.Schema.Items.Type != "object" {
		b.errorf(k.Pos, "%s: keyed_by needs an array of objects", where)
		return nil
	}
	if p.In != InBody {
		b.errorf(k.Pos, "%s: keyed_by needs a body parameter", where)
	}
	items := p.Schema.Items
	if k.Field == "" {
		b.errorf(k.Pos, "%s: keyed_by.field is missing", where)
		return nil
	}
	if items.Property(k.Field) != nil {
		b.errorf(k.Pos, "%s: keyed_by.field %q is already a property of the items", where, k.Field)
	}
	for _, f := range []string{k.DefaultFrom, k.References} {
		if f != "" && items.Property(f) == nil {
			b.errorf(k.Pos, "%s: keyed_by names item field %q, which the items do not have", where, f)
		}
	}
	if k.Pattern != "" {
		if _, err := regexp.Compile(k.Pattern); err != nil {
			b.errorf(k.Pos, "%s: keyed_by.pattern: %v", where, err)
		}
	}
	keySchema := &Schema{Type: "string", Description: k.Description, Pattern: k.Pattern}
	// Put the key field after the first property, as the docs read best
	// with operation, name, input.
	props := slices.Clone(items.Properties)
	at := min(1, len(props))
	props = slices.Insert(props, at, &Property{Name: k.Field, Schema: keySchema})
	copied := *items
	copied.Properties = props
	p.Schema.Items = &copied
	return &KeyedBy{Field: k.Field, Description: k.Description, Pattern: k.Pattern, DefaultFrom: k.DefaultFrom, References: k.References}
}

// schema converts and checks a spec schema; refs stay refs.
func (b *builder) schema(s *spec.Schema, where string) *Schema {
	out := &Schema{
		Type: s.Type, Ref: s.Ref, Title: s.Title, Description: strings.TrimSpace(s.Description),
		Format: s.Format, Pattern: s.Pattern, Enum: s.Enum, EnumFrom: s.EnumFrom,
		Minimum: s.Minimum, Maximum: s.Maximum, MinLength: s.MinLength, MaxLength: s.MaxLength,
		MinItems: s.MinItems, MaxItems: s.MaxItems, Nullable: s.Nullable,
		AdditionalDescription: s.AdditionalDescription,
	}
	switch {
	case s.Ref != "" && s.Type != "":
		b.errorf(s.Pos, "%s: give either type or ref, not both", where)
	case s.Ref != "":
		b.refOK(s.Pos, s.Ref, where)
	case len(s.OneOf) > 0:
		if s.Type != "" {
			b.errorf(s.Pos, "%s: give either type or one_of, not both", where)
		}
		for i := range s.OneOf {
			out.OneOf = append(out.OneOf, b.schema(&s.OneOf[i], fmt.Sprintf("%s.one_of[%d]", where, i)))
		}
	case s.Type == "":
		b.errorf(s.Pos, "%s: type is missing; use one of %s, or ref to a named type", where, strings.Join(schemaTypes, ", "))
	case !slices.Contains(schemaTypes, s.Type):
		b.errorf(s.Pos, "%s: unknown type %q%s; use one of %s, or ref to a named type", where, s.Type, suggest.DidYouMean(s.Type, schemaTypes), strings.Join(schemaTypes, ", "))
	}
	if s.EnumFrom != "" {
		if s.EnumFrom != "operations" {
			b.errorf(s.Pos, "%s: enum_from %q is not known; the only table is operations", where, s.EnumFrom)
		} else {
			out.Enum = slices.Clone(b.ops)
		}
	}
	if len(out.Enum) > 0 && s.Type != "string" && slices.Contains(schemaTypes, s.Type) {
		b.errorf(s.Pos, "%s: enum is only for strings", where)
	}
	if s.Minimum != nil && s.Maximum != nil && *s.Minimum > *s.Maximum {
		b.errorf(s.Pos, "%s: minimum %v is greater than maximum %v", where, *s.Minimum, *s.Maximum)
	}
	if (s.Minimum != nil || s.Maximum != nil) && (s.Type == "string" || s.Type == "boolean" || s.Type == "object" || s.Type == "array") {
		b.errorf(s.Pos, "%s: minimum and maximum are only for integers and numbers", where)
	}
	if s.Pattern != "" {
		if _, err := regexp.Compile(s.Pattern); err != nil {
			b.errorf(s.Pos, "%s: pattern: %v", where, err)
		}
	}
	if s.Default != nil {
		v, err := valueOf(s.Default)
		switch {
		case err != nil:
			b.errorf(s.Pos, "%s: default: %v", where, err)
		case !fitsType(v, s.Type):
			b.errorf(s.Pos, "%s: default %v is not of type %s", where, v, s.Type)
		case len(out.Enum) > 0 && !slices.Contains(out.Enum, fmt.Sprint(v)):
			b.errorf(s.Pos, "%s: default %v is not one of the enum values", where, v)
		}
		out.Default = v
	}
	if s.Items != nil {
		if s.Type != "array" {
			b.errorf(s.Pos, "%s: items is only for arrays", where)
		}
		out.Items = b.schema(s.Items, where+".items")
	} else if s.Type == "array" {
		b.errorf(s.Pos, "%s: an array needs items", where)
	}
	for i := range s.Properties {
		e := &s.Properties[i]
		ps := b.schema(&e.Value, where+"."+e.Key)
		out.Properties = append(out.Properties, &Property{Name: e.Key, Required: e.Value.Required, Schema: ps})
	}
	if len(s.Properties) > 0 && s.Type != "object" {
		b.errorf(s.Pos, "%s: properties are only for objects", where)
	}
	if a := s.AdditionalProperties; a != nil {
		out.AdditionalProperties = a.Allowed
		if a.Schema != nil {
			out.AdditionalSchema = b.schema(a.Schema, where+".additional_properties")
		}
	}
	return out
}

// resolve returns a copy of s with every ref replaced by the named type's
// schema (descriptions at the use site win), for the caller-facing schemas.
func (b *builder) resolve(s *Schema) *Schema {
	return b.resolveDepth(s, 0)
}

func (b *builder) resolveDepth(s *Schema, depth int) *Schema {
	if s == nil {
		return nil
	}
	out := *s
	if s.Ref != "" {
		target, ok := b.named[s.Ref]
		if !ok || depth > 16 {
			return &out
		}
		t := b.resolveDepth(target, depth+1)
		if s.Description != "" {
			t.Description = s.Description
		}
		t.Nullable = t.Nullable || s.Nullable
		return t
	}
	out.Items = b.resolveDepth(s.Items, depth+1)
	out.AdditionalSchema = b.resolveDepth(s.AdditionalSchema, depth+1)
	out.Properties = nil
	for _, p := range s.Properties {
		out.Properties = append(out.Properties, &Property{Name: p.Name, Required: p.Required, Schema: b.resolveDepth(p.Schema, depth+1)})
	}
	out.OneOf = nil
	for _, o := range s.OneOf {
		out.OneOf = append(out.OneOf, b.resolveDepth(o, depth+1))
	}
	return &out
}

// inputSchema is the object schema of a function's argument table.
func inputSchema(fn *Function) *Schema {
	s := &Schema{Type: "object", Description: fn.Summary}
	for _, p := range fn.Params {
		s.Properties = append(s.Properties, &Property{Name: p.Name, Required: p.Required, Schema: p.Schema})
	}
	return s
}

// LuaError is a Lua syntax error at a line and column of the snippet.
type LuaError struct {
	Line, Col int
	Msg       string
}

func (e *LuaError) Error() string { return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Col, e.Msg) }

func asLuaError(err error, target **LuaError) bool {
	le, ok := err.(*LuaError)
	if ok {
		*target = le
	}
	return ok
}

// CheckLua parses src as a Lua chunk (gopher-lua's parser, Lua 5.1).
func CheckLua(src string) error {
	_, err := lua.Parse(strings.NewReader(src), "snippet")
	if err == nil {
		return nil
	}
	if pe, ok := err.(*lua.Error); ok {
		msg := pe.Message
		if pe.Token != "" {
			msg += " near '" + pe.Token + "'"
		}
		return &LuaError{Line: pe.Pos.Line, Col: pe.Pos.Column, Msg: msg}
	}
	return &LuaError{Line: 1, Col: 1, Msg: err.Error()}
}
