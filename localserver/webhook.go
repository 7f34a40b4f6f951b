package localserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/cctoolkit/cloudconvert/localserver/store"
	"github.com/cctoolkit/cloudconvert/sdk/webhook"
)

// Webhooks, as CloudConvert sends them: a job's webhook_url receives
// job.finished and job.failed; an account webhook (POST /v2/webhooks)
// receives the events it subscribed to, signed with its own secret. A
// delivery is a POST of {"event", "job"} with CloudConvert-Signature (hex
// HMAC-SHA256 of the raw body); network errors and 5xx answers are retried
// 3 times with a doubling delay; a 410 answer disables an account webhook.
// Deliveries go through the server's guarded client (public addresses
// only unless AllowPrivateURLs).

// webhookEvents are the events an account webhook may subscribe to.
var webhookEvents = []string{EventJobCreated, EventJobFinished, EventJobFailed}

// Bounds of webhook delivery: the events waiting for the dispatcher, the
// deliveries waiting for the senders (all queues together), the senders,
// the time of one attempt,
// and how many webhooks one user may have (the real limit is not
// documented; this one keeps a user's fan-out small).
const (
	hookEventQueue    = 1024
	hookDeliveryQueue = 1024
	hookSenders       = 8
	hookAttemptTime   = 30 * time.Second
	maxUserWebhooks   = 100
)

// Webhook is an account webhook as the API shows it.
type Webhook struct {
	ID            string   `json:"id"`
	URL           string   `json:"url"`
	Disabled      bool     `json:"disabled"`
	Events        []string `json:"events"`
	Failing       bool     `json:"failing"`
	SigningSecret string   `json:"signing_secret"`
	CreatedAt     Time     `json:"created_at"`
	UpdatedAt     Time     `json:"updated_at"`
	Links         links    `json:"links"`

	userID string
}

// storedHook is a webhook as stored: the wire shape plus its owner.
type storedHook struct {
	Webhook
	UserID string `json:"_user_id"`
}

// renderHook makes the wire view of a webhook; under mu (read).
func (s *Server) renderHook(h *Webhook) *Webhook {
	c := *h
	c.Events = slices.Clone(h.Events)
	c.Links = links{Self: s.base.String() + "/v2/webhooks/" + h.ID}
	return &c
}

// delivery is one webhook POST to make.
type delivery struct {
	target, secret string
	body           []byte
	event, jobID   string
	hookID         string // account webhook, "" for a job's webhook_url
}

// startWebhooks loads the account webhooks and starts the dispatcher and
// the senders; they stop with the server.
func (s *Server) startWebhooks(ctx context.Context) error {
	for page := 1; ; page++ {
		recs, more, err := s.st.ListWebhooks(ctx, store.WebhookFilter{Page: page, PerPage: 1000})
		if err != nil {
			return err
		}
		for _, r := range recs {
			var sh storedHook
			if err := json.Unmarshal(r.Doc, &sh); err != nil {
				return fmt.Errorf("localserver: webhook %s: %w", r.ID, err)
			}
			h := sh.Webhook
			h.userID = sh.UserID
			s.hooks[h.ID] = &h
		}
		if !more {
			break
		}
	}
	sub := s.events.subscribe("webhooks", hookEventQueue, func(name string) bool { return strings.HasPrefix(name, "job.") })
	// One queue per sender, and a URL always to the same sender: one
	// endpoint receives its events in order (job.created before
	// job.finished), different endpoints in parallel.
	s.deliveries = make([]chan delivery, hookSenders)
	s.bg.Add(1 + hookSenders)
	go s.dispatchWebhooks(sub)
	for i := range s.deliveries {
		s.deliveries[i] = make(chan delivery, hookDeliveryQueue/hookSenders)
		go s.sendWebhooks(s.deliveries[i])
	}
	return nil
}

// dispatchWebhooks turns job events into deliveries.
func (s *Server) dispatchWebhooks(sub *eventSub) {
	defer s.bg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case e := <-sub.ch:
			s.dispatch(e)
		}
	}
}

func (s *Server) dispatch(e *event) {
	defer s.recoverBackground("webhook dispatch")
	body, err := json.Marshal(map[string]any{"event": e.name, "job": e.job})
	if err != nil {
		s.log.Error("localserver: webhook payload", "job", e.jobID, "err", err)
		return
	}
	var out []delivery
	s.rlocked(func() {
		if u := s.users[e.userID]; u != nil && e.job.local.WebhookURL != "" && (e.name == EventJobFinished || e.name == EventJobFailed) {
			out = append(out, delivery{target: e.job.local.WebhookURL, secret: u.WebhookSecret, body: body, event: e.name, jobID: e.jobID})
		}
		for _, h := range s.hooks {
			if h.userID == e.userID && !h.Disabled && slices.Contains(h.Events, e.name) {
				out = append(out, delivery{target: h.URL, secret: h.SigningSecret, body: body, event: e.name, jobID: e.jobID, hookID: h.ID})
			}
		}
	})
	sort.Slice(out, func(a, b int) bool { return out[a].hookID < out[b].hookID })
	for _, d := range out {
		h := fnv.New32a()
		h.Write([]byte(d.target))
		select {
		case s.deliveries[h.Sum32()%uint32(len(s.deliveries))] <- d:
		default:
			s.log.Warn("localserver: webhook dropped: too many deliveries pending", "job", d.jobID, "event", d.event, "url", redactURL(d.target))
		}
	}
}

func (s *Server) sendWebhooks(queue <-chan delivery) {
	defer s.bg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case d := <-queue:
			s.deliver(d)
		}
	}
}

// deliver posts d, retrying network errors and 5xx 3 times.
func (s *Server) deliver(d delivery) {
	defer s.recoverBackground("webhook")
	sig := webhook.Sign(d.secret, d.body)
	delay := s.cfg.WebhookRetryDelay
	var lastErr error
	for attempt := 0; attempt <= 3; attempt++ {
		if attempt > 0 {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-s.ctx.Done():
				t.Stop()
				return
			}
			delay *= 2
		}
		status, err := s.post(d.target, sig, d.body)
		switch {
		case err == nil && status < 300:
			s.hookOutcome(d.hookID, false, false)
			return
		case err == nil && status == http.StatusGone:
			s.log.Info("localserver: webhook answered 410 Gone: disabled", "webhook", d.hookID, "url", redactURL(d.target))
			s.hookOutcome(d.hookID, true, true)
			return
		case err == nil && status < 500:
			lastErr = fmt.Errorf("answered %d", status)
			s.log.Warn("localserver: webhook refused", "job", d.jobID, "event", d.event, "url", redactURL(d.target), "status", status)
			s.hookOutcome(d.hookID, true, false)
			return
		case err == nil:
			lastErr = fmt.Errorf("answered %d", status)
		default:
			lastErr = err
		}
		if s.ctx.Err() != nil {
			return
		}
		s.log.Debug("localserver: webhook attempt failed", "job", d.jobID, "event", d.event, "attempt", attempt+1, "err", lastErr)
	}
	s.log.Warn("localserver: webhook not delivered", "job", d.jobID, "event", d.event, "url", redactURL(d.target), "err", lastErr)
	s.hookOutcome(d.hookID, true, false)
}

// post makes one attempt; the status, or the error of a request that got
// no answer.
func (s *Server) post(target, sig string, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(s.ctx, hookAttemptTime)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(webhook.SignatureHeader, sig)
	req.Header.Set("User-Agent", "cloudconvert-local-webhook/1")
	resp, err := s.hc.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// hookOutcome records on an account webhook whether its last delivery
// failed, and disables it (410); a job's webhook_url ("") has no record.
func (s *Server) hookOutcome(id string, failing, disable bool) {
	if id == "" {
		return
	}
	var rec *store.WebhookRecord
	s.locked(func() {
		h := s.hooks[id]
		if h == nil || (h.Failing == failing && (!disable || h.Disabled)) {
			return
		}
		h.Failing = failing
		h.Disabled = h.Disabled || disable
		h.UpdatedAt = now()
		r, err := hookRecord(h)
		if err != nil {
			return
		}
		rec = &r
	})
	if rec != nil {
		if err := s.storeOp(func() error { return s.st.PutWebhook(s.ctx, *rec) }); err != nil && !errors.Is(err, errClosed) {
			s.log.Warn("localserver: store webhook state", "webhook", id, "err", err)
		}
	}
}

func hookRecord(h *Webhook) (store.WebhookRecord, error) {
	doc, err := json.Marshal(storedHook{Webhook: *h, UserID: h.userID})
	if err != nil {
		return store.WebhookRecord{}, fmt.Errorf("localserver: encode webhook: %w", err)
	}
	return store.WebhookRecord{ID: h.ID, UserID: h.userID, URL: h.URL, CreatedAt: h.CreatedAt.Time, Doc: doc}, nil
}

// redactURL keeps a webhook URL's credentials and query out of the log.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

// ---- the API: POST /v2/webhooks, GET /v2/users/me/webhooks, DELETE /v2/webhooks/{id} ----

type hookRequest struct {
	URL    *string  `json:"url"`
	Events []string `json:"events"`
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request, c *call) {
	var req hookRequest
	if err := json.Unmarshal(c.body, &req); err != nil {
		c.fail(w, errInvalid("The given data was invalid.", map[string][]string{"body": {"The request body must be a JSON object with url and events."}}))
		return
	}
	fields := map[string][]string{}
	if req.URL == nil || *req.URL == "" {
		fields["url"] = []string{"The url field is required."}
	} else if u, err := url.Parse(*req.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(*req.URL) > maxURLLen {
		fields["url"] = []string{fmt.Sprintf("The url must be an http or https URL of at most %d bytes.", maxURLLen)}
	}
	if len(req.Events) == 0 {
		fields["events"] = []string{"The events field is required: one or more of " + strings.Join(webhookEvents, ", ") + "."}
	}
	var events []string
	for i, ev := range req.Events {
		if !slices.Contains(webhookEvents, ev) {
			key := fmt.Sprintf("events.%d", i)
			fields[key] = append(fields[key], fmt.Sprintf("The event %q is not one of %s.", short(ev), strings.Join(webhookEvents, ", ")))
			continue
		}
		if !slices.Contains(events, ev) {
			events = append(events, ev)
		}
	}
	if len(fields) > 0 {
		c.fail(w, errInvalid("The given data was invalid.", fields))
		return
	}
	secret := make([]byte, 16)
	rand.Read(secret)
	n := now()
	h := &Webhook{ID: uuid.NewString(), URL: *req.URL, Events: events, SigningSecret: hex.EncodeToString(secret),
		CreatedAt: n, UpdatedAt: n, userID: fmt.Sprint(c.user.ID)}
	rec, err := hookRecord(h)
	if err != nil {
		c.fail(w, &apiError{Status: http.StatusInternalServerError, Code: "INTERNAL_ERROR", Message: "The webhook could not be stored"})
		return
	}
	var e *apiError
	err = s.storeOp(func() error {
		// Counted and added under wmu: two concurrent creations cannot both
		// pass the limit.
		count := 0
		s.rlocked(func() {
			for _, x := range s.hooks {
				if x.userID == h.userID {
					count++
				}
			}
		})
		if count >= maxUserWebhooks {
			e = errInvalid("The given data was invalid.", map[string][]string{"url": {fmt.Sprintf("An account may have at most %d webhooks; delete one first.", maxUserWebhooks)}})
			return nil
		}
		if err := s.st.PutWebhook(r.Context(), rec); err != nil {
			return err
		}
		s.locked(func() { s.hooks[h.ID] = h })
		return nil
	})
	if e != nil {
		c.fail(w, e)
		return
	}
	if err != nil {
		c.fail(w, &apiError{Status: http.StatusInternalServerError, Code: "INTERNAL_ERROR", Message: "The webhook could not be stored"})
		return
	}
	var view *Webhook
	s.rlocked(func() { view = s.renderHook(h) })
	c.ok(w, http.StatusCreated, dataEnvelope{view})
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	page, perPage, e := pageParams(q, "list_webhooks")
	if e != nil {
		c.fail(w, e)
		return
	}
	target := q.Get("filter[url]")
	uid := fmt.Sprint(c.user.ID)
	var views []*Webhook
	hasNext := false
	s.rlocked(func() {
		var match []*Webhook
		for _, h := range s.hooks {
			if h.userID == uid && (target == "" || h.URL == target) {
				match = append(match, h)
			}
		}
		sort.Slice(match, func(a, b int) bool {
			if !match[a].CreatedAt.Equal(match[b].CreatedAt.Time) {
				return match[a].CreatedAt.After(match[b].CreatedAt.Time)
			}
			return match[a].ID < match[b].ID
		})
		views, hasNext = pageViews(match, page, perPage, s.renderHook)
	})
	c.ok(w, http.StatusOK, s.envelope("/v2/users/me/webhooks", q, page, perPage, len(views), hasNext, views))
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("id")
	uid := fmt.Sprint(c.user.ID)
	found := false
	err := s.storeOp(func() error {
		s.rlocked(func() {
			h := s.hooks[id]
			found = h != nil && h.userID == uid
		})
		if !found {
			return nil
		}
		if err := s.st.DeleteWebhook(r.Context(), id); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		s.locked(func() { delete(s.hooks, id) })
		return nil
	})
	switch {
	case err != nil:
		c.fail(w, &apiError{Status: http.StatusInternalServerError, Code: "INTERNAL_ERROR", Message: "The webhook could not be deleted"})
	case !found:
		c.fail(w, errNotFound("Webhook"))
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}
