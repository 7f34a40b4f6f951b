package invoke

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/cctoolkit/cloudconvert/integration"
)

// wait performs a function with a Wait: it asks the function's own server,
// which blocks until the resource has ended, and asks again when an answer
// comes back before that (the server's own time limit). Where that server
// is not available (no connection, or an answer that says the route is not
// served) it polls Wait.Poll with the same path values until the answer's
// Wait.Field has one of the Wait.Until values. The caller's context bounds
// it all.
func (v *Invoker) wait(ctx context.Context, p *Prepared) ([]byte, int, int, *integration.Error) {
	fn, w := p.Function, p.Function.Wait
	attempts := 0
	for p.BaseURL != "" { // "": the account knows no URL for the waiting server
		asked := time.Now()
		body, status, a, err := v.send(ctx, fn, p.Account, p.URL(), nil, true)
		attempts += max(a, 1)
		if err != nil {
			if !unavailable(err) || ctx.Err() != nil {
				return nil, status, attempts, err
			}
			break
		}
		if ended(body, w) {
			return body, status, attempts, nil
		}
		// A server that answers at once without blocking is polled, not
		// hammered.
		if time.Since(asked) < v.opts.PollInterval {
			if err := sleep(ctx, v.opts.PollInterval); err != nil {
				return nil, 0, attempts, v.stopped(fn, err)
			}
		}
	}
	return v.poll(ctx, p, attempts)
}

func (v *Invoker) poll(ctx context.Context, p *Prepared, attempts int) ([]byte, int, int, *integration.Error) {
	fn, w := p.Function, p.Function.Wait
	req := &integration.Request{Function: w.Poll, Path: p.Request.Path}
	_, base, aerr := v.account(w.Poll, p.Account.Name, w.Poll.Server)
	if aerr != nil {
		return nil, 0, attempts, aerr
	}
	url := req.URL(base)
	interval := v.opts.PollInterval
	for {
		body, status, a, err := v.send(ctx, w.Poll, p.Account, url, nil, false)
		attempts += max(a, 1)
		if err != nil {
			// Name the function the caller called.
			err.Function, err.FullName = fn.Name, fn.FullName
			return nil, status, attempts, err
		}
		if ended(body, w) {
			return body, status, attempts, nil
		}
		if err := sleep(ctx, interval); err != nil {
			return nil, 0, attempts, v.stopped(fn, err)
		}
		interval = min(interval*3/2, 10*time.Second)
	}
}

func (v *Invoker) stopped(fn *integration.Function, err error) *integration.Error {
	return &integration.Error{Kind: integration.KindTransport, Function: fn.Name, FullName: fn.FullName, Message: "the wait was stopped: " + v.Redact(err.Error()), Err: err}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// unavailable says whether the waiting server is missing rather than
// answering: no connection, or a status that says the route is not served.
func unavailable(err *integration.Error) bool {
	if err.Kind == integration.KindTransport {
		return err.Status == 0
	}
	switch err.Status {
	case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusNotImplemented,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// ended reads the dotted field of a JSON answer and says whether it holds
// one of the values that end a wait.
func ended(body []byte, w *integration.Wait) bool {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return false
	}
	for _, part := range strings.Split(w.Field, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		v = m[part]
	}
	s, ok := v.(string)
	return ok && slices.Contains(w.Until, s)
}
