// Package sdk is the CloudConvert client people import: the generated
// client (generated/cloudconvert/client) plus what production code needs
// around it — retries that never duplicate a write, typed errors
// (*apierror.Error), waiting through the sync endpoint with progress,
// streaming uploads and downloads, pagination iterators and a one-call
// convert flow. Webhook verification lives in sdk/webhook.
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
	"time"

	"github.com/cctoolkit/cloudconvert/generated/cloudconvert/client"
	"github.com/cctoolkit/cloudconvert/generated/cloudconvert/meta"
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

// Client calls the CloudConvert API v2. It is safe for concurrent use.
type Client struct {
	api  *client.ClientWithResponses // REST host
	sync *client.ClientWithResponses // sync (blocking wait) host; nil when disabled

	hc      *http.Client
	baseURL *url.URL
	syncURL string
	auth    string // "Bearer <key>": never logged, never in an error
	key     string // for redaction only
	ua      string
	retry   RetryPolicy
	log     *slog.Logger
}

type config struct {
	sandbox     bool
	region      string
	baseURL     string
	syncURL     string
	syncOff     bool
	hc          *http.Client
	retry       *RetryPolicy
	userAgent   string
	logger      *slog.Logger
	allowNoAuth bool
}

// Option configures New.
type Option func(*config) error

// WithSandbox uses the sandbox hosts (api.sandbox / sync.api.sandbox).
func WithSandbox() Option { return func(c *config) error { c.sandbox = true; return nil } }

// WithRegion pins a region ("eu-central", "us-east") for both hosts.
func WithRegion(region string) Option {
	return func(c *config) error {
		if !slices.Contains(meta.Integration().Regions, region) {
			return fmt.Errorf("sdk: unknown region %q (known: %s)", region, strings.Join(meta.Integration().Regions, ", "))
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

// WithHTTPClient sets the *http.Client used for every request (API,
// uploads, downloads). Its Timeout, if any, applies per attempt.
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
	apiBase, syncBase := serverURLs(cfg.sandbox, cfg.region)
	if cfg.baseURL != "" {
		apiBase = cfg.baseURL
		if cfg.syncURL == "" && !cfg.syncOff {
			// A custom REST host (a local server, a proxy) has no known sync
			// host; waiting polls unless WithSyncURL names one.
			syncBase = ""
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
		hc:      cfg.hc,
		baseURL: bu,
		syncURL: strings.TrimRight(syncBase, "/"),
		key:     apiKey,
		ua:      cmp(cfg.userAgent, DefaultUserAgent),
		retry:   DefaultRetryPolicy(),
		log:     cfg.logger,
	}
	if apiKey != "" {
		c.auth = "Bearer " + apiKey
	}
	if c.hc == nil {
		c.hc = &http.Client{Transport: http.DefaultTransport}
	}
	if cfg.retry != nil {
		c.retry = cfg.retry.normalized()
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	d := &doer{c: c}
	c.api, err = client.NewClientWithResponses(bu.String(), client.WithHTTPClient(d), client.WithRequestEditorFn(c.editRequest))
	if err != nil {
		return nil, err
	}
	if c.syncURL != "" {
		c.sync, err = client.NewClientWithResponses(c.syncURL, client.WithHTTPClient(d), client.WithRequestEditorFn(c.editRequest))
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

// Generated gives the generated client this one is built on (its requests
// carry the key and User-Agent but get no retries or typed errors beyond
// what its transport does).
func (c *Client) Generated() *client.ClientWithResponses { return c.api }

func serverURLs(sandbox bool, region string) (api, sync string) {
	for _, s := range meta.Integration().Servers {
		u := s.Live
		switch {
		case sandbox:
			u = s.Sandbox
		case region != "":
			u = strings.ReplaceAll(s.Region, "{region}", region)
		}
		switch s.Name {
		case "api":
			api = u
		case "sync":
			sync = u
		}
	}
	return api, sync
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

// timeNow is replaced in tests.
var timeNow = time.Now
