package localserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/google/uuid"

	cloudconvert "github.com/cctoolkit/cloudconvert/generated/cloudconvert"
)

// apiError is an error answer: {"message", "code", "errors"}.
type apiError struct {
	Status  int                 `json:"-"`
	Message string              `json:"message"`
	Code    string              `json:"code"`
	Errors  map[string][]string `json:"errors,omitempty"`
}

func (e *apiError) Error() string { return e.Message }

func errNotFound(what string) *apiError {
	return &apiError{Status: http.StatusNotFound, Code: "NOT_FOUND", Message: what + " not found"}
}

func errInvalid(msg string, fields map[string][]string) *apiError {
	return &apiError{Status: http.StatusUnprocessableEntity, Code: "INVALID_DATA", Message: msg, Errors: fields}
}

// routes builds the handler tree.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	api := func(pattern string, validate bool, h func(w http.ResponseWriter, r *http.Request, c *call)) {
		mux.Handle(pattern, s.apiHandler(validate, h))
	}
	for _, prefix := range []string{"/v2", "/sync/v2"} {
		sync := prefix == "/sync/v2"
		api("GET "+prefix+"/jobs/{id}", true, func(w http.ResponseWriter, r *http.Request, c *call) { s.getJob(w, r, c, sync) })
		api("GET "+prefix+"/tasks/{id}", true, func(w http.ResponseWriter, r *http.Request, c *call) { s.getTask(w, r, c, sync) })
		api("GET "+prefix+"/users/me", true, s.getUser)
		api("GET "+prefix+"/jobs", true, s.listJobs)
		api("GET "+prefix+"/tasks", true, s.listTasks)
		api("POST "+prefix+"/jobs", true, s.createJob)
		api("DELETE "+prefix+"/jobs/{id}", false, s.deleteJob)
		api("DELETE "+prefix+"/tasks/{id}", false, s.deleteTask)
		api("POST "+prefix+"/tasks/{id}/cancel", false, s.cancelTask)
		api("POST "+prefix+"/tasks/{id}/retry", false, s.retryTask)
		api("POST "+prefix+"/{operation...}", true, s.createTask)
		api(prefix+"/", false, func(w http.ResponseWriter, r *http.Request, c *call) {
			c.fail(w, &apiError{Status: http.StatusNotFound, Code: "NOT_FOUND", Message: fmt.Sprintf("%s %s is not an endpoint of this API", r.Method, r.URL.Path)})
		})
	}
	api("POST /v2/webhooks", true, s.createWebhook)
	api("GET /v2/users/me/webhooks", true, s.listWebhooks)
	api("DELETE /v2/webhooks/{id}", true, s.deleteWebhook)
	mux.Handle(SocketIOPath, s.rt.handler)
	// Public discovery data: no API key needed.
	mux.Handle("GET /v2/operations", s.plain(s.listOperations))
	mux.Handle("GET "+StatusPath, s.plain(s.localStatus))
	mux.Handle("POST /uploads/{task}", s.plain(s.upload))
	mux.Handle("GET /files/{file}/{name}", s.plain(s.download))
	mux.Handle("HEAD /files/{file}/{name}", s.plain(s.download))
	mux.Handle("/", s.plain(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, &apiError{Code: "NOT_FOUND", Message: "not found; the API is under /v2 and /sync/v2"}, false)
	}))
	return s.checkHost(mux)
}

// checkHost refuses, on a loopback-only server, requests whose Host is not
// a loopback name or the base URL's host: a web page that rebinds its own
// name to 127.0.0.1 must not reach the API (and the embedded server behind
// `mcp --write=deny`) from the user's browser.
func (s *Server) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.loopbackOnly.Load() && !s.hostAllowed(r.Host) {
			writeJSON(w, http.StatusForbidden, &apiError{Code: "FORBIDDEN", Message: fmt.Sprintf(
				"The Host %q is not a name of this server: it listens on loopback only and answers requests for %s or another loopback name (this protects it from DNS rebinding)",
				short(r.Host), s.base.Host)}, false)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) hostAllowed(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	return strings.EqualFold(strings.Trim(host, "[]"), s.base.Hostname()) || isLoopbackHost(host)
}

// call is the per-request context of an API handler.
type call struct {
	user *UserConfig
	body []byte
	// spills are the file contents spooled out of the body, by task name
	// ("" for a standalone task); token stands for them in body.
	spills  map[string]*spill
	token   string
	adopted map[string]bool // spills that became tasks' content
	escape  bool            // main host: escape "/" in JSON like the real API
	isSync  bool
	route   *routers.Route
	started time.Time
}

func (c *call) fail(w http.ResponseWriter, e *apiError) {
	if e.Status == 0 {
		e.Status = http.StatusInternalServerError
	}
	writeJSON(w, e.Status, e, c.escape)
}

func (c *call) ok(w http.ResponseWriter, status int, v any) { writeJSON(w, status, v, c.escape) }

// encodeFailure answers a value that could not be encoded.
var encodeFailure = []byte(`{"message":"the response could not be encoded","code":"INTERNAL_ERROR"}`)

func writeJSON(w http.ResponseWriter, status int, v any, escape bool) {
	b, err := encodeJSON(v, escape)
	if err != nil {
		status, b = http.StatusInternalServerError, encodeFailure
	}
	writeBody(w, status, b)
}

// encodeJSON is v as the API writes it: no HTML escaping, no trailing
// newline, and on the main host "/" escaped as "\/" like the real API.
func encodeJSON(v any, escape bool) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if escape {
		b = bytes.ReplaceAll(b, []byte("/"), []byte(`\/`))
	}
	return b, nil
}

// writeBody writes an encoded JSON answer with the API's headers.
func writeBody(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-cache, private")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// recoverer answers 500 in the API's error shape instead of crashing.
func (s *Server) recoverer(w http.ResponseWriter, r *http.Request) {
	if p := recover(); p != nil {
		if p == http.ErrAbortHandler {
			panic(p)
		}
		s.log.Error("localserver: handler panic", "method", r.Method, "path", r.URL.Path, "panic", p)
		writeJSON(w, http.StatusInternalServerError, &apiError{Code: "INTERNAL_ERROR", Message: "Internal server error"}, false)
	}
}

func (s *Server) plain(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer s.recoverer(w, r)
		h(w, r)
	})
}

// maxBody bounds a body that may carry file contents (import/base64 of a
// file of MaxFileSize); they are spooled to disk as they arrive.
func (s *Server) maxBody() int64 { return s.cfg.MaxFileSize*4/3 + 2*maxJSONBody }

// spilled reports whether the task named name (in def) takes its content
// from the spool.
func (c *call) spilled(name string, def map[string]any) bool {
	return c.spills[name] != nil && def["file"] == c.token
}

// adopt keeps a spill as a task's content.
func (c *call) adopt(name string) {
	if sp := c.spills[name]; sp != nil {
		if c.adopted == nil {
			c.adopted = map[string]bool{}
		}
		c.adopted[sp.taskID] = true
	}
}

// spillRoute names the routes whose bodies may carry file contents.
func spillRoute(r *http.Request) string {
	if r.Method != http.MethodPost {
		return ""
	}
	switch strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/sync"), "/v2") {
	case "/jobs":
		return "jobs"
	case "/import/base64", "/import/raw":
		return "inline"
	}
	return ""
}

func (s *Server) apiHandler(validate bool, h func(http.ResponseWriter, *http.Request, *call)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer s.recoverer(w, r)
		c := &call{isSync: strings.HasPrefix(r.URL.Path, "/sync/"), started: time.Now()}
		c.escape = !c.isSync
		key, ok := bearer(r.Header.Get("Authorization"))
		if ok {
			c.user = s.keys[key]
		}
		if c.user == nil {
			c.fail(w, &apiError{Status: http.StatusUnauthorized, Code: "UNAUTHENTICATED", Message: "Unauthenticated."})
			return
		}
		limit, remaining, allowed := s.rate.take(key, s.cfg.RateLimit, time.Now())
		w.Header().Set("X-Ratelimit-Limit", strconv.Itoa(limit))
		w.Header().Set("X-Ratelimit-Remaining", strconv.Itoa(remaining))
		if !allowed && s.cfg.EnforceRateLimit {
			w.Header().Set("Retry-After", "60")
			c.fail(w, &apiError{Status: http.StatusTooManyRequests, Code: "TOO_MANY_REQUESTS", Message: "Too Many Attempts."})
			return
		}
		if r.Body != nil && r.Method != http.MethodGet && r.Method != http.MethodHead {
			route := spillRoute(r)
			limit := int64(maxJSONBody)
			if route != "" {
				limit = s.maxBody()
			}
			c.token = "spooled-content-" + strings.ReplaceAll(uuid.NewString(), "-", "")
			b, spills, err := s.readJSONBody(http.MaxBytesReader(w, r.Body, limit), spillPaths(route), c.token)
			if e := bodyError(err); e != nil {
				c.fail(w, e)
				return
			}
			if b == nil {
				b = []byte{}
			}
			if r.Method == http.MethodPost && len(bytes.TrimSpace(b)) == 0 {
				// No body is an empty object, as for the real API (the
				// Node SDK sends none for tasks.create('import/upload')).
				b = []byte("{}")
			}
			c.body, c.spills = b, spills
			defer func() {
				for _, sp := range c.spills {
					if !c.adopted[sp.taskID] {
						s.removeSpool(sp.taskID)
					}
				}
			}()
			if len(bytes.TrimSpace(b)) > 0 && !json.Valid(b) {
				c.fail(w, &apiError{Status: http.StatusBadRequest, Code: "INVALID_DATA", Message: "The request body is not valid JSON"})
				return
			}
		}
		if validate {
			route, e := s.api.check(r, c.body)
			if e != nil {
				c.fail(w, e)
				return
			}
			c.route = route
		}
		h(w, r, c)
	})
}

// bodyError answers a body that could not be read.
func bodyError(err error) *apiError {
	var mbe *http.MaxBytesError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &mbe):
		return &apiError{Status: http.StatusRequestEntityTooLarge, Code: "INVALID_DATA",
			Message: fmt.Sprintf("The request body is larger than %d bytes; upload big files with import/upload", mbe.Limit)}
	case errors.Is(err, errBodyTooLarge):
		return &apiError{Status: http.StatusRequestEntityTooLarge, Code: "INVALID_DATA",
			Message: fmt.Sprintf("The request body is larger than %d bytes apart from the file contents of import/base64 and import/raw tasks", maxJSONBody)}
	case errors.Is(err, errBodyTooDeep):
		return &apiError{Status: http.StatusBadRequest, Code: "INVALID_DATA", Message: fmt.Sprintf("The request body is nested more than %d levels deep", maxJSONDepth)}
	case errors.Is(err, errBodySyntax):
		return &apiError{Status: http.StatusBadRequest, Code: "INVALID_DATA", Message: "The request body is not valid JSON"}
	case errors.Is(err, errSpool):
		return &apiError{Status: http.StatusInternalServerError, Code: "INTERNAL_ERROR", Message: "The file contents of the request could not be stored"}
	}
	return &apiError{Status: http.StatusBadRequest, Code: "INVALID_DATA", Message: "The request body could not be read"}
}

func bearer(h string) (string, bool) {
	const p = "bearer "
	if len(h) <= len(p) || !strings.EqualFold(h[:len(p)], p) {
		return "", false
	}
	return strings.TrimSpace(h[len(p):]), true
}

// rateLimiter counts requests per key in fixed one-minute windows.
type rateLimiter struct {
	mu sync.Mutex
	m  map[string]*rateWindow
}

type rateWindow struct {
	start time.Time
	n     int
}

func (l *rateLimiter) take(key string, limit int, now time.Time) (int, int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]*rateWindow{}
	}
	w := l.m[key]
	if w == nil || now.Sub(w.start) >= time.Minute {
		w = &rateWindow{start: now}
		l.m[key] = w
	}
	w.n++
	return limit, max(0, limit-w.n), w.n <= limit
}

// validator checks requests against the generated OpenAPI document.
type validator struct {
	router routers.Router
	doc    *openapi3.T
	base   *url.URL
	// routes caches, by method and ServeMux pattern, the document's route
	// of the requests that pattern matches, when the pattern can only
	// ever match that one route (see cacheable). Bounded by the patterns
	// the server registers.
	mu     sync.RWMutex
	routes map[string]*knownRoute
}

// knownRoute is a cached route and how to read its path parameters from
// the ServeMux's wildcards (params[i] is the value of wildcards[i]).
type knownRoute struct {
	route     *routers.Route
	params    []string
	wildcards []string
}

func newValidator(base string) (*validator, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(cloudconvert.OpenAPI())
	if err != nil {
		return nil, fmt.Errorf("localserver: load OpenAPI document: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("localserver: OpenAPI document: %w", err)
	}
	// The document names the real hosts: route on our own address.
	doc.Servers = openapi3.Servers{{URL: base + "/v2"}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("localserver: OpenAPI router: %w", err)
	}
	u, _ := url.Parse(base)
	return &validator{router: router, doc: doc, base: u, routes: map[string]*knownRoute{}}, nil
}

// Document loads the generated OpenAPI document with its servers replaced
// by base+"/v2", for tests and tools that validate responses.
func Document(base string) (*openapi3.T, routers.Router, error) {
	doc, err := openapi3.NewLoader().LoadFromData(cloudconvert.OpenAPI())
	if err != nil {
		return nil, nil, err
	}
	doc.Servers = openapi3.Servers{{URL: strings.TrimRight(base, "/") + "/v2"}}
	router, err := gorillamux.NewRouter(doc)
	return doc, router, err
}

// FindRoute maps a request (sync paths included) onto the document.
func (v *validator) findRoute(r *http.Request) (*routers.Route, map[string]string, error) {
	u := *r.URL
	u.Scheme, u.Host = v.base.Scheme, v.base.Host
	u.Path = v.base.Path + strings.TrimPrefix(r.URL.Path, "/sync")
	u.RawPath = ""
	rr := r.Clone(context.Background())
	rr.URL = &u
	rr.Host = v.base.Host
	return v.router.FindRoute(rr)
}

// lookup is findRoute through the cache: the router matches every route
// of the document on each call, most of a GET's validation cost.
func (v *validator) lookup(r *http.Request) (*routers.Route, map[string]string, error) {
	key := r.Method + " " + r.Pattern
	if k := v.known(key); k != nil {
		params := make(map[string]string, len(k.params))
		for i, name := range k.params {
			params[name] = r.PathValue(k.wildcards[i])
		}
		return k.route, params, nil
	}
	route, params, err := v.findRoute(r)
	if err == nil {
		if k := v.cacheable(r.Pattern, route); k != nil {
			v.remember(key, k)
		}
	}
	return route, params, err
}

func (v *validator) known(key string) *knownRoute {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.routes[key]
}

func (v *validator) remember(key string, k *knownRoute) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.routes[key] = k
}

// cacheable says how to reuse route for every request of the ServeMux
// pattern, or nil when it cannot be: the pattern's path (without /sync and
// /v2) must be route's path segment by segment, wildcard for parameter
// (no "{name...}"), and no other path of the document with the method may
// match a request the pattern matches (a literal where the pattern has a
// wildcard, as /jobs/export beside /jobs/{id}, would).
func (v *validator) cacheable(pattern string, route *routers.Route) *knownRoute {
	_, path, ok := strings.Cut(pattern, " ")
	if !ok || route == nil || strings.Contains(path, "...") || strings.ContainsAny(path, "$") {
		return nil
	}
	path = strings.TrimPrefix(strings.TrimPrefix(path, "/sync"), "/v2")
	mine, theirs := strings.Split(path, "/"), strings.Split(route.Path, "/")
	if len(mine) != len(theirs) {
		return nil
	}
	k := &knownRoute{route: route}
	for i := range mine {
		mw, tw := wildcard(mine[i]), wildcard(theirs[i])
		switch {
		case mw == "" && tw == "" && mine[i] == theirs[i]:
		case mw != "" && tw != "":
			k.wildcards, k.params = append(k.wildcards, mw), append(k.params, tw)
		default:
			return nil
		}
	}
	for other, item := range v.doc.Paths.Map() {
		if other == route.Path || item.GetOperation(route.Method) == nil {
			continue
		}
		segs := strings.Split(other, "/")
		if len(segs) != len(theirs) {
			continue
		}
		overlaps := true
		for i := range segs {
			if segs[i] != theirs[i] && wildcard(segs[i]) == "" && wildcard(theirs[i]) == "" {
				overlaps = false
				break
			}
		}
		if overlaps {
			return nil
		}
	}
	return k
}

// wildcard is the name in a "{name}" path segment, or "".
func wildcard(seg string) string {
	if len(seg) > 2 && seg[0] == '{' && seg[len(seg)-1] == '}' {
		return seg[1 : len(seg)-1]
	}
	return ""
}

func (v *validator) check(r *http.Request, body []byte) (*routers.Route, *apiError) {
	route, params, err := v.lookup(r)
	if err != nil {
		if strings.HasPrefix(r.URL.Path, "/v2/") || strings.HasPrefix(r.URL.Path, "/sync/v2/") {
			op := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/sync"), "/v2/")
			if r.Method == http.MethodPost {
				return nil, &apiError{Status: http.StatusNotFound, Code: "NOT_FOUND",
					Message: fmt.Sprintf("There is no operation %q; operations: %s", op, strings.Join(knownOperations(), ", "))}
			}
		}
		return nil, &apiError{Status: http.StatusNotFound, Code: "NOT_FOUND", Message: "not found"}
	}
	// A shallow copy with its own URL: the validator reads the request,
	// and the header is cloned below before it is changed.
	rr := r.WithContext(r.Context())
	u := *r.URL
	u.Scheme, u.Host = v.base.Scheme, v.base.Host
	rr.URL, rr.Host = &u, v.base.Host
	if body != nil {
		rr.Body = io.NopCloser(bytes.NewReader(body))
		rr.ContentLength = int64(len(body))
		if rr.Header.Get("Content-Type") == "" {
			rr.Header = rr.Header.Clone()
			rr.Header.Set("Content-Type", "application/json")
		}
	}
	in := &openapi3filter.RequestValidationInput{Request: rr, PathParams: params, Route: route,
		Options: &openapi3filter.Options{MultiError: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, SkipSettingDefaults: true}}
	if err := openapi3filter.ValidateRequest(r.Context(), in); err != nil {
		fields := map[string][]string{}
		collectFieldErrors(err, fields)
		if len(fields) == 0 {
			fields["request"] = []string{err.Error()}
		}
		return nil, errInvalid("The given data was invalid.", fields)
	}
	return route, nil
}

// collectFieldErrors flattens kin-openapi's errors into field -> messages.
// Each level is matched by its own type, not errors.As: a parameter's
// RequestError wraps a MultiError of schema errors, and unwrapping to those
// first would lose the parameter's name (reporting it under "body").
func collectFieldErrors(err error, out map[string][]string) {
	collectField(err, "", out)
}

func collectField(err error, param string, out map[string][]string) {
	add := func(field, msg string) {
		if field == "" {
			field = param
		}
		if field == "" {
			field = "body"
		}
		for _, m := range out[field] {
			if m == msg {
				return
			}
		}
		out[field] = append(out[field], msg)
	}
	switch e := err.(type) {
	case openapi3.MultiError:
		for _, x := range e {
			collectField(x, param, out)
		}
	case *openapi3filter.RequestError:
		if e.Parameter != nil {
			param = e.Parameter.Name
		}
		if e.Err == nil {
			add("", e.Reason)
			return
		}
		if e.Parameter != nil {
			if _, ok := e.Err.(openapi3.MultiError); !ok {
				if _, ok := e.Err.(*openapi3.SchemaError); !ok {
					msg := e.Reason
					if msg == "" {
						msg = e.Err.Error()
					}
					add("", msg)
					return
				}
			}
		}
		collectField(e.Err, param, out)
	case *openapi3.SchemaError:
		field := strings.Join(e.JSONPointer(), ".")
		if param != "" && field != "" {
			field = param + "." + field
		}
		add(field, e.Reason)
	default:
		var se *openapi3.SchemaError
		var re *openapi3filter.RequestError
		var me openapi3.MultiError
		switch {
		case errors.As(err, &re):
			collectField(re, param, out)
		case errors.As(err, &me):
			collectField(me, param, out)
		case errors.As(err, &se):
			collectField(se, param, out)
		default:
			add("", err.Error())
		}
	}
}

// knownOperations lists the task operations of the spec (the descriptor's
// operations table), sorted.
func knownOperations() []string {
	ops := cloudconvert.Descriptor().OperationNames()
	sort.Strings(ops)
	return ops
}
