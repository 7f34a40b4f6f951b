package catalogue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cctoolkit/cloudconvert/generated/cloudconvert"
	"github.com/cctoolkit/cloudconvert/integration"
	"github.com/cctoolkit/cloudconvert/integration/transport"
)

// Defaults of a Source.
const (
	// DefaultTTL is how long a catalogue kept on disk is used before it is
	// fetched again. A refusal made with a catalogue read from disk is
	// checked against a fresh one first, so a server that learnt an
	// operation since is not refused for the TTL.
	DefaultTTL = 24 * time.Hour
	// RefreshAfter is how old a catalogue this process fetched must be
	// before a refusal fetches it again (a long-lived MCP server whose
	// local server has since gained an engine).
	RefreshAfter = time.Minute
	// FetchTimeout bounds fetching a catalogue, all pages.
	FetchTimeout = 30 * time.Second
	// MaxSize bounds one page of the answer.
	MaxSize = 32 << 20
	// MaxPages bounds a paginated answer.
	MaxPages = 100
)

// Source is the catalogue of one server: fetched on first use (GET
// <BaseURL>/operations?include=options), kept in memory for the Source's
// life and on disk under CacheDir for TTL. It is safe for concurrent use.
type Source struct {
	// BaseURL is the server's API URL, e.g. https://api.cloudconvert.com/v2.
	BaseURL string
	// APIKey is sent when set; the list is public, so none is needed.
	APIKey string
	// HTTPClient fetches; a retrying transport client when nil.
	HTTPClient *http.Client
	// CacheDir keeps catalogues on disk, one file per server URL; none
	// when "".
	CacheDir string
	// TTL of a catalogue on disk; DefaultTTL when 0.
	TTL time.Duration
	// Notice, when set, is told once that the catalogue is not available
	// (tasks then go out unchecked).
	Notice func(msg string)

	mu         sync.Mutex
	cat        *Catalogue
	fresh      bool  // cat was fetched by this Source (at cat.FetchedAt), not read from disk
	fetchErr   error // the catalogue could not be had: not asked again for RefreshAfter
	fetchErrAt time.Time
	noticed    bool
}

// ListURL is the URL the catalogue is read from: the descriptor's
// list_operations with its options included.
func (s *Source) ListURL() string {
	fn := cloudconvert.Descriptor().Function("list_operations")
	req, err := fn.Build(integration.ObjectOf("include", "options"), integration.JSON)
	if err != nil {
		// The spec's own arguments: a descriptor that refuses them is a
		// build gone wrong.
		panic("catalogue: list_operations refuses include=options: " + err.Error())
	}
	return req.URL(s.BaseURL)
}

// listPath is ListURL without its query: the catalogue's own URL.
func (s *Source) listPath() string {
	u := s.ListURL()
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

// Catalogue returns the catalogue: from memory, else from disk when it is
// younger than the TTL, else fetched (and written to disk).
func (s *Source) Catalogue(ctx context.Context) (*Catalogue, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cat != nil && time.Since(s.cat.FetchedAt) < s.ttl() {
		return s.cat, nil
	}
	if s.fetchErr != nil && time.Since(s.fetchErrAt) < RefreshAfter {
		return nil, s.fetchErr
	}
	if c := s.readCache(); c != nil {
		s.cat = c
		return c, nil
	}
	c, err := s.fetchLocked(ctx)
	if err != nil && s.cat != nil {
		return s.cat, nil // an old list beats none
	}
	return c, err
}

// Refresh fetches the catalogue again, unless this Source fetched it in
// the last RefreshAfter; it reports whether the catalogue is new.
func (s *Source) Refresh(ctx context.Context) (*Catalogue, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fresh && s.cat != nil && time.Since(s.cat.FetchedAt) < RefreshAfter {
		return s.cat, false, nil
	}
	c, err := s.fetchLocked(ctx)
	return c, err == nil, err
}

func (s *Source) fetchLocked(ctx context.Context) (*Catalogue, error) {
	c, err := s.fetch(ctx)
	if err != nil {
		if s.cat == nil {
			s.fetchErr, s.fetchErrAt = err, time.Now()
		}
		return nil, err
	}
	s.cat, s.fresh = c, true
	s.writeCache(c)
	return c, nil
}

// fetch reads every page of the list.
func (s *Source) fetch(ctx context.Context) (*Catalogue, error) {
	ctx, cancel := context.WithTimeout(ctx, FetchTimeout)
	defer cancel()
	hc := s.HTTPClient
	if hc == nil {
		var secrets []string
		if s.APIKey != "" {
			secrets = []string{s.APIKey}
		}
		// A few tries only: without the catalogue the tasks go unchecked.
		hc = transport.New(transport.Options{UserAgent: "cloudconvert-catalogue", Secrets: secrets,
			Policy: transport.Policy{MaxAttempts: 3, MaxElapsed: 10 * time.Second}}).Client()
	}
	first := s.ListURL()
	c := &Catalogue{URL: s.listPath(), FetchedAt: time.Now().UTC()}
	next := first
	for pages := 0; next != ""; pages++ {
		if pages == MaxPages {
			return nil, fmt.Errorf("GET %s: more than %d pages", first, MaxPages)
		}
		u, err := url.Parse(next)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("GET %s: the next page's URL %q is not an http(s) URL", first, next)
		}
		data, err := s.get(ctx, hc, next)
		if err != nil {
			return nil, err
		}
		ops, more, err := Parse(data)
		if err != nil {
			return nil, fmt.Errorf("GET %s: %w", next, err)
		}
		c.Operations = append(c.Operations, ops...)
		next = more
	}
	return c, nil
}

func (s *Source) get(ctx context.Context, hc *http.Client, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	req.Header.Set("Accept", "application/json")
	if s.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+s.APIKey)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: reading the answer: %w", u, err)
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("GET %s: the answer is larger than %d bytes", u, MaxSize)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: the server answered %s", u, resp.Status)
	}
	return data, nil
}

// cacheFile is the file of this server's catalogue: one per URL.
func (s *Source) cacheFile() string {
	if s.CacheDir == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(s.ListURL()))
	return filepath.Join(s.CacheDir, "operations-"+hex.EncodeToString(sum[:12])+".json")
}

func (s *Source) ttl() time.Duration {
	if s.TTL > 0 {
		return s.TTL
	}
	return DefaultTTL
}

// readCache returns the catalogue on disk when it is this server's and
// younger than the TTL; anything else (missing, old, damaged) is nil.
func (s *Source) readCache() *Catalogue {
	path := s.cacheFile()
	if path == "" {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 4*MaxSize+1))
	if err != nil || len(data) > 4*MaxSize {
		return nil
	}
	var c Catalogue
	if json.Unmarshal(data, &c) != nil || c.URL != s.listPath() || len(c.Operations) == 0 {
		return nil
	}
	if age := time.Since(c.FetchedAt); age < 0 || age > s.ttl() {
		return nil
	}
	return &c
}

// writeCache keeps c on disk, atomically; failing to is not an error (the
// next run fetches again).
func (s *Source) writeCache(c *Catalogue) {
	path := s.cacheFile()
	if path == "" {
		return
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return
	}
	data, err := json.Marshal(c)
	if err != nil {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".operations-*")
	if err != nil {
		return
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if werr != nil || cerr != nil || os.Rename(tmp.Name(), path) != nil {
		os.Remove(tmp.Name())
	}
}

// Check checks tasks against the catalogue before they are sent. Without
// a catalogue it tells Notice once and returns nil: the tasks go out
// unchecked. A refusal made with a catalogue read from disk is confirmed
// against a fresh one. The error is an *Error.
func (s *Source) Check(ctx context.Context, tasks []Task) error {
	c, err := s.Catalogue(ctx)
	if err != nil {
		s.notice(err)
		return nil
	}
	problem := c.Check(tasks)
	if problem == nil {
		return nil
	}
	if fresh, isNew, err := s.Refresh(ctx); err == nil && isNew {
		problem = fresh.Check(tasks)
	}
	if problem == nil {
		return nil
	}
	return problem
}

func (s *Source) notice(err error) {
	s.mu.Lock()
	if s.noticed || s.Notice == nil {
		s.mu.Unlock()
		return
	}
	s.noticed = true
	s.mu.Unlock()
	s.Notice(fmt.Sprintf("the operations catalogue is not available (%v): tasks are sent without checking their operations, formats and options", err))
}
