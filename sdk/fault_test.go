package sdk

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cctoolkit/cloudconvert/apierror"
	"github.com/cctoolkit/cloudconvert/integration"
	fp "github.com/cctoolkit/cloudconvert/internal/faultproxy"
)

// The fault-injection test puts a proxy (internal/faultproxy) between the
// client and a backend that keeps API state: the local CloudConvert
// server, unless CC_FAULT_BACKEND names the REST base URL of another (key
// in CC_FAULT_KEY). Jobs are counted through the backend's own list_jobs,
// so the count works against any.

// flakyDialer refuses the first n dials, like a host not yet listening.
type flakyDialer struct {
	refuse atomic.Int64
	d      net.Dialer
}

func (f *flakyDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if f.refuse.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "dial", Net: network, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	}
	return f.d.DialContext(ctx, network, addr)
}

func TestFaultInjection(t *testing.T) {
	backend, key := os.Getenv("CC_FAULT_BACKEND"), os.Getenv("CC_FAULT_KEY")
	if backend == "" {
		backend, key = startLocal(t).APIURL(), testKey
	}
	direct, err := New(key, WithBaseURL(backend), WithoutAPIKey())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	seed, err := direct.CreateJob(ctx, NewJob("fault-seed", map[string]TaskDefinition{"import": TaskDef("import/upload", nil)}))
	if err != nil {
		t.Fatal(err)
	}
	proxy := fp.New(t, backend)
	// Slow answers come after two attempt timeouts: an attempt that is
	// merely slow under load is not mistaken for one.
	proxy.SlowFor = 5 * time.Second
	pu, _ := url.Parse(backend)
	dialer := &flakyDialer{}
	base := &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 4}
	policy := RetryPolicy{MaxAttempts: 4, MaxElapsed: time.Minute, AttemptTimeout: 2 * time.Second, InitialInterval: 20 * time.Millisecond, MaxInterval: 100 * time.Millisecond, MaxRetryAfter: 2 * time.Second}
	c, err := New(key, WithoutAPIKey(), WithBaseURL(proxy.URL+pu.Path), WithRetryPolicy(policy), WithHTTPClient(&http.Client{Transport: base}))
	if err != nil {
		t.Fatal(err)
	}
	jobPath := pu.Path + "/jobs"
	const unknown = "(the outcome is unknown: the request may have reached the server, so it was not sent again; check before repeating it)"

	tests := []struct {
		name     string
		write    bool
		faults   []fp.Fault
		sticky   bool
		refuse   int64         // dials to refuse first
		wantErr  []error       // errors.Is targets; nil = success
		notErr   []error       // errors.Is must not match
		wantMsg  string        // substring of the error
		newJobs  int           // jobs the backend must have gained
		requests int           // requests the proxy must have seen
		minTaken time.Duration // e.g. Retry-After honoured
	}{
		// Reads recover from transient faults.
		{name: "read/reset", faults: []fp.Fault{fp.ResetBefore}, requests: 2},
		{name: "read/reset after forward", faults: []fp.Fault{fp.ResetAfter, fp.ResetAfter}, requests: 3},
		{name: "read/429 Retry-After", faults: []fp.Fault{fp.TooMany}, minTaken: time.Second, requests: 2},
		{name: "read/502 html", faults: []fp.Fault{fp.BadGateway, fp.BadGateway}, requests: 3},
		{name: "read/slower than attempt timeout", faults: []fp.Fault{fp.Slow}, requests: 2},
		{name: "read/truncated body", faults: []fp.Fault{fp.Truncated}, requests: 2},
		{name: "read/dial refused", refuse: 2, requests: 1},
		// A complete body that is not JSON is not a network fault: the
		// transport cannot see it, so it is not retried.
		{name: "read/truncated JSON", faults: []fp.Fault{fp.TruncatedJSON}, wantErr: []error{ErrMalformedResponse}, notErr: []error{ErrTransport, ErrUncertainWrite},
			wantMsg: "cloudconvert.get_job: the answer is not get_job's JSON (Content-Type \"application/json\", ", requests: 1},
		// Persistent faults come back typed, with a clear message.
		{name: "read/persistent 502", faults: []fp.Fault{fp.BadGateway}, sticky: true, wantErr: []error{apierror.ErrServer}, notErr: []error{ErrUncertainWrite},
			wantMsg: "cloudconvert.get_job: 502: non-JSON error page: 502 Bad Gateway (after 4 attempts)", requests: 4},
		{name: "read/persistent reset", faults: []fp.Fault{fp.ResetBefore}, sticky: true, wantErr: []error{ErrTransport}, notErr: []error{ErrUncertainWrite},
			wantMsg: "cloudconvert.get_job: no response: ", requests: 4},
		{name: "read/persistent 429", faults: []fp.Fault{fp.TooMany}, sticky: true, wantErr: []error{apierror.ErrRateLimited},
			wantMsg: "cloudconvert.get_job: 429 TOO_MANY_REQUESTS: Too Many Attempts. (retry after 1s) (after 4 attempts)", requests: 4, minTaken: 3 * time.Second},
		{name: "read/persistent slow", faults: []fp.Fault{fp.Slow}, sticky: true, wantErr: []error{ErrTransport, context.DeadlineExceeded},
			wantMsg: "cloudconvert.get_job: no response within 2s: ", requests: 4},
		// Writes are never repeated once they may have reached the server.
		{name: "write/clean", write: true, newJobs: 1, requests: 1},
		{name: "write/reset after forward", write: true, faults: []fp.Fault{fp.ResetAfter}, wantErr: []error{ErrUncertainWrite, ErrTransport},
			wantMsg: "cloudconvert.create_job: no response: ", newJobs: 1, requests: 1},
		{name: "write/reset before forward", write: true, faults: []fp.Fault{fp.ResetBefore}, wantErr: []error{ErrUncertainWrite, ErrTransport}, wantMsg: unknown, newJobs: 0, requests: 1},
		{name: "write/429", write: true, faults: []fp.Fault{fp.TooMany}, wantErr: []error{apierror.ErrRateLimited}, notErr: []error{ErrUncertainWrite},
			wantMsg: "cloudconvert.create_job: 429 TOO_MANY_REQUESTS: Too Many Attempts. (retry after 1s)", newJobs: 0, requests: 1},
		// A 502 says nothing of whether the server did the work.
		{name: "write/502 html", write: true, faults: []fp.Fault{fp.BadGateway}, wantErr: []error{apierror.ErrServer, ErrUncertainWrite},
			wantMsg: "cloudconvert.create_job: 502: non-JSON error page: 502 Bad Gateway " + unknown, newJobs: 0, requests: 1},
		{name: "write/502 after the server created the job", write: true, faults: []fp.Fault{fp.BadGatewayAfter}, wantErr: []error{apierror.ErrServer, ErrUncertainWrite},
			wantMsg: "cloudconvert.create_job: 502: non-JSON error page: 502 Bad Gateway " + unknown, newJobs: 1, requests: 1},
		{name: "write/slow", write: true, faults: []fp.Fault{fp.Slow}, wantErr: []error{ErrUncertainWrite, ErrTransport, context.DeadlineExceeded},
			wantMsg: "cloudconvert.create_job: no response within 2s: ", newJobs: 1, requests: 1},
		{name: "write/truncated", write: true, faults: []fp.Fault{fp.Truncated}, wantErr: []error{ErrUncertainWrite, ErrTransport},
			wantMsg: "cloudconvert.create_job: incomplete answer: the response body was cut short", newJobs: 1, requests: 1},
		{name: "write/truncated JSON", write: true, faults: []fp.Fault{fp.TruncatedJSON}, wantErr: []error{ErrMalformedResponse, ErrUncertainWrite}, newJobs: 1, requests: 1},
		{name: "write/dial refused is retried", write: true, refuse: 2, newJobs: 1, requests: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			route := "GET " + jobPath + "/"
			if tt.write {
				route = "POST " + jobPath
			}
			proxy.Plan(route, tt.sticky, tt.faults...)
			dialer.refuse.Store(tt.refuse)
			base.CloseIdleConnections() // so dials happen
			before := countJobs(t, direct)
			proxy.Forget()
			start := time.Now()
			var err error
			if tt.write {
				var j *Job
				j, err = c.CreateJob(ctx, NewJob("fault", map[string]TaskDefinition{"import": TaskDef("import/upload", nil)}))
				if err == nil && j.Id == "" {
					t.Error("no job id")
				}
			} else {
				var j *Job
				j, err = c.GetJob(ctx, seed.Id)
				if err == nil && j.Id != seed.Id {
					t.Errorf("got job %s", j.Id)
				}
			}
			taken := time.Since(start)
			requests := proxy.Count("", pu.Path)
			proxy.Plan(route, false)
			if tt.wantErr == nil && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			for _, target := range tt.wantErr {
				if !errors.Is(err, target) {
					t.Errorf("error %v does not match %v", err, target)
				}
			}
			for _, target := range tt.notErr {
				if errors.Is(err, target) {
					t.Errorf("error %v matches %v", err, target)
				}
			}
			if err != nil {
				if _, ok := integration.AsError(err); !ok {
					t.Errorf("untyped error %T: %v", err, err)
				}
				if strings.Contains(err.Error(), key) || strings.Contains(err.Error(), "<html") {
					t.Errorf("error leaks key or body: %v", err)
				}
				t.Logf("error: %v", err)
			}
			if tt.wantMsg != "" && (err == nil || !strings.Contains(err.Error(), tt.wantMsg)) {
				t.Errorf("error %q lacks %q", err, tt.wantMsg)
			}
			if taken < tt.minTaken {
				t.Errorf("took %s, want >= %s (Retry-After)", taken, tt.minTaken)
			}
			if requests != tt.requests {
				t.Errorf("the proxy saw %d requests, want %d: %v", requests, tt.requests, proxy.Seen())
			}
			if got := countJobs(t, direct) - before; got != tt.newJobs {
				t.Errorf("backend gained %d jobs, want %d (a write was duplicated or lost)", got, tt.newJobs)
			}
		})
	}
}
