// Package sdk is the CloudConvert client people import: the generated
// client (generated/cloudconvert/client) over the toolkit's one transport
// (integration/transport: retries that never duplicate a write, Retry-After,
// deadlines), plus what production code needs around it — typed errors
// (*integration.Error, which wraps *apierror.Error for API answers), waiting
// through the sync endpoint with progress, streaming uploads and downloads,
// pagination iterators and a one-call convert flow. Which call reads or
// writes, and so how it may be retried, comes from the CloudConvert
// descriptor. Webhook verification lives in sdk/webhook.
//
// Every method takes a context; its deadline bounds the whole call,
// retries included. The API key never appears in an error or a log line.
package sdk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/cctoolkit/cloudconvert/accounts"
	cloudconvert "github.com/cctoolkit/cloudconvert/generated/cloudconvert"
	"github.com/cctoolkit/cloudconvert/generated/cloudconvert/client"
	"github.com/cctoolkit/cloudconvert/integration"
	"github.com/cctoolkit/cloudconvert/integration/invoke"
	"github.com/cctoolkit/cloudconvert/integration/transport"
	"github.com/cctoolkit/cloudconvert/sdk/catalogue"
)

// The generated models, re-exported so callers need not import the
// generated package. Unknown fields are kept in AdditionalProperties.
type (
	Job               = client.Job
	Task              = client.Task
	User              = client.User
	JobList           = client.JobList
	TaskList          = client.TaskList
	ResultFile        = client.ResultFile
	TaskResult        = client.TaskResult
	TaskDefinition    = client.TaskDefinition
	CreateJobRequest  = client.CreateJobRequest
	CreateTaskRequest = client.CreateTaskRequest
	ListJobsParams    = client.ListJobsParams
	ListTasksParams   = client.ListTasksParams
)

// Version is sent in the default User-Agent.
const Version = "0.1.0"

// DefaultUserAgent is the User-Agent sent unless WithUserAgent says otherwise.
const DefaultUserAgent = "cctoolkit-cloudconvert-go/" + Version

// RetryPolicy bounds retries and waits (see transport.Policy).
type RetryPolicy = transport.Policy

// DefaultRetryPolicy is the policy of New.
func DefaultRetryPolicy() RetryPolicy { return transport.DefaultPolicy() }

// NoRetries is a policy of one attempt.
func NoRetries() RetryPolicy {
	p := transport.DefaultPolicy()
	p.MaxAttempts = 1
	return p
}

// Sentinels of the failures that are not an answer of the API. Match them
// with errors.Is; API answers also match apierror's (apierror.ErrNotFound,
// ...), and errors.As finds the *integration.Error and *apierror.Error.
var (
	// ErrTransport: no usable answer came back (connection refused or reset,
	// DNS, TLS, timeout of an attempt).
	ErrTransport = integration.ErrTransport
	// ErrMalformedResponse: a success status whose body was not the
	// expected JSON.
	ErrMalformedResponse = integration.ErrBadResponse
	// ErrUncertainWrite: a write failed after the request may have reached
	// the server; it was not retried. Check (list_jobs with a tag, say)
	// before sending it again.
	ErrUncertainWrite = integration.ErrOutcomeUnknown
)

// Client calls the CloudConvert API v2. It is safe for concurrent use.
type Client struct {
	api  *client.ClientWithResponses // REST host
	sync *client.ClientWithResponses // sync (blocking wait) host; nil when disabled

	desc    *integration.Integration
	inv     *invoke.Invoker // descriptor-driven calls and typed errors
	tr      *transport.Transport
	hc      *http.Client // over tr
	baseURL *url.URL
	syncURL string
	// socketURL is the realtime (Socket.IO) endpoint; "" when unknown.
	socketURL string
	auth      string // "Bearer <key>": never logged, never in an error
	key       string // for redaction only
	ua        string
	log       *slog.Logger
	// catalogue checks ConvertFiles' tasks (WithCatalogue); nil: not checked.
	catalogue *catalogue.Source
	// socketAcks is set once the realtime endpoint acknowledged a
	// subscribe: later subscriptions wait for their acknowledgement
	// (see subscribeWait).
	socketAcks atomic.Bool
}

type config struct {
	sandbox     bool
	region      string
	baseURL     string
	syncURL     string
	syncOff     bool
	socketURL   string
	socketSet   bool
	hc          *http.Client
	retry       *RetryPolicy
	userAgent   string
	logger      *slog.Logger
	allowNoAuth bool
	catalogue   *catalogue.Source
}

// Option configures New.
type Option func(*config) error

// WithSandbox uses the sandbox hosts (api.sandbox / sync.api.sandbox).
func WithSandbox() Option { return func(c *config) error { c.sandbox = true; return nil } }

// WithRegion pins a region ("eu-central", "us-east") for both hosts.
func WithRegion(region string) Option {
	return func(c *config) error {
		regions := cloudconvert.Descriptor().Regions
		if !slices.Contains(regions, region) {
			return fmt.Errorf("sdk: unknown region %q (known: %s)", region, strings.Join(regions, ", "))
		}
		c.region = region
		return nil
	}
}

// WithBaseURL overrides the REST base URL, including the /v2 prefix
// (e.g. a local server: "http://127.0.0.1:8080/v2").
func WithBaseURL(u string) Option { return func(c *config) error { c.baseURL = u; return nil } }

// WithSyncURL overrides the sync host's base URL (".../v2"). An empty
// string disables the sync endpoint: waiting then polls.
func WithSyncURL(u string) Option {
	return func(c *config) error {
		c.syncURL, c.syncOff = u, u == ""
		return nil
	}
}

// WithHTTPClient sets the *http.Client whose transport sends every attempt
// (API, uploads, downloads); the retrying transport wraps it. Its Timeout,
// if any, bounds each attempt.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) error {
		if hc == nil {
			return errors.New("sdk: WithHTTPClient(nil)")
		}
		c.hc = hc
		return nil
	}
}

// WithRetryPolicy replaces the retry policy (see RetryPolicy).
func WithRetryPolicy(p RetryPolicy) Option {
	return func(c *config) error { c.retry = &p; return nil }
}

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *config) error { c.userAgent = ua; return nil } }

// WithLogger logs requests (debug), retries (warn) and fallbacks (info).
// The API key is never logged.
func WithLogger(l *slog.Logger) Option { return func(c *config) error { c.logger = l; return nil } }

// WithoutAPIKey allows an empty API key (a local server that does not
// check keys).
func WithoutAPIKey() Option { return func(c *config) error { c.allowNoAuth = true; return nil } }

// New returns a client for the API key. With no options it talks to the
// live hosts (https://api.cloudconvert.com/v2 and the sync host).
func New(apiKey string, opts ...Option) (*Client, error) {
	var cfg config
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	apiKey = strings.TrimSpace(apiKey)
	if apiKey == "" && !cfg.allowNoAuth {
		return nil, errors.New("sdk: no API key (set CLOUDCONVERT_API_KEY, or use WithoutAPIKey for a local server)")
	}
	if cfg.sandbox && cfg.region != "" {
		return nil, errors.New("sdk: the sandbox has no regions; use WithSandbox or WithRegion, not both")
	}
	apiBase, syncBase, socketBase := serverURLs(cfg.sandbox, cfg.region)
	if cfg.baseURL != "" {
		apiBase = cfg.baseURL
		if cfg.syncURL == "" && !cfg.syncOff {
			// A custom REST host (a local server, a proxy) has no known sync
			// host; waiting polls unless WithSyncURL names one.
			syncBase = ""
		}
	}
	if cfg.baseURL != "" {
		socketBase = "" // like the sync host: unknown unless WithSocketURL names it
	}
	if cfg.socketSet {
		socketBase = cfg.socketURL
	}
	if socketBase != "" {
		if _, err := parseBase(socketBase); err != nil {
			return nil, fmt.Errorf("sdk: socket URL: %w", err)
		}
	}
	if cfg.syncURL != "" {
		syncBase = cfg.syncURL
	}
	if cfg.syncOff {
		syncBase = ""
	}
	bu, err := parseBase(apiBase)
	if err != nil {
		return nil, fmt.Errorf("sdk: base URL: %w", err)
	}
	if syncBase != "" {
		if _, err := parseBase(syncBase); err != nil {
			return nil, fmt.Errorf("sdk: sync URL: %w", err)
		}
	}
	c := &Client{
		desc:    cloudconvert.Descriptor(),
		baseURL: bu,
		syncURL: strings.TrimRight(syncBase, "/"),
		key:     apiKey,
		ua:      cmp(cfg.userAgent, DefaultUserAgent),
		log:     cfg.logger,

		socketURL: strings.TrimRight(socketBase, "/"),
		catalogue: cfg.catalogue,
	}
	if apiKey != "" {
		c.auth = "Bearer " + apiKey
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	policy := DefaultRetryPolicy()
	if cfg.retry != nil {
		policy = *cfg.retry
	}
	var base http.RoundTripper
	if cfg.hc != nil {
		base = cfg.hc.Transport
		if cfg.hc.Timeout > 0 && cfg.retry == nil {
			policy.AttemptTimeout = cfg.hc.Timeout
		}
	}
	c.tr = transport.New(transport.Options{Base: base, Policy: policy, UserAgent: c.ua, Secrets: []string{apiKey}, Logger: c.log})
	c.hc = c.tr.Client()
	acct := &accounts.Account{Name: accounts.DefaultName, APIKey: accounts.NewSecret(apiKey), BaseURL: bu.String(), SyncURL: c.syncURL, Source: "sdk"}
	c.inv, err = invoke.New(invoke.Options{
		Integration: c.desc, Accounts: accounts.NewSet(acct), Policy: invoke.Headless(true),
		HTTPClient: c.hc, UserAgent: c.ua,
	})
	if err != nil {
		return nil, err
	}
	if src := c.catalogue; src != nil {
		if src.BaseURL == "" {
			src.BaseURL, src.APIKey = bu.String(), apiKey
		}
		if src.HTTPClient == nil {
			src.HTTPClient = c.hc
		}
	}
	c.api, err = client.NewClientWithResponses(bu.String(), client.WithHTTPClient(c.hc), client.WithRequestEditorFn(c.editRequest))
	if err != nil {
		return nil, err
	}
	if c.syncURL != "" {
		c.sync, err = client.NewClientWithResponses(c.syncURL, client.WithHTTPClient(c.hc), client.WithRequestEditorFn(c.editRequest))
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}

// String never shows the API key.
func (c *Client) String() string {
	return "cloudconvert.Client(" + c.baseURL.Redacted() + ")"
}

// GoString never shows the API key.
func (c *Client) GoString() string { return c.String() }

// LogValue never shows the API key.
func (c *Client) LogValue() slog.Value { return slog.StringValue(c.String()) }

// BaseURL is the REST base URL in use.
func (c *Client) BaseURL() string { return c.baseURL.String() }

// SyncURL is the sync host's base URL in use ("" when waiting polls).
func (c *Client) SyncURL() string { return c.syncURL }

// Generated gives the generated client this one is built on. Its requests
// carry the key and User-Agent and go through the same retrying transport;
// errors are the generated client's (non-2xx answers are responses).
func (c *Client) Generated() *client.ClientWithResponses { return c.api }

func serverURLs(sandbox bool, region string) (api, sync, socket string) {
	for _, s := range cloudconvert.Descriptor().Servers {
		u := s.Live
		switch {
		case sandbox:
			u = s.Sandbox
		case region != "" && s.Region != "":
			u = strings.ReplaceAll(s.Region, "{region}", region)
		}
		switch s.Name {
		case "api":
			api = u
		case "sync":
			sync = u
		case "socketio":
			socket = u // one host for every region, as the official SDKs use
		}
	}
	return api, sync, socket
}

func parseBase(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(s, "/"))
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http(s) URL", s)
	}
	if u.User != nil {
		return nil, errors.New("credentials in the URL are not allowed; pass the API key to New")
	}
	return u, nil
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// editRequest adds the credentials and headers to every API request.
func (c *Client) editRequest(_ context.Context, req *http.Request) error {
	if c.auth != "" {
		req.Header["Authorization"] = []string{c.auth}
	}
	req.Header["User-Agent"] = []string{c.ua}
	req.Header["Accept"] = acceptJSON
	return nil
}

var acceptJSON = []string{"application/json"}

// sameHost reports whether u is on the REST host (credentials may go there).
func (c *Client) sameHost(u *url.URL) bool {
	return strings.EqualFold(u.Scheme, c.baseURL.Scheme) && strings.EqualFold(u.Host, c.baseURL.Host)
}

// HTTPClient is the client every request of this Client goes through (the
// retrying transport over the base transport).
func (c *Client) HTTPClient() *http.Client { return c.hc }

// Invoker performs descriptor-driven calls with this client's account and
// transport (what the Lua runtime and the CLI use).
func (c *Client) Invoker() *invoke.Invoker { return c.inv }
