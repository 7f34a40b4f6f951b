package sdk

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/cctoolkit/cloudconvert/apierror"
)

// RetryPolicy bounds retries. Reads (GET, and DELETE, which is idempotent)
// are retried on connection errors, timeouts of one attempt, truncated or
// malformed bodies, 429 (after Retry-After when given, else exponential
// backoff with jitter) and 502/503/504. Writes (POST) are retried only when
// the request certainly never reached the server: the connection could not
// be made (DNS, dial, TLS handshake). Never after a response, never after a
// timeout: a create that answered 500 may have created the job.
type RetryPolicy struct {
	MaxAttempts     int           // attempts in all, the first included; 1 disables retries (default 4)
	MaxElapsed      time.Duration // total time of a call, retries and waits included (default 2m)
	AttemptTimeout  time.Duration // one attempt of a normal call; 0: none (default 30s); not applied to sync waits or transfers
	InitialInterval time.Duration // first backoff (default 500ms)
	MaxInterval     time.Duration // backoff cap (default 15s)
	MaxRetryAfter   time.Duration // a longer Retry-After is not waited for: the 429 is returned (default 1m)
}

// DefaultRetryPolicy is the policy of New.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{
		MaxAttempts:     4,
		MaxElapsed:      2 * time.Minute,
		AttemptTimeout:  30 * time.Second,
		InitialInterval: 500 * time.Millisecond,
		MaxInterval:     15 * time.Second,
		MaxRetryAfter:   time.Minute,
	}
}

// NoRetries is a policy of one attempt.
func NoRetries() RetryPolicy {
	p := DefaultRetryPolicy()
	p.MaxAttempts = 1
	return p
}

func (p RetryPolicy) normalized() RetryPolicy {
	d := DefaultRetryPolicy()
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.MaxElapsed <= 0 {
		p.MaxElapsed = d.MaxElapsed
	}
	if p.AttemptTimeout < 0 {
		p.AttemptTimeout = 0
	}
	if p.InitialInterval <= 0 {
		p.InitialInterval = d.InitialInterval
	}
	if p.MaxInterval <= 0 {
		p.MaxInterval = d.MaxInterval
	}
	if p.MaxInterval < p.InitialInterval {
		p.MaxInterval = p.InitialInterval
	}
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = d.MaxRetryAfter
	}
	return p
}

// Sentinels of the failures that are not an answer of the API. Match them
// with errors.Is; API answers are *apierror.Error (apierror.ErrNotFound, ...).
var (
	// ErrTransport: no usable answer came back (connection refused or reset,
	// DNS, TLS, timeout of an attempt).
	ErrTransport = errors.New("transport failure")
	// ErrMalformedResponse: a success status whose body was truncated or
	// not the expected JSON.
	ErrMalformedResponse = errors.New("malformed response")
	// ErrUncertainWrite: a write failed after the request may have reached
	// the server; it was not retried. Check (list_jobs with a tag, say)
	// before sending it again.
	ErrUncertainWrite = errors.New("the request may have reached the server; not retried")
)

// kind of a call, for the retry rules.
type kind uint8

const (
	read  kind = iota // GET, DELETE: safe to repeat
	write             // POST: repeat only when never sent
)

// op describes one logical call for messages and logs.
type op struct {
	fn     string // API function, e.g. "get_job"
	method string
	path   string // e.g. "/jobs/{id}" filled in
	kind   kind
	long   bool // sync waits and transfers: no per-attempt timeout
}

// transportError is what the doer returns when no response came back.
type transportError struct {
	err     error
	reached bool // the request may have reached the server
}

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// doer sits under the generated client: it sends through the *http.Client
// and turns every non-2xx answer into *apierror.Error, so the generated
// code only ever parses successes.
type doer struct{ c *Client }

// maxErrorBody bounds what is read of an error answer.
const maxErrorBody = 1 << 20

func (d doer) Do(req *http.Request) (*http.Response, error) {
	var tr *sendTrace
	if req.Method == http.MethodPost {
		// Writes need to know whether the request could have been sent.
		tr = new(sendTrace)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), tr.trace()))
	}
	resp, err := d.c.hc.Do(req)
	if err != nil {
		return nil, &transportError{err: unwrapURLError(err), reached: tr == nil || tr.mayHaveSent() || !neverSent(err)}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	return nil, apierror.FromResponse(resp, body)
}

// sendTrace records whether a connection was obtained for the request:
// without one, nothing was sent.
type sendTrace struct{ gotConn atomic.Bool }

func (s *sendTrace) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { s.gotConn.Store(true) }}
}

// mayHaveSent: a connection was obtained, so bytes may have left.
func (s *sendTrace) mayHaveSent() bool { return s.gotConn.Load() }

// neverSent recognises errors that happen before any byte of the request
// is written: DNS failures, refused dials, TLS handshake failures.
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

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// call runs attempt under the retry policy. attempt performs one request
// through the generated client and returns its error unchanged; call
// classifies it, waits, retries, and returns the final error typed.
func (c *Client) call(ctx context.Context, o *op, attempt func(ctx context.Context) error) error {
	p := &c.retry
	start := timeNow()
	var bo *backoff.ExponentialBackOff
	for n := 1; ; n++ {
		actx, cancel := ctx, context.CancelFunc(nil)
		if p.AttemptTimeout > 0 && !o.long {
			actx, cancel = context.WithTimeout(ctx, p.AttemptTimeout)
		}
		err := attempt(actx)
		attemptTimedOut := err != nil && cancel != nil && actx.Err() != nil && ctx.Err() == nil
		if cancel != nil {
			cancel()
		}
		if err == nil {
			if n > 1 && c.log.Enabled(ctx, slog.LevelInfo) {
				c.log.LogAttrs(ctx, slog.LevelInfo, "cloudconvert: recovered", slog.String("function", o.fn), slog.Int("attempts", n))
			}
			return nil
		}
		retry, delay, final := c.classify(ctx, o, err, attemptTimedOut)
		if !retry || n >= p.MaxAttempts {
			return c.finalError(o, final, n, start)
		}
		if delay <= 0 {
			if bo == nil {
				bo = &backoff.ExponentialBackOff{InitialInterval: p.InitialInterval, RandomizationFactor: 0.5, Multiplier: 2, MaxInterval: p.MaxInterval}
				bo.Reset()
			}
			delay = bo.NextBackOff()
		} else if delay > p.MaxRetryAfter {
			return c.finalError(o, final, n, start)
		}
		if timeNow().Sub(start)+delay > p.MaxElapsed {
			return c.finalError(o, final, n, start)
		}
		if dl, ok := ctx.Deadline(); ok && timeNow().Add(delay).After(dl) {
			// Waiting would outlive the caller's deadline: give the real
			// reason now rather than "context deadline exceeded" later.
			return c.finalError(o, final, n, start)
		}
		if c.log.Enabled(ctx, slog.LevelWarn) {
			c.log.LogAttrs(ctx, slog.LevelWarn, "cloudconvert: retrying",
				slog.String("function", o.fn), slog.String("method", o.method), slog.String("path", o.path),
				slog.Int("attempt", n), slog.Duration("delay", delay), slog.String("error", c.redact(final.Error())))
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return c.finalError(o, final, n, start)
		case <-t.C:
		}
	}
}

// classify decides whether err is worth another attempt and returns the
// typed error to give the caller if not.
func (c *Client) classify(ctx context.Context, o *op, err error, attemptTimedOut bool) (retry bool, delay time.Duration, final error) {
	var pe permanent
	if errors.As(err, &pe) {
		return false, 0, fmt.Errorf("%s: %s %s: %w", o.fn, o.method, o.path, pe.err)
	}
	var ae *apierror.Error
	if errors.As(err, &ae) {
		ae.Function = o.fn
		if o.kind == write {
			return false, 0, ae
		}
		switch ae.Status {
		case http.StatusTooManyRequests:
			return true, ae.RetryAfter, ae
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true, ae.RetryAfter, ae
		}
		return false, 0, ae
	}
	if ctx.Err() != nil {
		// The caller's context ended: no retry, say so plainly.
		return false, 0, &callError{op: o, err: context.Cause(ctx), sentinel: ErrTransport, what: "gave up", reached: o.kind == write}
	}
	var te *transportError
	if errors.As(err, &te) {
		what := "no response"
		if attemptTimedOut {
			what = fmt.Sprintf("no response within %s", c.retry.AttemptTimeout)
		}
		if o.kind == write {
			if te.reached || attemptTimedOut {
				return false, 0, &callError{op: o, err: te.err, sentinel: ErrTransport, what: what, reached: true}
			}
			return true, 0, &callError{op: o, err: te.err, sentinel: ErrTransport, what: "could not connect"}
		}
		return true, 0, &callError{op: o, err: te.err, sentinel: ErrTransport, what: what}
	}
	// The status was a success but the body could not be read or decoded.
	what := "the response body was truncated or malformed"
	if attemptTimedOut {
		what = fmt.Sprintf("the response body did not arrive within %s", c.retry.AttemptTimeout)
	}
	ce := &callError{op: o, err: err, sentinel: ErrMalformedResponse, what: what, reached: o.kind == write}
	return o.kind != write, 0, ce
}

func (c *Client) finalError(o *op, err error, attempts int, start time.Time) error {
	if ce, ok := err.(*callError); ok {
		ce.attempts = attempts
		ce.elapsed = timeNow().Sub(start)
		ce.key = c.key
		return ce
	}
	if attempts > 1 {
		return &retriedError{err: err, attempts: attempts, elapsed: timeNow().Sub(start)}
	}
	return err
}

// callError is a failure that is not an API answer: a transport failure or
// a broken success body. It says what happened and wraps the cause, so
// errors.Is works with ErrTransport / ErrMalformedResponse /
// ErrUncertainWrite, context.DeadlineExceeded and the net errors.
type callError struct {
	op       *op
	err      error
	sentinel error
	what     string
	reached  bool // for writes: may have reached the server
	attempts int
	elapsed  time.Duration
	key      string
}

func (e *callError) Error() string {
	var b strings.Builder
	b.WriteString(e.op.fn)
	b.WriteString(": ")
	b.WriteString(e.op.method + " " + e.op.path + ": ")
	b.WriteString(e.what)
	if e.err != nil {
		b.WriteString(": " + e.err.Error())
	}
	if e.reached && e.op.kind == write {
		b.WriteString(" (the request may have reached the server, so it was not retried)")
	}
	if e.attempts > 1 {
		fmt.Fprintf(&b, " (gave up after %d attempts in %s)", e.attempts, e.elapsed.Round(time.Millisecond))
	}
	return redact(b.String(), e.key)
}

func (e *callError) Unwrap() []error {
	errs := []error{e.sentinel, e.err}
	if e.reached && e.op.kind == write {
		errs = append(errs, ErrUncertainWrite)
	}
	return errs
}

// retriedError adds the attempt count to an API error; errors.As still
// finds the *apierror.Error.
type retriedError struct {
	err      error
	attempts int
	elapsed  time.Duration
}

func (e *retriedError) Error() string {
	return fmt.Sprintf("%s (gave up after %d attempts in %s)", e.err, e.attempts, e.elapsed.Round(time.Millisecond))
}
func (e *retriedError) Unwrap() error { return e.err }

func (c *Client) redact(s string) string { return redact(s, c.key) }

func redact(s, key string) string {
	if key != "" && strings.Contains(s, key) {
		s = strings.ReplaceAll(s, key, "[REDACTED]")
	}
	return s
}
