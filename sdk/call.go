package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/cctoolkit/cloudconvert/integration"
	"github.com/cctoolkit/cloudconvert/integration/transport"
)

// call is one request of a descriptor function through the generated
// client: its context tells the transport how the request may be retried
// (the function's retry class) and collects what the transport did, so the
// error can say it.
type call struct {
	c     *Client
	fn    *integration.Function
	ctx   context.Context
	stats transport.Stats
}

// begin starts a call of the function called name. long calls (sync waits)
// get no per-attempt timeout.
func (c *Client) begin(ctx context.Context, name string, long bool) *call {
	fn := c.desc.Function(name)
	if fn == nil {
		// The descriptor is generated from the spec this package is built
		// with: a missing function is a build that went wrong.
		panic("sdk: the CloudConvert descriptor has no function " + name)
	}
	k := &call{c: c, fn: fn}
	k.ctx = transport.WithClass(ctx, transport.Class{Retry: fn.Retry, Long: long, Function: fn.FullName, Stats: &k.stats})
	return k
}

// maxAnswer bounds an API answer held in memory.
const maxAnswer = 64 << 20

// decode finishes a request sent with the generated client's plain method
// (resp, err): a success answer is decoded into out (when not nil) and its
// body returned; anything else becomes the *integration.Error that says
// why. (The generated ...WithResponse methods return a bare JSON error for
// a body they cannot decode, which would lose the status and read as a
// transport failure.)
func (k *call) decode(resp *http.Response, err error, out any) ([]byte, error) {
	if err != nil {
		return nil, k.fail(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return nil, k.fail(err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, k.answer(resp, body)
	}
	if int64(len(body)) > maxAnswer {
		return nil, k.malformed(resp, body, fmt.Errorf("the answer is larger than %d bytes", maxAnswer))
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return nil, k.malformed(resp, body, err)
		}
	}
	return body, nil
}

// fail is the error of a request that got no answer.
func (k *call) fail(err error) error {
	return k.c.inv.TransportError(k.ctx, k.fn, err, k.stats)
}

// answer is the error of an answer that was not a success.
func (k *call) answer(resp *http.Response, body []byte) error {
	return k.c.inv.ResponseError(k.fn, resp, body, k.stats.Attempts)
}

// malformed is the error of a success answer that cannot be read. A write
// answered so did reach the server, but what it made is not known.
func (k *call) malformed(resp *http.Response, body []byte, err error) error {
	return &integration.Error{
		Kind: integration.KindResponse, Function: k.fn.Name, FullName: k.fn.FullName, Status: resp.StatusCode,
		Message: fmt.Sprintf("the answer is not %s's JSON (Content-Type %q, %d bytes): %v",
			k.fn.Name, resp.Header.Get("Content-Type"), len(body), err),
		OutcomeUnknown: k.fn.Retry == integration.RetryUnsent,
		Attempts:       k.stats.Attempts, Err: err,
	}
}
