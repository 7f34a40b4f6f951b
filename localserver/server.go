// Package localserver is a local server that speaks the CloudConvert API v2
// (jobs, tasks, users, account webhooks, upload forms, export downloads and
// the sync wait endpoints) and performs the work for real through the
// engine package. Job and task changes are announced once, by one event
// source (events.go), to the webhooks (webhook.go) and to the realtime
// Socket.IO endpoint at /socket.io/ (realtime.go), each through a bounded
// queue.
//
// State lives in the store package (embedded SQLite plus files on disk), so
// jobs, tasks and files survive a restart; every write is committed before
// the request that caused it is answered. Tasks that were processing when
// the process stopped are started again when it starts (once after a
// crash: a task running at two crashes fails instead of crashing the
// server at every start).
//
// The server faces hostile input: every engine budgets its memory from
// file headers and options before allocating (Config.MaxImageMemory,
// MaxPDFPages), every task has a time limit (TaskTimeout), request bodies
// cost memory independent of the file contents they carry (those are
// spooled to disk), uploads are authenticated before their body is read,
// outbound requests reach public addresses only (AllowPrivateURLs), and a
// loopback server refuses requests for other host names.
//
// Use Start to listen on an address, or New plus Handler to serve on a
// listener of your own (BaseURL must then be set).
package localserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cctoolkit/cloudconvert/localserver/engine"
	"github.com/cctoolkit/cloudconvert/localserver/store"
)

// DefaultAPIKey is the key of the default local user when no users are
// configured and Config.APIKey is empty.
const DefaultAPIKey = "local-dev-key"

// UserConfig is one user and the API keys that act as it.
type UserConfig struct {
	ID            int      `json:"id" yaml:"id"`
	Username      string   `json:"username" yaml:"username"`
	Email         string   `json:"email" yaml:"email"`
	Credits       int      `json:"credits" yaml:"credits"`
	APIKeys       []string `json:"api_keys" yaml:"api_keys"`
	WebhookSecret string   `json:"webhook_secret" yaml:"webhook_secret"`
}

// Config configures a Server. The zero value (plus DataDir) is usable.
type Config struct {
	// DataDir holds the database, the files and the PDFium compile cache.
	DataDir string
	// SyncWrites makes every acknowledged write survive power loss, not
	// only a crash of the process: an fsync per commit and per file (about
	// a dozen per job). Off by default: a local development server that
	// restarts after kill -9 with nothing lost, but pays no fsyncs.
	SyncWrites bool
	// Addr is where Start listens; default 127.0.0.1:0 (a free port).
	Addr string
	// BaseURL is the server's public root, e.g. "http://127.0.0.1:8080"
	// (without /v2). Start sets it from the listener when empty; New needs it.
	BaseURL string
	// Users and their keys. Empty: one user (id 1, "local") whose key is
	// APIKey, or DefaultAPIKey.
	Users  []UserConfig
	APIKey string
	// Workers bounds how many tasks run at once; default 2*NumCPU (min 4).
	// Ready tasks are taken round-robin over users and their jobs, and PDF,
	// office and browser work may occupy at most half of the workers, so a
	// small job is not starved behind big ones.
	Workers int
	// FileTTL is how long files stay downloadable; default 24h.
	FileTTL time.Duration
	// MaxFileSize caps imports and uploads; default 1 GiB.
	MaxFileSize int64
	// SyncTimeout bounds one sync wait; the current state is answered
	// after it. Default 5 minutes.
	SyncTimeout time.Duration
	// RateLimit is the X-Ratelimit-Limit per key and minute (default 500);
	// EnforceRateLimit answers 429 beyond it (off by default: the local
	// server only reports).
	RateLimit        int
	EnforceRateLimit bool
	// ImportTimeout bounds one import/url download; default 5 minutes.
	ImportTimeout time.Duration
	// WebhookRetryDelay is the first delay between webhook attempts
	// (doubling); default 1s.
	WebhookRetryDelay time.Duration
	// HTTPClient fetches import/url and posts webhooks. When nil the
	// server builds one with sensible timeouts that refuses loopback,
	// private, link-local, unspecified and multicast addresses at dial time
	// (after DNS, on every redirect) unless AllowPrivateURLs is set; a
	// client given here is used as it is.
	HTTPClient *http.Client
	// AllowPrivateURLs lets import/url, webhooks and capture-website reach
	// loopback and private addresses: for tests and local development
	// only. Off by default, as the real service fetches public URLs only
	// and anyone who may create a task could otherwise read internal
	// services and cloud metadata through import/url -> export/url.
	AllowPrivateURLs bool
	// TaskTimeout bounds one task's run; the task then fails saying it ran
	// out of time, and its engine stops. Default 10 minutes: longer than
	// ImportTimeout (5 min) and the engines' external-program limit
	// (2 min), which keep their own messages, and short enough that a
	// runaway render frees its worker.
	TaskTimeout time.Duration
	// MaxImageMemory is the memory one image step may hold (decoded
	// input, resized output, encoder copy), computed from the header and
	// the options before decoding; over it the task fails with
	// INVALID_FILE or INVALID_OPTIONS. Default 256 MiB
	// (engine.DefaultMaxImageMemory): an 8192 x 8192 RGBA image fits, and
	// the default workers keep a server's image work near 1 GiB.
	MaxImageMemory int64
	// MaxPDFPages caps the pages one task renders; default 5000
	// (engine.DefaultMaxPages).
	MaxPDFPages int
	// WebhookSecret signs webhooks of users without their own. Empty: a
	// random secret kept in <DataDir>/webhook-secret (see
	// WebhookSecretPath), never a shared constant.
	WebhookSecret string
	// Engines does the file work; when nil one is built from EngineOptions
	// (PDFiumCacheDir defaults to <DataDir>/wazero-cache) and closed with
	// the server.
	Engines       *engine.Registry
	EngineOptions engine.Options
	// Logger receives operational messages; slog.Default() when nil.
	Logger *slog.Logger
	// IdleTimeout, when positive, closes Idle() after that long without
	// API requests or queued/running tasks (a background server uses it to
	// stop itself). 0: never.
	IdleTimeout time.Duration
}

// Server is a running local CloudConvert. It is safe for concurrent use.
type Server struct {
	cfg      Config
	base     *url.URL
	st       *store.Store
	eng      *engine.Registry
	ownsEng  bool
	api      *validator
	log      *slog.Logger
	hc       *http.Client
	keys     map[string]*UserConfig
	users    map[string]*UserConfig // by string ID
	signKey  []byte
	handler  http.Handler
	httpSrv  *http.Server
	fresh    freshConns // connections without a request yet, closed at once by Close
	listener net.Listener
	dialer   *net.Dialer // the guarded dialer, for capture-website
	// hookSecretPath is where the generated webhook secret is kept ("" when
	// Config.WebhookSecret set it).
	hookSecretPath string
	// loopbackOnly: the server is reachable on loopback only, so a request
	// naming another Host is a DNS-rebinding page or a confused proxy.
	loopbackOnly atomic.Bool

	// wmu serializes writes: mutate memory under mu, persist, then answer.
	wmu sync.Mutex
	mu  sync.RWMutex
	// state (under mu)
	jobs       map[string]*Job
	tasks      map[string]*Task
	dependents map[string][]string // task ID -> IDs of tasks that take it as input
	queued     map[string]bool
	running    map[string]context.CancelFunc
	waiters    map[string]chan struct{} // closed when the job/task ends
	seq        int64
	hooks      map[string]*Webhook // account webhooks by ID

	// events announces job and task changes to webhooks and realtime
	// subscribers (events.go).
	events     eventBus
	deliveries []chan delivery // webhook POSTs waiting, a queue per sender
	rt         *realtime
	// gen counts the times mu was taken for writing (by locked, the only
	// writer): kept answers (views) are valid while it is unchanged.
	gen   uint64
	views viewCache

	runq    *runQueue
	ctx     context.Context // ends at Close
	cancel  context.CancelFunc
	workers sync.WaitGroup
	bg      sync.WaitGroup // webhooks and other background work
	closed  atomic.Bool
	// storeClosed is set (under wmu) when the store is closed.
	storeClosed atomic.Bool
	rate        rateLimiter
	closeErr    error
	unlock      func()
	closeMu     sync.Once

	// activity, for Stats and Idle
	started    time.Time
	inflight   atomic.Int64
	lastActive atomic.Int64 // unix nanoseconds
	idle       chan struct{}
}

// Start opens the server's state in cfg.DataDir, listens on cfg.Addr and
// serves until Close.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	addr := cfg.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("localserver: listen: %w", err)
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = "http://" + hostPort(ln.Addr().(*net.TCPAddr), addr)
	}
	s, err := New(ctx, cfg)
	if err != nil {
		ln.Close()
		return nil, err
	}
	s.Serve(ln)
	return s, nil
}

// hostPort names a listener for URLs: a wildcard address becomes 127.0.0.1.
func hostPort(a *net.TCPAddr, asked string) string {
	host, _, _ := net.SplitHostPort(asked)
	if host == "" || a.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, fmt.Sprint(a.Port))
}

// Serve serves the API on ln in the background until Close. On a
// loopback listener requests must name a loopback host (or the base URL's).
func (s *Server) Serve(ln net.Listener) {
	s.listener = ln
	if a, ok := ln.Addr().(*net.TCPAddr); ok {
		s.loopbackOnly.Store(a.IP.IsLoopback())
	}
	s.httpSrv = &http.Server{Handler: s.handler, ReadHeaderTimeout: 30 * time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug), ConnState: s.fresh.track}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		if err := s.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("localserver: serve", "err", err)
		}
	}()
}

// New opens the state in cfg.DataDir, resumes unfinished work and returns
// a server whose Handler can be served. cfg.BaseURL is required.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("localserver: no data directory")
	}
	if cfg.BaseURL == "" {
		return nil, errors.New("localserver: no base URL")
	}
	base, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || base.Host == "" {
		return nil, fmt.Errorf("localserver: bad base URL %q", cfg.BaseURL)
	}
	base.Path = strings.TrimSuffix(base.Path, "/v2")
	if cfg.Workers <= 0 {
		cfg.Workers = max(4, 2*runtime.NumCPU())
	}
	if cfg.FileTTL <= 0 {
		cfg.FileTTL = 24 * time.Hour
	}
	if cfg.MaxFileSize <= 0 {
		cfg.MaxFileSize = 1 << 30
	}
	if cfg.SyncTimeout <= 0 {
		cfg.SyncTimeout = 5 * time.Minute
	}
	if cfg.RateLimit <= 0 {
		cfg.RateLimit = 500
	}
	if cfg.ImportTimeout <= 0 {
		cfg.ImportTimeout = 5 * time.Minute
	}
	if cfg.WebhookRetryDelay <= 0 {
		cfg.WebhookRetryDelay = time.Second
	}
	if cfg.TaskTimeout <= 0 {
		cfg.TaskTimeout = 10 * time.Minute
	}
	s := &Server{cfg: cfg, base: base, log: cfg.Logger, hc: cfg.HTTPClient,
		jobs: map[string]*Job{}, tasks: map[string]*Task{}, dependents: map[string][]string{},
		queued: map[string]bool{}, running: map[string]context.CancelFunc{}, waiters: map[string]chan struct{}{},
		keys: map[string]*UserConfig{}, users: map[string]*UserConfig{}, hooks: map[string]*Webhook{}}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.events.onDrop = func(consumer string, n int64) {
		s.log.Warn("localserver: events dropped: a consumer is too slow", "consumer", consumer, "dropped", n)
	}
	var hc *http.Client
	s.dialer, hc = outbound(cfg.AllowPrivateURLs, cfg.ImportTimeout)
	if s.hc == nil {
		s.hc = hc
	}
	s.loopbackOnly.Store(isLoopbackHost(base.Hostname()))
	if err := s.setupUsers(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("localserver: data dir: %w", err)
	}
	unlock, err := lockDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	s.unlock = unlock
	ok := false
	defer func() {
		if !ok {
			unlock()
		}
	}()
	if s.signKey, err = loadSecret(filepath.Join(cfg.DataDir, "signing.key")); err != nil {
		return nil, err
	}
	hookSecret := cfg.WebhookSecret
	if hookSecret == "" {
		s.hookSecretPath = filepath.Join(cfg.DataDir, "webhook-secret")
		k, err := loadSecret(s.hookSecretPath)
		if err != nil {
			return nil, err
		}
		hookSecret = hex.EncodeToString(k)
	}
	for _, u := range s.users {
		if u.WebhookSecret == "" {
			u.WebhookSecret = hookSecret
		}
	}
	if s.api, err = newValidator(base.String()); err != nil {
		return nil, err
	}
	s.st, err = store.Open(ctx, filepath.Join(cfg.DataDir, "state"), store.Options{FileTTL: cfg.FileTTL, SyncWrites: cfg.SyncWrites})
	if err != nil {
		return nil, err
	}
	s.eng = cfg.Engines
	if s.eng == nil {
		eo := cfg.EngineOptions
		if eo.PDFiumCacheDir == "" {
			eo.PDFiumCacheDir = filepath.Join(cfg.DataDir, "wazero-cache")
		}
		s.eng, s.ownsEng = engine.NewRegistry(eo), true
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.runq = newRunQueue(cfg.Workers)
	s.rt = newRealtime(s)
	s.handler = s.track(s.routes())
	s.started = time.Now()
	s.lastActive.Store(s.started.UnixNano())
	s.idle = make(chan struct{})
	err = s.load(ctx)
	if err == nil {
		err = s.startWebhooks(ctx)
	}
	if err != nil {
		s.cancel()
		s.bg.Wait()
		s.st.Close()
		if s.ownsEng {
			s.eng.Close()
		}
		return nil, err
	}
	for range cfg.Workers {
		s.workers.Add(1)
		go s.worker()
	}
	s.rt.start()
	s.bg.Add(1)
	go s.janitor()
	if cfg.IdleTimeout > 0 {
		s.bg.Add(1)
		go s.idleWatch()
	}
	s.resume()
	ok = true
	return s, nil
}

func (s *Server) setupUsers() error {
	users := append([]UserConfig(nil), s.cfg.Users...) // the caller's slice stays as given
	if len(users) == 0 {
		key := s.cfg.APIKey
		if key == "" {
			key = DefaultAPIKey
		}
		users = []UserConfig{{ID: 1, Username: "local", Email: "local@localhost", Credits: 1000, APIKeys: []string{key}}}
	}
	for i := range users {
		u := &users[i]
		if u.ID == 0 {
			u.ID = i + 1
		}
		if u.Username == "" {
			u.Username = fmt.Sprintf("user%d", u.ID)
		}
		id := fmt.Sprint(u.ID)
		if _, dup := s.users[id]; dup {
			return fmt.Errorf("localserver: user id %d configured twice", u.ID)
		}
		s.users[id] = u
		for _, k := range u.APIKeys {
			if k == "" {
				return fmt.Errorf("localserver: user %d has an empty API key", u.ID)
			}
			if _, dup := s.keys[k]; dup {
				return fmt.Errorf("localserver: an API key is configured twice")
			}
			s.keys[k] = u
		}
	}
	return nil
}

// loadSecret reads the hex secret at path, or makes a random 32-byte one
// and keeps it there (mode 0600).
func loadSecret(path string) ([]byte, error) {
	if b, err := os.ReadFile(path); err == nil {
		if k, err := hex.DecodeString(strings.TrimSpace(string(b))); err == nil && len(k) >= 16 {
			return k, nil
		}
	}
	k := make([]byte, 32)
	rand.Read(k)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(hex.EncodeToString(k)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("localserver: secret %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("localserver: secret %s: %w", filepath.Base(path), err)
	}
	return k, nil
}

// isLoopbackHost reports a loopback IP or a localhost name.
func isLoopbackHost(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && ip.Unmap().IsLoopback()
}

// WebhookSecretPath is the file holding the webhook signing secret that
// users without their own use, or "" when Config.WebhookSecret set it.
// The file holds the secret as hex; verify webhooks with that string.
func (s *Server) WebhookSecretPath() string { return s.hookSecretPath }

// URL is the server's root URL (without /v2).
func (s *Server) URL() string { return s.base.String() }

// APIURL is the REST base URL: URL()+"/v2".
func (s *Server) APIURL() string { return s.base.String() + "/v2" }

// SyncURL is the sync API's base URL: URL()+"/sync/v2".
func (s *Server) SyncURL() string { return s.base.String() + "/sync/v2" }

// SocketIOURL is the realtime (Socket.IO) endpoint's host, as the SDKs
// take it (they add /socket.io/): URL().
func (s *Server) SocketIOURL() string { return s.base.String() }

// Handler serves the API.
func (s *Server) Handler() http.Handler { return s.handler }

// Engines returns the engine registry in use.
func (s *Server) Engines() *engine.Registry { return s.eng }

// Store returns the underlying store (for tools and tests).
func (s *Server) Store() *store.Store { return s.st }

// Close stops serving, stops the workers (tasks that were running stay
// "processing" in the store and are run again by the next New), waits for
// background work and closes the store.
func (s *Server) Close() error {
	s.closeMu.Do(func() {
		s.closed.Store(true)
		var errs []error
		s.rt.close() // first: its long-polling requests would hold Shutdown
		if s.httpSrv != nil {
			s.shutdownHTTP()
		}
		s.cancel()
		s.locked(func() {
			for _, c := range s.running {
				c()
			}
			for id, ch := range s.waiters {
				close(ch)
				delete(s.waiters, id)
			}
		})
		s.workers.Wait()
		s.bg.Wait()
		func() {
			s.wmu.Lock() // no write in flight
			defer s.wmu.Unlock()
			s.storeClosed.Store(true)
			errs = append(errs, s.st.Close())
		}()
		if s.ownsEng {
			errs = append(errs, s.eng.Close())
		}
		s.unlock()
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// shutdownHTTP lets the requests in flight finish (for up to 5 s) and
// closes the connections. Connections that have not begun a request are
// closed at once, and again every 20 ms while Shutdown waits (one may have
// been accepted as it began), instead of being waited for.
func (s *Server) shutdownHTTP() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.httpSrv.Shutdown(ctx) }()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for { // bounded: Shutdown returns by ctx's deadline
		s.fresh.closeAll()
		select {
		case err := <-done:
			if err != nil {
				s.httpSrv.Close()
			}
			return
		case <-tick.C:
		}
	}
}

// load reads every job and task into memory.
func (s *Server) load(ctx context.Context) error {
	for page := 1; ; page++ {
		recs, more, err := s.st.ListJobs(ctx, store.JobFilter{Page: page, PerPage: 1000})
		if err != nil {
			return err
		}
		for _, r := range recs {
			var sj storedJob
			if err := json.Unmarshal(r.Doc, &sj); err != nil {
				return fmt.Errorf("localserver: job %s: %w", r.ID, err)
			}
			j := sj.Job
			j.local = sj.Local
			j.local.announced = j.Status
			j.Tasks = nil
			s.jobs[j.ID] = &j
			s.seq = max(s.seq, j.local.Seq)
		}
		if !more {
			break
		}
	}
	for page := 1; ; page++ {
		recs, more, err := s.st.ListTasks(ctx, store.TaskFilter{Page: page, PerPage: 1000})
		if err != nil {
			return err
		}
		for _, r := range recs {
			var stt storedTask
			if err := json.Unmarshal(r.Doc, &stt); err != nil {
				return fmt.Errorf("localserver: task %s: %w", r.ID, err)
			}
			t := stt.Task
			t.local = stt.Local
			t.local.announced = t.Status
			s.tasks[t.ID] = &t
			s.seq = max(s.seq, t.local.Seq)
		}
		if !more {
			break
		}
	}
	// Rebuild job task lists and the dependents index, in creation order.
	ids := make([]string, 0, len(s.tasks))
	for id := range s.tasks {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(a, b int) bool { return s.tasks[ids[a]].local.Seq < s.tasks[ids[b]].local.Seq })
	for _, id := range ids {
		t := s.tasks[id]
		if j := s.jobs[t.jobID()]; j != nil {
			j.Tasks = append(j.Tasks, t)
		}
		for _, d := range t.DependsOnTasks {
			s.dependents[d] = append(s.dependents[d], t.ID)
		}
	}
	return nil
}

// maxCrashResumes is how often a task that was running when the process
// died is started again. One resume survives an unrelated kill -9; a second
// death during the same task marks it failed, so an input that crashes the
// server cannot crash it again at every start.
const maxCrashResumes = 1

// resume puts interrupted and runnable work back in motion after load.
func (s *Server) resume() {
	var interrupted, all []string
	s.rlocked(func() {
		for id, t := range s.tasks {
			all = append(all, id)
			if t.Status == StatusProcessing {
				interrupted = append(interrupted, id)
			}
		}
	})
	for _, id := range interrupted {
		crashed := false
		s.update(id, func(t *Task) {
			if t.Operation == "import/upload" {
				// The upload was complete before it was marked processing.
				t.Status = StatusWaiting
				return
			}
			if !t.local.Stopped { // running when the process died
				t.local.Crashes++
			}
			t.local.Stopped = false
			if t.local.Crashes > maxCrashResumes {
				crashed = true
				failTask(t, CodeCrashLoop, fmt.Sprintf("The server process died %d times while this task was running (crashed or killed); "+
					"it is not started again, so that it cannot crash the server at every start. Retry the task if those stops were unrelated.", t.local.Crashes))
				return
			}
			t.Status, t.Percent, t.StartedAt = StatusWaiting, 0, Time{}
			t.Message = strp("Resumed after a server restart")
			t.Engine, t.EngineVersion = nil, nil
			t.local.Resumed = true
		})
		if crashed {
			s.log.Error("localserver: not resuming a task that was running at every crash", "task", id)
			continue
		}
		s.log.Info("localserver: resuming a task interrupted by a restart", "task", id)
	}
	for _, id := range all {
		s.reconcile(id)
	}
	var jobs []string
	s.rlocked(func() {
		for id := range s.jobs {
			jobs = append(jobs, id)
		}
	})
	for _, id := range jobs {
		s.finishJobIfDone(id)
	}
	s.sweepSpool(false)
}

// janitor expires files periodically.
func (s *Server) janitor() {
	defer s.bg.Done()
	every := min(max(s.cfg.FileTTL/10, time.Second), 10*time.Minute)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			s.expire()
		}
	}
}

// expire removes expired files and spooled inline contents.
func (s *Server) expire() {
	defer s.recoverBackground("janitor")
	s.storeOp(func() error {
		if n, err := s.st.ExpireFiles(s.ctx, time.Now()); err != nil {
			s.log.Warn("localserver: expire files", "err", err)
		} else if n > 0 {
			s.log.Info("localserver: expired files", "count", n)
		}
		return nil
	})
	s.sweepSpool(true)
}

// recoverBackground keeps a panic in background work from ending the
// process; deferred by every goroutine the server starts.
func (s *Server) recoverBackground(what string) {
	if p := recover(); p != nil {
		s.log.Error("localserver: background panic", "in", what, "panic", p)
	}
}

// locked runs fn under the state lock; the deferred unlock keeps the lock
// free when fn panics. It is the only way to take mu for writing: it
// counts the change (gen), which invalidates the kept answers (views.go).
func (s *Server) locked(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	fn()
}

// rlocked runs fn under the state read lock.
func (s *Server) rlocked(fn func()) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	fn()
}

// storeOp runs a store call serialized with writes; it fails once the
// store is closed.
func (s *Server) storeOp(fn func() error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.storeClosed.Load() {
		return errClosed
	}
	return fn()
}

// lockedError is returned by New when another server uses the data dir.
type lockedError struct{ dir string }

func (e *lockedError) Error() string {
	return fmt.Sprintf("localserver: the data directory %s is in use by another server", e.dir)
}

// IsLocked reports whether err says that the data directory is in use by
// another server process.
func IsLocked(err error) bool {
	var le *lockedError
	return errors.As(err, &le)
}

// DataDir is the data directory in use.
func (s *Server) DataDir() string { return s.cfg.DataDir }
