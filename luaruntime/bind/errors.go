package bind

import (
	"errors"
	"strings"
	"time"

	"github.com/cctoolkit/cloudconvert/apierror"
)

// Kinds of Error.
const (
	KindArgument   = "invalid_argument" // the arguments broke the schema; nothing was sent
	KindPermission = "permission_denied"
	KindAccount    = "unknown_account"
	KindAPI        = "api_error"       // the server answered with an error status
	KindTransport  = "transport_error" // no answer (connection refused, timeout, ...)
	KindResponse   = "bad_response"    // a success status with a body that is not JSON
)

// Error is what a binding raises. Lua sees it as a value with the fields
// kind, function, param, status, code, message and errors.
type Error struct {
	Kind     string
	Function string // the Lua name, e.g. "create_job" (as apierror.Error.Function)
	FullName string // cloudconvert.create_job: used in the message
	Param    string // the parameter path, e.g. "tasks[2].input"
	Status   int    // HTTP status, 0 when no answer
	Code     string // the API's code, e.g. INVALID_DATA
	Message  string
	Errors   map[string][]string // field -> messages of a validation error
	// RetryAfter is the API's Retry-After, when given.
	RetryAfter time.Duration
	// API is the underlying API error, for kind api_error.
	API *apierror.Error
}

// Error reads like
//
//	cloudconvert.list_jobs: per_page: must be at most 100, got 500
//	cloudconvert.get_job: 404 NOT_FOUND: Job not found
func (e *Error) Error() string {
	var b strings.Builder
	name := e.FullName
	if name == "" {
		name = e.Function
	}
	if e.Kind == KindAPI {
		// The fields, not e.API: the runtime redacts the message.
		api := apierror.Error{Function: name, Status: e.Status, Code: e.Code, Message: e.Message, Errors: e.Errors, RetryAfter: e.RetryAfter}
		return api.Error()
	}
	if name != "" {
		b.WriteString(name + ": ")
	}
	if e.Param != "" {
		b.WriteString(e.Param + ": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// Unwrap gives the API error, so errors.Is(err, apierror.ErrNotFound) works.
func (e *Error) Unwrap() error {
	if e.API != nil {
		return e.API
	}
	return nil
}

// FromAPI wraps an API error answer.
func FromAPI(fn *Function, ae *apierror.Error) *Error {
	ae.Function = fn.Name
	return &Error{
		Kind: KindAPI, Function: fn.Name, FullName: fn.FullName,
		Status: ae.Status, Code: ae.Code, Message: ae.Message, Errors: ae.Errors,
		RetryAfter: ae.RetryAfter, API: ae,
	}
}

// AsError returns err as an *Error when it is one.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

func (f *Function) argErr(param, format string, args ...any) *Error {
	return &Error{Kind: KindArgument, Function: f.Name, FullName: f.FullName, Param: param, Message: sprintf(format, args...)}
}
