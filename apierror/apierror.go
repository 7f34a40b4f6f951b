// Package apierror is the error an API call returns when the server answers
// with an error status: the status, CloudConvert's code, message and field
// errors, and the rate-limit headers. The Go client wrapper and the Lua
// runtime both use it, so an error reads the same everywhere.
package apierror

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Sentinels to match with errors.Is.
var (
	ErrUnauthorized     = errors.New("unauthorized: the API key is missing, wrong or revoked")
	ErrForbidden        = errors.New("forbidden: the API key lacks a scope this call needs")
	ErrNotFound         = errors.New("not found")
	ErrRateLimited      = errors.New("rate limited")
	ErrCreditsExceeded  = errors.New("out of credits (or too many jobs at once)")
	ErrValidation       = errors.New("the request was invalid")
	ErrServer           = errors.New("the server failed")
	ErrUnexpectedStatus = errors.New("unexpected status")
)

// Error is an error answer of the API.
type Error struct {
	Function   string              // the function called, e.g. "create_job" ("" outside the runtime)
	Status     int                 // HTTP status
	Code       string              // CloudConvert's code, e.g. "INVALID_DATA"
	Message    string              // CloudConvert's message, or a summary of a non-JSON body
	Errors     map[string][]string // field -> messages, for validation errors
	RetryAfter time.Duration       // from Retry-After, when given
	RateLimit  RateLimit
}

// RateLimit is what the X-Ratelimit-* headers said; -1 where absent.
type RateLimit struct {
	Limit, Remaining int
}

// FromResponse builds the error of a response whose status is not a
// success. body is the response body as read.
func FromResponse(resp *http.Response, body []byte) *Error {
	e := &Error{Status: resp.StatusCode, RateLimit: RateLimit{Limit: headerInt(resp.Header, "X-Ratelimit-Limit"), Remaining: headerInt(resp.Header, "X-Ratelimit-Remaining")}}
	e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
	var wire struct {
		Message string              `json:"message"`
		Code    string              `json:"code"`
		Errors  map[string][]string `json:"errors"`
	}
	if json.Unmarshal(body, &wire) == nil && (wire.Message != "" || wire.Code != "") {
		e.Message, e.Code, e.Errors = wire.Message, wire.Code, wire.Errors
	} else {
		e.Message = Summarize(resp.Header.Get("Content-Type"), body)
	}
	return e
}

// Error reads like: create_job: 422 INVALID_DATA: The given data was
// invalid. (tasks.convert.output_format: The output format is invalid.)
func (e *Error) Error() string {
	if e.Function != "" {
		return e.Function + ": " + e.Detail()
	}
	return e.Detail()
}

// Detail is the error without the function's name: status, code, message,
// field errors and Retry-After.
func (e *Error) Detail() string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(e.Status))
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if len(e.Errors) > 0 {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(e.Errors)) {
			parts = append(parts, k+": "+strings.Join(e.Errors[k], " "))
		}
		b.WriteString(" (" + strings.Join(parts, "; ") + ")")
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// Is matches the sentinels by status and code.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrForbidden:
		return e.Status == http.StatusForbidden
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrRateLimited:
		return e.Status == http.StatusTooManyRequests
	case ErrCreditsExceeded:
		return e.Status == http.StatusPaymentRequired || e.Code == "CREDITS_EXCEEDED"
	case ErrValidation:
		return e.Status == http.StatusUnprocessableEntity || e.Code == "INVALID_DATA" || (e.Status == http.StatusBadRequest && len(e.Errors) > 0)
	case ErrServer:
		return e.Status >= 500
	}
	return false
}

// Summarize turns a non-JSON body (an HTML error page of a proxy, say)
// into one short line, never the whole body.
func Summarize(contentType string, body []byte) string {
	text := string(body)
	if strings.Contains(contentType, "html") || strings.Contains(strings.ToLower(text), "<html") {
		if t := between(text, "<title>", "</title>"); t != "" {
			return "non-JSON error page: " + oneLine(t, 120)
		}
		return fmt.Sprintf("non-JSON error page (%d bytes of HTML)", len(body))
	}
	if len(strings.TrimSpace(text)) == 0 {
		return "empty response body"
	}
	if !utf8.Valid(body) {
		return fmt.Sprintf("non-JSON body (%d bytes of binary data)", len(body))
	}
	return "non-JSON body: " + oneLine(text, 120)
}

func between(s, open, close string) string {
	lower := strings.ToLower(s)
	i := strings.Index(lower, open)
	if i < 0 {
		return ""
	}
	j := strings.Index(lower[i+len(open):], close)
	if j < 0 {
		return ""
	}
	return strings.TrimSpace(s[i+len(open) : i+len(open)+j])
}

func oneLine(s string, limit int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > limit {
		r := []rune(s)
		s = string(r[:limit]) + "…"
	}
	return s
}

func headerInt(h http.Header, key string) int {
	v, err := strconv.Atoi(strings.TrimSpace(h.Get(key)))
	if err != nil {
		return -1
	}
	return v
}

// retryAfter parses Retry-After as seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
