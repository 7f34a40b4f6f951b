package integration

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrorKind classifies an Error.
type ErrorKind string

// Kinds of errors.
const (
	KindArgument   ErrorKind = "invalid_argument"  // the arguments broke the schema; nothing was sent
	KindPermission ErrorKind = "permission_denied" // the policy refused the call; nothing was sent
	KindAccount    ErrorKind = "unknown_account"   // no such account, or none configured
	KindAPI        ErrorKind = "api_error"         // the server answered with an error status
	KindTransport  ErrorKind = "transport_error"   // no usable answer (connection refused, reset, timeout)
	KindResponse   ErrorKind = "bad_response"      // a success status whose body is not what was expected
	KindFailed     ErrorKind = "failed"            // what a transfer waited for ended in failure (a failed task): nothing to download
	KindLocal      ErrorKind = "local_error"       // a local file of the workspace could not be read or written
)

// Sentinels an *Error matches with errors.Is.
var (
	// ErrTransport: no usable answer came back (connection refused or
	// reset, DNS, TLS, a timeout).
	ErrTransport = errors.New("transport failure")
	// ErrBadResponse: a success status whose body was not what the
	// function answers.
	ErrBadResponse = errors.New("malformed response")
	// ErrOutcomeUnknown: a write failed after it may have reached the
	// server; it was not sent again. Check (list with a tag, say) before
	// repeating it.
	ErrOutcomeUnknown = errors.New("the request may have reached the server; not sent again")
)

// Error is the error of a call, whatever the surface: Lua raises it as a
// table of these fields, MCP returns them as structured content, the CLI
// prints them.
type Error struct {
	Kind     ErrorKind
	Function string // the Lua name, e.g. "create_job"
	FullName string // cloudconvert.create_job: used in the message
	Param    string // the parameter path, e.g. "tasks[2].input"
	Status   int    // HTTP status, 0 when no answer
	Code     string // the API's code, e.g. INVALID_DATA
	Message  string
	Errors   map[string][]string // field -> messages of a validation error
	// RetryAfter is the server's Retry-After, when given.
	RetryAfter time.Duration
	// RequestID is the server's request ID header, when given.
	RequestID string
	// OutcomeUnknown is set on a write that failed after the request may
	// have reached the server: it was not sent again, and it may or may
	// not have taken effect.
	OutcomeUnknown bool
	// Attempts is how many times the request was sent (0 or 1: once).
	Attempts int
	// Where is the caller's position in its script ("job.lua:3:"), set by
	// the Lua runtime.
	Where string
	// Err is the cause: an *apierror.Error for API answers, a transport
	// error otherwise.
	Err error
}

// Error reads like
//
//	cloudconvert.list_jobs: per_page: must be at most 100, got 500
//	cloudconvert.get_job: 404 NOT_FOUND: Job not found
func (e *Error) Error() string {
	var b strings.Builder
	if e.Where != "" {
		b.WriteString(e.Where + " ")
	}
	name := e.FullName
	if name == "" {
		name = e.Function
	}
	if name != "" {
		b.WriteString(name + ": ")
	}
	if e.Param != "" {
		b.WriteString(e.Param + ": ")
	}
	if e.Kind == KindAPI {
		b.WriteString(strconv.Itoa(e.Status))
		if e.Code != "" {
			b.WriteString(" " + e.Code)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	if e.Kind == KindAPI && len(e.Errors) > 0 {
		b.WriteString(" (" + FieldErrors(e.Errors) + ")")
	}
	if e.RetryAfter > 0 && e.Kind == KindAPI {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter.Round(time.Second))
	}
	if e.OutcomeUnknown {
		b.WriteString(" (the outcome is unknown: the request may have reached the server, so it was not sent again; check before repeating it)")
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	return b.String()
}

// Unwrap gives the cause, so errors.Is(err, apierror.ErrNotFound) works.
func (e *Error) Unwrap() error { return e.Err }

// Is matches ErrTransport, ErrBadResponse and ErrOutcomeUnknown.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrTransport:
		return e.Kind == KindTransport
	case ErrBadResponse:
		return e.Kind == KindResponse
	case ErrOutcomeUnknown:
		return e.OutcomeUnknown
	}
	return false
}

// Fields are the error's fields by their documented names, leaving out the
// empty ones: kind, function, param, status, code, message, errors,
// retry_after (seconds), request_id, outcome_unknown, attempts.
func (e *Error) Fields() map[string]any {
	m := map[string]any{"kind": string(e.Kind), "message": e.Message}
	if e.Function != "" {
		m["function"] = e.Function
	}
	if e.Param != "" {
		m["param"] = e.Param
	}
	if e.Status != 0 {
		m["status"] = e.Status
	}
	if e.Code != "" {
		m["code"] = e.Code
	}
	if len(e.Errors) > 0 {
		errs := make(map[string]any, len(e.Errors))
		for k, v := range e.Errors {
			list := make([]any, len(v))
			for i, s := range v {
				list[i] = s
			}
			errs[k] = list
		}
		m["errors"] = errs
	}
	if e.RetryAfter > 0 {
		m["retry_after"] = e.RetryAfter.Seconds()
	}
	if e.RequestID != "" {
		m["request_id"] = e.RequestID
	}
	if e.OutcomeUnknown {
		m["outcome_unknown"] = true
	}
	if e.Attempts > 1 {
		m["attempts"] = e.Attempts
	}
	return m
}

// FieldErrors formats a validation error's fields: "a: x; b: y, z".
func FieldErrors(errs map[string][]string) string {
	keys := make([]string, 0, len(errs))
	for k := range errs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+strings.Join(errs[k], ", "))
	}
	return strings.Join(parts, "; ")
}

// AsError returns err as an *Error when it is one.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

func (f *Function) argErr(param, format string, args ...any) *Error {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return &Error{Kind: KindArgument, Function: f.Name, FullName: f.FullName, Param: param, Message: msg}
}

// ArgError is an argument error of f (for the surfaces' own checks, such as
// a Lua call given two arguments).
func (f *Function) ArgError(param, msg string) *Error { return f.argErr(param, "%s", msg) }

// FieldDoc documents one field of a caught error.
type FieldDoc struct {
	Name, Type, Doc string
}

// ErrorFieldDocs documents the fields of Fields, plus where (set by the Lua
// runtime), in the order the errors docs page lists them. A field is
// present only when it has a value.
func ErrorFieldDocs() []FieldDoc {
	return []FieldDoc{
		{"kind", "string", "What failed; one of the kinds below. Always present."},
		{"message", "string", "What went wrong, for people. Always present."},
		{"function", "string", "The function called, e.g. `get_job`."},
		{"param", "string", "For invalid_argument: the argument at fault, as a path (`tasks[2].input`)."},
		{"status", "number", "The HTTP status of the API's answer (api_error, bad_response)."},
		{"code", "string", "The API's error code, e.g. `NOT_FOUND`, `INVALID_DATA` (see below)."},
		{"errors", "table", "The API's validation messages by field: `{[\"tasks.0.operation\"] = {\"...\"}}`."},
		{"retry_after", "number", "Seconds the API asks to wait before trying again (a 429's Retry-After)."},
		{"request_id", "string", "The API's request ID header, to quote when asking its support."},
		{"outcome_unknown", "boolean", "A write failed after the request may have reached the API: it was not sent again, and may or may not have happened. Check (list with a tag, say) before repeating it."},
		{"attempts", "number", "How many times the request was sent, when more than once: reads that failed for a passing reason (a reset connection, 429, 502, 503, 504) are retried by themselves."},
		{"where", "string", "The script line that made the call, e.g. `job.lua:3:`."},
	}
}

// KindDoc documents an ErrorKind.
type KindDoc struct {
	Kind        ErrorKind
	Doc, Action string
}

// ErrorKindDocs documents every ErrorKind.
func ErrorKindDocs() []KindDoc {
	return []KindDoc{
		{KindArgument, "The arguments do not fit the function's parameters. Nothing was sent.", "Fix the argument named by `param`; the function's docs page lists the parameters."},
		{KindPermission, "The policy refused the call (writes not allowed, or the user said no when asked). Nothing was sent.", "Do not retry; the message says how the user can allow it."},
		{KindAccount, "The account named is not configured, or none is. Nothing was sent.", "Use one of the accounts the message lists."},
		{KindAPI, "The API answered with an error status; `status`, `code`, `message` and `errors` are its answer.", "Act on `code` (below); 429 and 5xx pass, the rest need a change."},
		{KindTransport, "No usable answer came back: the connection failed, was reset, or timed out.", "Retry later; a write with `outcome_unknown` may have happened: check first."},
		{KindResponse, "The API answered with success, but not with what the function returns.", "Report it; the call may have taken effect."},
	}
}
