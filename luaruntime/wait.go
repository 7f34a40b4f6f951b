package luaruntime

import (
	"context"
	"errors"

	"github.com/cctoolkit/cloudconvert/apierror"
	"github.com/cctoolkit/cloudconvert/luaruntime/bind"
	"github.com/cctoolkit/cloudconvert/sdk"
)

// Waiter performs a function that waits for a job to end, in place of the
// plain request its binding would send. It returns the final response body.
type Waiter func(ctx context.Context, r *Runtime, p *Prepared) ([]byte, *bind.Error)

// CloudConvertWaiters makes wait_job use the Go client's waiting code
// (sdk.Client.WaitJobResult), the same path as `cloudconvert wait`: it
// blocks on the sync endpoint and, where the sync host is unavailable,
// polls get_job on the REST host. A failed job is an answer, as from
// get_job, not an error.
func CloudConvertWaiters() map[string]Waiter {
	return map[string]Waiter{"wait_job": waitJob}
}

func waitJob(ctx context.Context, r *Runtime, p *Prepared) ([]byte, *bind.Error) {
	fn := p.Function
	api := r.in.Servers[0]
	c, err := r.waitClient(p, p.Account.ServerURL(api.Name, true, api.Live, api.Sandbox, api.Region))
	if err != nil {
		return nil, &bind.Error{Kind: bind.KindTransport, Function: fn.Name, FullName: fn.FullName, Message: r.Redact(err.Error())}
	}
	res, err := c.WaitJobResult(ctx, p.Request.PathParam("id"), &sdk.WaitOptions{Function: fn.Name})
	if res != nil && (err == nil || errors.Is(err, sdk.ErrJobFailed)) {
		return res.Raw, nil
	}
	var ae *apierror.Error
	if errors.As(err, &ae) {
		ae.Message = r.Redact(ae.Message)
		return nil, bind.FromAPI(fn, ae)
	}
	msg := err.Error()
	if ctx.Err() != nil {
		msg = "the request was stopped: " + context.Cause(ctx).Error()
	}
	return nil, &bind.Error{Kind: bind.KindTransport, Function: fn.Name, FullName: fn.FullName, Message: r.Redact(msg)}
}

// waitClient is the Go client of an account, made once per base URLs.
func (r *Runtime) waitClient(p *Prepared, apiURL string) (*sdk.Client, error) {
	key := "sdk " + p.Account.Name + " " + apiURL + " " + p.BaseURL
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.clients[key].(*sdk.Client); ok {
		return c, nil
	}
	c, err := sdk.New(p.Account.APIKey.Reveal(), sdk.WithBaseURL(apiURL), sdk.WithSyncURL(p.BaseURL), sdk.WithHTTPClient(r.hc), sdk.WithUserAgent(r.opts.UserAgent))
	if err != nil {
		return nil, err
	}
	r.clients[key] = c
	return c, nil
}
