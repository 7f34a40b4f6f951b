// Package transport is the one HTTP transport under every surface (the Go
// client, the Lua bindings, the CLI's call and the MCP tools): an
// http.RoundTripper that retries what is safe to retry, honours Retry-After
// and the X-RateLimit-* headers, bounds each attempt and the whole call,
// sends a User-Agent and keeps API keys out of every error and log line.
//
// What may be retried is the request's Class (WithClass): RetrySafe calls
// (reads) are sent again after a connection failure, a reset, a truncated
// body, 429 or 502/503/504; RetryUnsent calls (writes) only when the request
// provably never reached the server (the connection could not be made).
// Without a Class, GET, HEAD and OPTIONS are RetrySafe and every other
// method RetryUnsent.
//
//	hc := transport.New(transport.Options{UserAgent: "me/1.0"}).Client()
package transport

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/cctoolkit/cloudconvert/integration"
)

// Policy bounds retries and waits. Zero fields take the defaults.
type Policy struct {
	// MaxAttempts counts every attempt, the first included; 1 disables
	// retries. Default 4.
	MaxAttempts int
	// MaxElapsed bounds a call, retries and waits included. Default 2m.
	MaxElapsed time.Duration
	// AttemptTimeout bounds one attempt of a normal call, its body
	// included; not applied to Long calls. Default 30s; negative: none.
	AttemptTimeout time.Duration
	// InitialInterval and MaxInterval shape the jittered exponential
	// backoff. Defaults 500ms and 15s.
	InitialInterval, MaxInterval time.Duration
	// MaxRetryAfter is the longest Retry-After (or rate-limit reset) that
	// is waited for; a longer one returns the answer at once. Default 1m.
	MaxRetryAfter time.Duration
	// MaxBuffered is how much of a success body is read before the call
	// returns, so that a truncated body can be retried; a longer body (by
	// Content-Length) is streamed instead. Default 64 MiB.
	MaxBuffered int64
}

// DefaultPolicy is the policy of New.
func DefaultPolicy() Policy {
	return Policy{
		MaxAttempts:     4,
		MaxElapsed:      2 * time.Minute,
		AttemptTimeout:  30 * time.Second,
		InitialInterval: 500 * time.Millisecond,
		MaxInterval:     15 * time.Second,
		MaxRetryAfter:   time.Minute,
		MaxBuffered:     64 << 20,
	}
}

func (p Policy) normalized() Policy {
	d := DefaultPolicy()
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.MaxElapsed <= 0 {
		p.MaxElapsed = d.MaxElapsed
	}
	if p.AttemptTimeout == 0 {
		p.AttemptTimeout = d.AttemptTimeout
	}
	if p.InitialInterval <= 0 {
		p.InitialInterval = d.InitialInterval
	}
	if p.MaxInterval < p.InitialInterval {
		p.MaxInterval = max(d.MaxInterval, p.InitialInterval)
	}
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = d.MaxRetryAfter
	}
	if p.MaxBuffered <= 0 {
		p.MaxBuffered = d.MaxBuffered
	}
	return p
}

// Options configure a Transport.
type Options struct {
	// Base sends each attempt; a clone of http.DefaultTransport when nil.
	Base   http.RoundTripper
	Policy Policy
	// UserAgent is set on requests that have none.
	UserAgent string
	// Secrets are strings (API keys) that never appear in an error or a
	// log line; they are replaced by [redacted].
	Secrets []string
	// Logger gets retries (warn) and recoveries (info); none when nil.
	Logger *slog.Logger
}

// Transport is the retrying RoundTripper. It is safe for concurrent use.
type Transport struct {
	base    http.RoundTripper
	policy  Policy
	ua      string
	secrets []string
	log     *slog.Logger

	// notBefore holds back requests after an answer said the rate limit
	// is used up (X-RateLimit-Remaining: 0 with a reset time).
	mu        sync.Mutex
	notBefore time.Time
}

// New makes a Transport.
func New(o Options) *Transport {
	t := &Transport{base: o.Base, policy: o.Policy.normalized(), ua: o.UserAgent, log: o.Logger}
	if t.base == nil {
		t.base = http.DefaultTransport.(*http.Transport).Clone()
	}
	for _, s := range o.Secrets {
		if len(s) >= 4 {
			t.secrets = append(t.secrets, s)
		}
	}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	return t
}

// Client is an *http.Client over the transport, without a client timeout
// (the policy bounds each attempt and the whole call).
func (t *Transport) Client() *http.Client { return &http.Client{Transport: t} }

// Policy returns the policy in use.
func (t *Transport) Policy() Policy { return t.policy }

// Redact replaces the transport's secrets in s.
func (t *Transport) Redact(s string) string { return redact(s, t.secrets) }

func redact(s string, secrets []string) string {
	for _, k := range secrets {
		if strings.Contains(s, k) {
			s = strings.ReplaceAll(s, k, "[redacted]")
		}
	}
	return s
}

// Class says how one request may be retried and how long it may take.
type Class struct {
	Retry integration.Retry
	// Long calls (a sync wait, a file transfer) get no per-attempt timeout
	// and their body is streamed, not buffered.
	Long bool
	// Function names the call in errors and logs ("create_job").
	Function string
	// Stats, when set, is filled with what happened.
	Stats *Stats
}

// Stats are what the transport did for one call.
type Stats struct {
	Attempts int
	// Reached is set when the final attempt may have reached the server.
	Reached bool
}

type classKey struct{}

// WithClass attaches a Class to the requests made with ctx.
func WithClass(ctx context.Context, c Class) context.Context {
	return context.WithValue(ctx, classKey{}, c)
}

func classOf(req *http.Request) Class {
	if c, ok := req.Context().Value(classKey{}).(Class); ok && c.Retry != 0 {
		return c
	}
	c, _ := req.Context().Value(classKey{}).(Class)
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		c.Retry = integration.RetrySafe
	default:
		c.Retry = integration.RetryUnsent
	}
	return c
}

// Error is a call that got no usable answer: the connection failed, was
// reset, timed out, or a success body was cut short. It wraps the cause.
type Error struct {
	Method   string
	URL      string // without query, secrets redacted
	Function string
	What     string // "no response", "could not connect", ...
	Err      error
	Attempts int
	Elapsed  time.Duration
	// Reached is set when the request may have reached the server: a write
	// that failed so has an unknown outcome and was not sent again.
	Reached bool
	secrets []string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Function != "" {
		b.WriteString(e.Function + ": ")
	}
	b.WriteString(e.Method + " " + e.URL + ": " + e.What)
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (gave up after %d attempts in %s)", e.Attempts, e.Elapsed.Round(time.Millisecond))
	}
	return redact(b.String(), e.secrets)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrTruncated is the cause of a success answer whose body was cut short.
var ErrTruncated = errors.New("the response body was cut short")

// RoundTrip sends req under the policy.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	class := classOf(req)
	p := t.policy
	start := time.Now()
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	if t.ua != "" && req.Header.Get("User-Agent") == "" {
		req = req.Clone(ctx)
		req.Header.Set("User-Agent", t.ua)
	}
	var bo *backoff.ExponentialBackOff
	for n := 1; ; n++ {
		if what, err := t.holdForRateLimit(ctx); err != nil {
			return nil, t.fail(req, class, n-1, start, what, err, false)
		}
		resp, reached, timedOut, err := t.attempt(req, class, n)
		if class.Stats != nil {
			class.Stats.Attempts, class.Stats.Reached = n, reached
		}
		lastTry := n >= p.MaxAttempts || !replayable
		var delay time.Duration
		what := "no response"
		switch {
		case err == nil && !retryStatus(resp.StatusCode):
			if n > 1 {
				t.log.LogAttrs(ctx, slog.LevelInfo, "transport: recovered", slog.String("function", class.Function), slog.Int("attempts", n))
			}
			t.noteRateLimit(resp.Header)
			return resp, nil
		case err == nil:
			// 429, 502, 503, 504: the answer says to try again.
			if lastTry || class.Retry != integration.RetrySafe {
				return resp, nil
			}
			d, ok := waitFor(resp, p.MaxRetryAfter)
			if !ok {
				return resp, nil // a longer wait than we are willing to make
			}
			delay = d
		case ctx.Err() != nil:
			return nil, t.fail(req, class, n, start, "gave up", context.Cause(ctx), reached)
		default:
			switch {
			case errors.Is(err, ErrTruncated):
				what = "incomplete answer"
			case timedOut:
				what = "no response within " + p.AttemptTimeout.String()
			case !reached && neverSent(err):
				what = "could not connect"
			case !reached:
				what = "connection lost before the request was sent"
			}
			retry := class.Retry == integration.RetrySafe || !reached
			if lastTry || !retry {
				return nil, t.fail(req, class, n, start, what, err, reached)
			}
		}
		if delay <= 0 {
			if bo == nil {
				bo = &backoff.ExponentialBackOff{InitialInterval: p.InitialInterval, RandomizationFactor: 0.5, Multiplier: 2, MaxInterval: p.MaxInterval}
				bo.Reset()
			}
			delay = bo.NextBackOff()
		}
		if time.Since(start)+delay > p.MaxElapsed || outlives(ctx, delay) {
			// Waiting would outlive the budget: give the last answer (or
			// the real reason) now, not "context deadline exceeded" later.
			if err == nil {
				return resp, nil
			}
			return nil, t.fail(req, class, n, start, what, err, reached)
		}
		if resp != nil {
			drain(resp)
		}
		t.log.LogAttrs(ctx, slog.LevelWarn, "transport: retrying",
			slog.String("function", class.Function), slog.String("method", req.Method), slog.String("url", t.Redact(urlOf(req))),
			slog.Int("attempt", n), slog.Duration("delay", delay), slog.String("cause", t.Redact(cause(resp, err))))
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, t.fail(req, class, n, start, "gave up", context.Cause(ctx), reached)
		case <-timer.C:
		}
	}
}

// attempt sends one copy of req. reached says whether the request may have
// reached the server; timedOut whether the attempt's own deadline ended it.
func (t *Transport) attempt(req *http.Request, class Class, n int) (resp *http.Response, reached, timedOut bool, err error) {
	ctx := req.Context()
	var cancel context.CancelFunc
	if t.policy.AttemptTimeout > 0 && !class.Long {
		ctx, cancel = context.WithTimeout(ctx, t.policy.AttemptTimeout)
	}
	var sent atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		// Headers written: bytes may have left; before that, nothing did.
		WroteHeaders: func() { sent.Store(true) },
	})
	r := req.Clone(ctx)
	if n > 1 && req.GetBody != nil {
		body, gerr := req.GetBody()
		if gerr != nil {
			if cancel != nil {
				cancel()
			}
			return nil, false, false, gerr
		}
		r.Body = body
	}
	resp, err = t.base.RoundTrip(r)
	if err != nil {
		timedOut = cancel != nil && ctx.Err() != nil && req.Context().Err() == nil
		if cancel != nil {
			cancel()
		}
		return nil, sent.Load() && !neverSent(err), timedOut, err
	}
	// An answer came: the request reached the server.
	// (A HEAD answer has no body, whatever its Content-Length says.)
	if class.Long || resp.StatusCode < 200 || resp.StatusCode > 299 || resp.ContentLength > t.policy.MaxBuffered || req.Method == http.MethodHead {
		if cancel != nil {
			resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
		}
		return resp, true, false, nil
	}
	// Buffer the success body, so a cut-short body is retried like a
	// reset rather than handed to the caller half-read.
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, t.policy.MaxBuffered+1))
	if rerr == nil && int64(len(body)) > t.policy.MaxBuffered {
		// Longer than we buffer and of unknown length: hand over what was
		// read followed by the rest, streamed (no longer retried if cut).
		resp.Body = &prefixedBody{Reader: io.MultiReader(bytes.NewReader(body), resp.Body), body: resp.Body, cancel: cancel}
		return resp, true, false, nil
	}
	resp.Body.Close()
	timedOut = cancel != nil && ctx.Err() != nil && req.Context().Err() == nil
	if cancel != nil {
		cancel()
	}
	if rerr != nil || (resp.ContentLength >= 0 && int64(len(body)) < resp.ContentLength) {
		if rerr == nil {
			rerr = io.ErrUnexpectedEOF
		}
		return nil, true, timedOut, fmt.Errorf("%w (%d bytes read): %w", ErrTruncated, len(body), rerr)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	return resp, true, false, nil
}

func (t *Transport) fail(req *http.Request, class Class, attempts int, start time.Time, what string, err error, reached bool) *Error {
	return &Error{
		Method: req.Method, URL: t.Redact(urlOf(req)), Function: class.Function, What: what, Err: err,
		Attempts: attempts, Elapsed: time.Since(start), Reached: reached, secrets: t.secrets,
	}
}

func urlOf(req *http.Request) string {
	u := *req.URL
	u.RawQuery, u.User = "", nil
	return u.String()
}

func cause(resp *http.Response, err error) string {
	if err != nil {
		return err.Error()
	}
	return resp.Status
}

func retryStatus(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// waitFor is how long an answer asks to wait: Retry-After (seconds or a
// date), else the rate limit's reset; 0 for "use the backoff". ok is false
// when the wait is longer than max.
func waitFor(resp *http.Response, maxWait time.Duration) (d time.Duration, ok bool) {
	d = RetryAfter(resp.Header, time.Now())
	if d <= 0 && resp.StatusCode == http.StatusTooManyRequests {
		d = resetIn(resp.Header, time.Now())
	}
	if d > maxWait {
		return d, false
	}
	return d, true
}

// RetryAfter reads a Retry-After header: seconds or an HTTP date.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 || secs > 86400 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if at, err := http.ParseTime(v); err == nil && at.After(now) {
		return at.Sub(now)
	}
	return 0
}

// resetIn reads X-RateLimit-Reset: seconds from now, or a Unix time.
func resetIn(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("X-Ratelimit-Reset"))
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0
	}
	if n > 1_000_000_000 { // a Unix time
		if at := time.Unix(n, 0); at.After(now) {
			return at.Sub(now)
		}
		return 0
	}
	if n > 86400 {
		return 0
	}
	return time.Duration(n) * time.Second
}

// noteRateLimit remembers a used-up rate limit, so the next requests wait
// for its reset instead of being refused.
func (t *Transport) noteRateLimit(h http.Header) {
	if strings.TrimSpace(h.Get("X-Ratelimit-Remaining")) != "0" {
		return
	}
	d := resetIn(h, time.Now())
	if d <= 0 || d > t.policy.MaxRetryAfter {
		return
	}
	t.mu.Lock()
	if at := time.Now().Add(d); at.After(t.notBefore) {
		t.notBefore = at
	}
	t.mu.Unlock()
}

// holdForRateLimit waits until a used-up rate limit resets. A wait that
// would outlive the caller's deadline fails at once, saying why.
func (t *Transport) holdForRateLimit(ctx context.Context) (what string, err error) {
	t.mu.Lock()
	d := time.Until(t.notBefore)
	t.mu.Unlock()
	if d <= 0 {
		return "", nil
	}
	if outlives(ctx, d) {
		return "not sent", fmt.Errorf("%w: it resets in %s, after the deadline", ErrRateLimited, d.Round(time.Millisecond))
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return "gave up waiting for the rate limit to reset", context.Cause(ctx)
	case <-timer.C:
		return "", nil
	}
}

// ErrRateLimited is the cause of a request not sent because the rate limit
// is used up (X-RateLimit-Remaining: 0) until after the caller's deadline.
var ErrRateLimited = errors.New("the rate limit is used up (X-RateLimit-Remaining: 0)")

func outlives(ctx context.Context, d time.Duration) bool {
	dl, ok := ctx.Deadline()
	return ok && time.Now().Add(d).After(dl)
}

// drain reads a little of a discarded answer so the connection can be
// reused, then closes it.
func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// neverSent recognises failures before any byte of the request left:
// DNS, refused or failed dials, TLS handshake failures.
func neverSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return true
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	var rec tls.RecordHeaderError
	var cv *tls.CertificateVerificationError
	return errors.As(err, &rec) || errors.As(err, &cv)
}

// prefixedBody is a success body read in part; closing it closes the
// connection's body and ends the attempt's deadline.
type prefixedBody struct {
	io.Reader
	body   io.Closer
	cancel context.CancelFunc
}

func (p *prefixedBody) Close() error {
	err := p.body.Close()
	if p.cancel != nil {
		p.cancel()
	}
	return err
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}
