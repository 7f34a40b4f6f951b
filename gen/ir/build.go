package ir

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	lua "github.com/yuin/gopher-lua/parse"

	"github.com/cctoolkit/cloudconvert/gen/spec"
	"github.com/cctoolkit/cloudconvert/integration"
	"github.com/cctoolkit/cloudconvert/internal/suggest"
)

var (
	slugRe      = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	snakeRe     = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	headerRe    = regexp.MustCompile(`^[A-Za-z0-9-]+$`)
	placeholder = regexp.MustCompile(`\{([^{}]*)\}`)
	methods     = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}
	paramIns    = []string{"path", "query", "body", "timeout"}
)

// builder collects every problem rather than stopping at the first, so that
// one run of the generator shows all of them.
type builder struct {
	file  *spec.File
	types map[string]*spec.Schema
	// named are the named types, made before any is filled so that refs
	// can point at them whatever the order.
	named map[string]*integration.Schema
	ops   []string
	errs  spec.ErrorList
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
	b := &builder{file: f, types: map[string]*spec.Schema{}, named: map[string]*integration.Schema{}}
	in := b.integration()
	if len(b.errs) == 0 {
		if err := in.Desc.Link(); err != nil {
			b.errorf(f.Pos, "the spec builds a descriptor that does not link: %v", err)
		} else {
			b.checkTransferArgs(in)
		}
	}
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
	d := &integration.Integration{
		Slug:        si.Slug,
		Name:        si.Name,
		Summary:     strings.TrimSpace(si.Summary),
		Description: strings.TrimSpace(si.Description),
		DocsURL:     si.DocsURL,
		Version:     si.Version,
		Regions:     si.Regions,
		LuaPath:     "app.integrations." + si.Slug,
	}
	in := &Integration{Desc: d, SourceFile: f.Pos.File, GoName: GoName(si.Slug)}
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
	d.Auth = b.auth(si.Auth)
	for _, s := range si.Servers {
		if s.Name == "" || s.Live == "" {
			b.errorf(s.Pos, "a server needs a name and a live URL")
		}
		if s.Name != "" && !slugRe.MatchString(s.Name) {
			b.errorf(s.Pos, "server name %q must be lower-case letters, digits and _ (it names a Go package)", s.Name)
		}
		if d.Server(s.Name) != nil {
			b.errorf(s.Pos, "server %q is listed twice", s.Name)
		}
		ds := &integration.Server{Name: s.Name, Description: strings.TrimSpace(s.Description), Live: s.Live, Sandbox: s.Sandbox, Region: s.Region}
		srv := &Server{Desc: ds, OpenAPIFile: "openapi.yaml", ClientPackage: "client"}
		if len(in.Servers) > 0 {
			srv.OpenAPIFile = "openapi-" + s.Name + ".yaml"
			srv.ClientPackage = strings.ReplaceAll(s.Name, "_", "") + "client"
		}
		d.Servers = append(d.Servers, ds)
		in.Servers = append(in.Servers, srv)
	}
	if len(in.Servers) == 0 {
		b.errorf(si.Pos, "integration.servers is empty; name at least the API's base URL")
	}

	for _, op := range f.Operations {
		if op.Name == "" {
			b.errorf(op.Pos, "an operation needs a name")
			continue
		}
		if d.Operation(op.Name) != nil {
			b.errorf(op.Pos, "operation %q is listed twice", op.Name)
			continue
		}
		b.ops = append(b.ops, op.Name)
		d.Operations = append(d.Operations, &integration.Operation{Name: op.Name, Description: op.Description, Common: op.Common})
	}

	for i := range f.Types {
		b.types[f.Types[i].Key] = &f.Types[i].Value
		b.named[f.Types[i].Key] = &integration.Schema{Name: f.Types[i].Key}
	}
	for _, t := range f.Types {
		target := b.named[t.Key]
		*target = *b.schema(&t.Value, "types."+t.Key)
		target.Name = t.Key
		d.Types = append(d.Types, target)
	}
	if f.Errors != nil {
		if b.refOK(f.Errors.Pos, f.Errors.Ref, "errors.ref") {
			in.ErrorType = b.named[f.Errors.Ref]
		}
		in.ErrorStatus = f.Errors.Statuses
		for _, s := range f.Errors.Statuses {
			if s < 400 || s > 599 {
				b.errorf(f.Errors.Pos, "error status %d is not a 4xx or 5xx status", s)
			}
		}
		seen := map[string]bool{}
		for _, c := range f.Errors.Codes {
			switch {
			case c.Code == "":
				b.errorf(c.Pos, "errors.codes: an entry has no code")
			case seen[c.Code]:
				b.errorf(c.Pos, "errors.codes: %s is listed twice", c.Code)
			case c.Description == "":
				b.errorf(c.Pos, "errors.codes: %s has no description", c.Code)
			case c.Status != 0 && !slices.Contains(f.Errors.Statuses, c.Status):
				b.errorf(c.Pos, "errors.codes: %s has status %d, which errors.statuses does not list", c.Code, c.Status)
			}
			seen[c.Code] = true
			in.ErrorCodes = append(in.ErrorCodes, ErrorCode{Code: c.Code, Status: c.Status, Description: strings.TrimSpace(c.Description)})
		}
	}
	if f.MultiAccount != nil {
		d.Accounts = f.MultiAccount.Accounts
	}

	if len(f.Functions) == 0 {
		b.errorf(f.Pos, "the spec has no functions; add at least one under functions:")
	}
	seen := map[string]spec.Pos{}
	var built []*spec.Function
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
		d.Functions = append(d.Functions, fn.Desc)
		if sf.Transfer == nil { // a transfer is no HTTP operation of its server
			fn.Server.Functions = append(fn.Server.Functions, fn)
		}
		built = append(built, sf)
	}
	// Waits and transfers name other functions: resolve them once all
	// exist.
	for i, sf := range built {
		if sf.Wait != nil {
			b.wait(in, in.Functions[i], sf.Wait)
		}
		if sf.Transfer != nil {
			b.transfer(in, in.Functions[i], sf.Transfer)
		}
	}
	return in
}

func (b *builder) auth(a spec.Auth) integration.Auth {
	out := integration.Auth{Kind: a.Kind, Scheme: a.Scheme, Header: a.Header, Env: a.Env, Description: strings.TrimSpace(a.Description)}
	switch a.Kind {
	case "api_key":
		out.Label = "API key auth"
		switch a.Scheme {
		case "bearer":
			if a.Header != "" && a.Header != "Authorization" {
				b.errorf(a.Pos, "auth.header %q: scheme bearer always uses the Authorization header; use scheme header for another one", a.Header)
			}
			out.Header = "Authorization"
		case "header":
			if a.Header == "" || !headerRe.MatchString(a.Header) {
				b.errorf(a.Pos, "auth.scheme header needs auth.header, the header that carries the key (e.g. X-Api-Key)")
			}
		default:
			b.errorf(a.Pos, "auth.scheme %q is not known; use bearer (Authorization: Bearer <key>) or header (with auth.header)", a.Scheme)
		}
	case "none":
		out.Label = "no auth"
	default:
		b.errorf(a.Pos, "auth.kind %q is not known; use api_key or none", a.Kind)
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
	slug := in.Desc.Slug
	d := &integration.Function{
		Name:        sf.Name,
		FullName:    slug + "." + sf.Name,
		ToolName:    slug + "_" + sf.Name,
		DocPage:     slug + "." + sf.Name,
		Summary:     strings.TrimSpace(sf.Summary),
		Description: strings.TrimSpace(sf.Description),
		Method:      strings.ToUpper(sf.HTTP.Method),
		Path:        sf.HTTP.Path,
	}
	fn := &Function{
		Desc:           d,
		GoName:         GoName(sf.Name),
		OperationID:    PascalPlain(sf.Name),
		ShowOperations: sf.ShowOperations,
		Notes:          strings.TrimSpace(sf.Notes),
	}
	kind, ok := integration.ParseKind(sf.Operation)
	if !ok {
		b.errorf(sf.Pos, "%s: operation %q must be read or write", where, sf.Operation)
	}
	d.Kind = kind
	d.Retry = integration.RetrySafe
	if kind == integration.Write {
		d.Retry = integration.RetryUnsent
	}
	switch sf.Retry {
	case "":
	case "safe":
		d.Retry = integration.RetrySafe
	case "unsent":
		d.Retry = integration.RetryUnsent
	default:
		b.errorf(sf.Pos, "%s: retry %q must be safe (repeat after any failure) or unsent (repeat only when never sent)", where, sf.Retry)
	}
	if d.Summary == "" {
		b.errorf(sf.Pos, "%s: summary is missing; it is the one-line description agents see", where)
	}
	if d.Description == "" {
		d.Description = d.Summary
	}
	transfer := sf.Transfer != nil
	switch {
	case transfer:
		if sf.HTTP.Pos.Line != 0 {
			b.errorf(sf.HTTP.Pos, "%s: a transfer function makes no HTTP request of its own (it calls other functions); leave out http", where)
		}
		if sf.Wait != nil {
			b.errorf(sf.Wait.Pos, "%s: a transfer function cannot wait; its steps may", where)
		}
		if kind != integration.Write {
			b.errorf(sf.Pos, "%s: a transfer function sends data out or writes local files, so its operation must be write", where)
		}
		if sf.Response.Ref != "" || sf.Response.Status != 0 {
			b.errorf(sf.Response.Pos, "%s: the answer of a transfer function is derived (an upload answers like its last step, a download lists the files written); leave out response", where)
		}
	case !slices.Contains(methods, d.Method):
		b.errorf(sf.HTTP.Pos, "%s: http.method %q is not one of %s", where, sf.HTTP.Method, strings.Join(methods, ", "))
	}
	if !transfer && !strings.HasPrefix(d.Path, "/") {
		b.errorf(sf.HTTP.Pos, "%s: http.path %q must start with /", where, d.Path)
	}
	fn.Server = in.Servers[0]
	if sf.HTTP.Server != "" {
		fn.Server = nil
		for _, s := range in.Servers {
			if s.Desc.Name == sf.HTTP.Server {
				fn.Server = s
			}
		}
		if fn.Server == nil {
			b.errorf(sf.HTTP.Pos, "%s: http.server %q is not one of integration.servers", where, sf.HTTP.Server)
			fn.Server = in.Servers[0]
		}
	}
	d.Server = fn.Server.Desc

	seen := map[string]bool{}
	for i := range sf.Parameters {
		sp := &sf.Parameters[i]
		if seen[sp.Name] {
			b.errorf(sp.Pos, "%s: parameter %q is defined twice", where, sp.Name)
			continue
		}
		seen[sp.Name] = true
		if p := b.param(fn, sp, transfer); p != nil {
			fn.Params = append(fn.Params, p)
			d.Params = append(d.Params, p.Desc)
		}
	}
	b.checkPath(fn, sf)
	spreads := 0
	for _, p := range d.Params {
		if p.Spread {
			spreads++
		}
	}
	if spreads > 1 {
		b.errorf(sf.Pos, "%s: only one parameter may be spread at the top level of the body", where)
	}

	d.Status = sf.Response.Status
	switch {
	case transfer:
		d.Status = http.StatusOK
	case sf.Response.Status == http.StatusNoContent:
		if sf.Response.Ref != "" {
			b.errorf(sf.Response.Pos, "%s: a 204 response has no body, so it takes no ref", where)
		}
	case sf.Response.Ref == "":
		b.errorf(sf.Pos, "%s: response.ref is missing; name the type of the success body (or use status 204 for none)", where)
	case b.refOK(sf.Response.Pos, sf.Response.Ref, where+": response"):
		d.Response = b.named[sf.Response.Ref]
	}
	if s := sf.Response.Status; (s < 200 || s > 299) && sf.Response.Ref != "" && !transfer {
		b.errorf(sf.Response.Pos, "%s: response.status %d is not a 2xx status", where, s)
	}
	for _, ex := range sf.Examples {
		b.checkLua(ex.LuaPos, ex.Lua, where+" example")
		lua := strings.TrimRight(ex.Lua, "\n")
		fn.Examples = append(fn.Examples, Example{Title: ex.Title, Lua: lua, Pos: ex.LuaPos})
		d.Examples = append(d.Examples, integration.Example{Title: ex.Title, Lua: lua})
	}
	return fn
}

// wait resolves a function's wait: the function polled where its server is
// unavailable must exist, read, and take the same path parameters.
func (b *builder) wait(in *Integration, fn *Function, w *spec.WaitDecl) {
	where := "function " + fn.Desc.Name + ": wait"
	poll := in.Function(w.Poll)
	switch {
	case w.Poll == "":
		b.errorf(w.Pos, "%s.poll is missing; name the function that reads the same resource (e.g. get_job)", where)
		return
	case poll == nil:
		b.errorf(w.Pos, "%s.poll: no function is called %q%s", where, w.Poll, suggest.DidYouMean(w.Poll, in.Desc.FunctionNames()))
		return
	case poll == fn:
		b.errorf(w.Pos, "%s.poll names the function itself", where)
		return
	case poll.Desc.Kind != integration.Read:
		b.errorf(w.Pos, "%s.poll: %s is a write; polling must only read", where, w.Poll)
	}
	if fn.Desc.Kind != integration.Read {
		b.errorf(w.Pos, "%s: a function that waits must be a read", where)
	}
	for _, p := range poll.Desc.Params {
		if p.In == integration.InPath && !hasParam(fn, p.Name) {
			b.errorf(w.Pos, "%s.poll: %s takes the path parameter %s, which %s does not", where, w.Poll, p.Name, fn.Desc.Name)
		}
	}
	if w.Field == "" || len(w.Until) == 0 {
		b.errorf(w.Pos, "%s needs field (a dotted path in the answer, e.g. data.status) and until (the values that end the wait)", where)
	}
	fn.Desc.Wait = &integration.Wait{Poll: poll.Desc, Field: w.Field, Until: w.Until}
}

func hasParam(fn *Function, name string) bool {
	for _, p := range fn.Params {
		if p.Desc.Name == name {
			return true
		}
	}
	return false
}

// checkPath matches {placeholders} with path parameters, both ways.
func (b *builder) checkPath(fn *Function, sf *spec.Function) {
	d := fn.Desc
	holes := map[string]bool{}
	for _, m := range placeholder.FindAllStringSubmatch(d.Path, -1) {
		holes[m[1]] = true
	}
	for _, p := range fn.Params {
		if p.Desc.In != integration.InPath {
			continue
		}
		if !holes[p.Desc.Key] {
			b.errorf(sf.HTTP.Pos, "function %s: path parameter %q (wire name %q) does not appear in http.path %q; add {%s} to the path or change its http.in",
				d.Name, p.Desc.Name, p.Desc.Key, d.Path, p.Desc.Key)
		}
		delete(holes, p.Desc.Key)
		if slices.ContainsFunc(p.Desc.Schema.Resolved().Enum, func(v string) bool { return strings.Contains(v, "/") }) {
			fn.Expand = p
			p.Desc.Expands = true
		}
	}
	for _, h := range sortedKeys(holes) {
		b.errorf(sf.HTTP.Pos, "function %s: http.path %q has {%s} but no parameter has http.in: path with that key", d.Name, d.Path, h)
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func (b *builder) checkLua(p spec.Pos, src, where string) {
	if strings.TrimSpace(src) == "" {
		b.errorf(p, "%s: the Lua snippet is empty", where)
		return
	}
	if err := CheckLua(src); err != nil {
		if le, ok := err.(*LuaError); ok {
			b.errorf(spec.Pos{File: p.File, Line: p.Line + le.Line - 1, Col: p.Col + max(le.Col-1, 0)}, "%s does not parse as Lua: %s", where, le.Msg)
			return
		}
		b.errorf(p, "%s does not parse as Lua: %v", where, err)
	}
}

func (b *builder) param(fn *Function, sp *spec.Parameter, transfer bool) *Param {
	where := fmt.Sprintf("function %s: parameter %q", fn.Desc.Name, sp.Name)
	if sp.Name == "" {
		b.errorf(sp.Pos, "function %s: a parameter needs a name", fn.Desc.Name)
		return nil
	}
	if !snakeRe.MatchString(sp.Name) {
		b.errorf(sp.Pos, "%s: the name must be snake_case", where)
	}
	d := &integration.Param{Name: sp.Name, Required: sp.Required, In: integration.InBody, Key: sp.Name}
	p := &Param{Desc: d, GoName: GoName(sp.Name)}
	hd := sp.HTTP
	if transfer {
		// The host uses the parameters of a transfer; only a timeout may
		// say otherwise.
		d.In = integration.InLocal
		if hd != nil && (hd.In != "timeout" || hd.Key != "" || hd.Spread || hd.KeyedBy != nil) {
			b.errorf(hd.Pos, "%s: the parameters of a transfer function are not sent as such; http may only be {in: timeout}", where)
			hd = nil
		}
		if t := sp.Type; t != "string" && t != "integer" && t != "number" && t != "boolean" {
			b.errorf(sp.Pos, "%s: the parameters of a transfer function must be strings, numbers or booleans", where)
		}
	}
	if h := hd; h != nil {
		if h.In != "" {
			in, ok := integration.ParseIn(h.In)
			if !ok {
				b.errorf(h.Pos, "%s: http.in %q must be one of %s", where, h.In, strings.Join(paramIns, ", "))
			}
			d.In = in
		}
		if h.Key != "" {
			d.Key = h.Key
		}
		d.Spread = h.Spread
		if h.Spread && (d.In != integration.InBody || sp.Type != "object") {
			b.errorf(h.Pos, "%s: http.spread needs an object parameter in the body", where)
		}
		d.SendDefault = h.SendDefault
		if h.SendDefault && (d.In != integration.InQuery || sp.Default == nil) {
			b.errorf(h.Pos, "%s: http.send_default needs a query parameter with a default", where)
		}
	}
	if sp.Required && sp.Default != nil {
		b.errorf(sp.Pos, "%s is required and has a default; a required parameter is always given, so drop one of the two", where)
	}
	if d.In == integration.InPath && !sp.Required {
		b.errorf(sp.Pos, "%s: path parameters must be required", where)
	}
	if d.In == integration.InTimeout && sp.Type != "integer" && sp.Type != "number" {
		b.errorf(sp.Pos, "%s: a timeout parameter counts seconds, so it must be an integer or a number", where)
	}
	p.WireSchema = b.schema(&sp.Schema, where)
	if t := p.WireSchema.Resolved().Type; d.In == integration.InQuery && t != integration.TypeString && t != integration.TypeInteger && t != integration.TypeNumber && t != integration.TypeBoolean {
		b.errorf(sp.Pos, "%s: query parameters must be strings, numbers or booleans", where)
	}
	if sp.Example != nil {
		v, err := valueOf(sp.Example)
		if err != nil {
			b.errorf(sp.Pos, "%s: example: %v", where, err)
		}
		d.Example = v
	}
	d.Schema = p.WireSchema
	if h := hd; h != nil && h.KeyedBy != nil {
		d.KeyedBy = b.keyedBy(where, h.KeyedBy, p)
	}
	return p
}

// keyedBy checks a keyed_by mapping and gives the parameter its
// caller-facing schema: the items with the key field.
func (b *builder) keyedBy(where string, k *spec.KeyedBy, p *Param) *integration.KeyedBy {
	wire := p.WireSchema
	items := wire.Items.Resolved()
	if wire.Type != integration.TypeArray || items == nil || items.Type != integration.TypeObject {
		b.errorf(k.Pos, "%s: keyed_by needs an array of objects", where)
		return nil
	}
	if p.Desc.In != integration.InBody {
		b.errorf(k.Pos, "%s: keyed_by needs a body parameter", where)
	}
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
	if k.DefaultCut != "" && k.DefaultFrom == "" {
		b.errorf(k.Pos, "%s: keyed_by.default_cut needs default_from", where)
	}
	if k.Pattern != "" {
		if _, err := regexp.Compile(k.Pattern); err != nil {
			b.errorf(k.Pos, "%s: keyed_by.pattern: %v", where, err)
		}
	}
	keySchema := &integration.Schema{Type: integration.TypeString, Description: k.Description, Pattern: k.Pattern}
	// The key field goes after the first property: the docs read best with
	// operation, name, input.
	props := slices.Clone(items.Properties)
	at := min(1, len(props))
	props = slices.Insert(props, at, &integration.Property{Name: k.Field, Schema: keySchema})
	withKey := *items
	withKey.Name = ""
	withKey.Properties = props
	caller := *wire
	caller.Items = &withKey
	p.Desc.Schema = &caller
	return &integration.KeyedBy{Field: k.Field, Noun: k.Noun, Pattern: k.Pattern, DefaultFrom: k.DefaultFrom, DefaultCut: k.DefaultCut, References: k.References}
}

// schema converts and checks a spec schema; refs point at the named types.
func (b *builder) schema(s *spec.Schema, where string) *integration.Schema {
	out := &integration.Schema{
		Title: s.Title, Description: strings.TrimSpace(s.Description),
		Format: s.Format, Pattern: s.Pattern, Enum: s.Enum,
		Minimum: s.Minimum, Maximum: s.Maximum, MinLength: s.MinLength, MaxLength: s.MaxLength,
		MinItems: s.MinItems, MaxItems: s.MaxItems, Nullable: s.Nullable,
		AdditionalLabel: s.AdditionalLabel, AdditionalDescription: s.AdditionalDescription,
	}
	types := integration.TypeNames()
	// typed: the schema names a known type, so type-specific keywords can
	// be checked against it (an unknown type is reported once, alone).
	typed := false
	switch {
	case s.Ref != "" && s.Type != "":
		b.errorf(s.Pos, "%s: give either type or ref, not both", where)
	case s.Ref != "":
		if b.refOK(s.Pos, s.Ref, where) {
			return &integration.Schema{Ref: b.named[s.Ref], Description: out.Description, Nullable: s.Nullable}
		}
	case len(s.OneOf) > 0:
		if s.Type != "" {
			b.errorf(s.Pos, "%s: give either type or one_of, not both", where)
		}
		for i := range s.OneOf {
			out.OneOf = append(out.OneOf, b.schema(&s.OneOf[i], fmt.Sprintf("%s.one_of[%d]", where, i)))
		}
	case s.Type == "":
		b.errorf(s.Pos, "%s: type is missing; use one of %s, or ref to a named type", where, strings.Join(types, ", "))
	default:
		t, ok := integration.ParseType(s.Type)
		if !ok {
			b.errorf(s.Pos, "%s: unknown type %q%s; use one of %s, or ref to a named type", where, s.Type, suggest.DidYouMean(s.Type, types), strings.Join(types, ", "))
		}
		out.Type, typed = t, ok
	}
	if s.EnumFrom != "" {
		if s.EnumFrom != "operations" {
			b.errorf(s.Pos, "%s: enum_from %q is not known; the only table is operations", where, s.EnumFrom)
		} else {
			out.Enum = slices.Clone(b.ops)
			out.EnumTable = s.EnumFrom
		}
	}
	if len(out.Enum) > 0 && out.Type != integration.TypeString && typed {
		b.errorf(s.Pos, "%s: enum is only for strings", where)
	}
	if s.Minimum != nil && s.Maximum != nil && *s.Minimum > *s.Maximum {
		b.errorf(s.Pos, "%s: minimum %v is greater than maximum %v", where, *s.Minimum, *s.Maximum)
	}
	if (s.Minimum != nil || s.Maximum != nil) && out.Type != integration.TypeInteger && out.Type != integration.TypeNumber && typed {
		b.errorf(s.Pos, "%s: minimum and maximum are only for integers and numbers", where)
	}
	if (s.MinLength != nil || s.MaxLength != nil) && out.Type != integration.TypeString && typed {
		b.errorf(s.Pos, "%s: min_length and max_length are only for strings", where)
	}
	if s.MinLength != nil && s.MaxLength != nil && *s.MinLength > *s.MaxLength {
		b.errorf(s.Pos, "%s: min_length %d is greater than max_length %d", where, *s.MinLength, *s.MaxLength)
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
		case typed && !fitsType(v, out.Type):
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
		out.Properties = append(out.Properties, &integration.Property{Name: e.Key, Required: e.Value.Required, Schema: ps})
	}
	if len(s.Properties) > 0 && s.Type != "object" {
		b.errorf(s.Pos, "%s: properties are only for objects", where)
	}
	if a := s.AdditionalProperties; a != nil {
		out.AdditionalProperties = a.Allowed
		if a.Schema != nil {
			out.AdditionalProperties = true
			out.AdditionalSchema = b.schema(a.Schema, where+".additional_properties")
		}
	}
	return out
}

// LuaError is a Lua syntax error at a line and column of the snippet.
type LuaError struct {
	Line, Col int
	Msg       string
}

func (e *LuaError) Error() string { return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Col, e.Msg) }

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
