package sdk

import (
	"context"
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

// fail is the error of a request that got no answer.
func (k *call) fail(err error) error {
	return k.c.inv.TransportError(k.ctx, k.fn, err, k.stats)
}

// answer is the error of an answer that was not the expected success.
func (k *call) answer(resp *http.Response, body []byte) error {
	return k.c.inv.ResponseError(k.fn, resp, body, k.stats.Attempts)
}
