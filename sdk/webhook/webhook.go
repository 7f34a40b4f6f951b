// Package webhook verifies and dispatches CloudConvert webhook deliveries.
//
// CloudConvert POSTs {"event": "job.finished", "job": {...}} with the
// header CloudConvert-Signature: the lowercase hex HMAC-SHA256 of the raw
// body bytes, keyed with the webhook's signing secret. Verify checks it in
// constant time; Handler verifies, decodes and dispatches by event.
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/cctoolkit/cloudconvert/generated/cloudconvert/client"
)

// SignatureHeader is the header carrying the signature.
const SignatureHeader = "CloudConvert-Signature"

// The events CloudConvert sends.
const (
	JobCreated  = "job.created"
	JobFinished = "job.finished"
	JobFailed   = "job.failed"
)

// Errors of Verify, matched with errors.Is.
var (
	ErrNoSignature  = errors.New("webhook: no " + SignatureHeader + " header")
	ErrBadSignature = errors.New("webhook: signature does not match")
	ErrNoSecret     = errors.New("webhook: no signing secret configured")
)

// Sign returns the signature CloudConvert would send for body.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Verify checks signatureHeader against the HMAC-SHA256 of the raw body,
// in constant time. Pass the body exactly as received: re-encoded JSON
// does not verify. The header may be upper- or lowercase hex.
func Verify(secret string, rawBody []byte, signatureHeader string) error {
	if secret == "" {
		return ErrNoSecret
	}
	sig := strings.TrimSpace(signatureHeader)
	if sig == "" {
		return ErrNoSignature
	}
	got, err := hex.DecodeString(sig)
	if err != nil || len(got) != sha256.Size {
		return ErrBadSignature
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(rawBody)
	if !hmac.Equal(m.Sum(nil), got) {
		return ErrBadSignature
	}
	return nil
}

// Event is a decoded delivery.
type Event struct {
	Event string     `json:"event"`
	Job   client.Job `json:"job"`
	// Raw is the body as received.
	Raw []byte `json:"-"`
}

// HandlerFunc handles one event. An error answers 500, so CloudConvert
// delivers again (it retries 3 times on network errors and 5xx).
type HandlerFunc func(ctx context.Context, e *Event) error

// Handler is an http.Handler for webhook deliveries. Register handlers per
// event with On; unknown events are acknowledged (200) unless Fallback is
// set.
type Handler struct {
	secrets  []string
	handlers map[string]HandlerFunc
	// Fallback handles events with no handler of their own.
	Fallback HandlerFunc
	// MaxBody bounds the body read (default 10 MiB).
	MaxBody int64
	// Logger, if set, logs rejected and failed deliveries.
	Logger *slog.Logger
}

// NewHandler returns a handler that accepts a delivery signed with any of
// the secrets (several allow rotating a secret without downtime).
func NewHandler(secrets ...string) *Handler {
	var s []string
	for _, x := range secrets {
		if x != "" {
			s = append(s, x)
		}
	}
	return &Handler{secrets: s, handlers: map[string]HandlerFunc{}}
}

// On registers fn for an event ("job.finished", ...) and returns h.
func (h *Handler) On(event string, fn HandlerFunc) *Handler {
	h.handlers[event] = fn
	return h
}

// ServeHTTP answers 405 to non-POST, 413 to a body over MaxBody, 401 to a
// missing or wrong signature, 400 to a body that is not an event, 500 when
// the event's handler fails, and 200 otherwise.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	limit := h.MaxBody
	if limit <= 0 {
		limit = 10 << 20
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	if int64(len(body)) > limit {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	if err := h.verify(body, r.Header.Get(SignatureHeader)); err != nil {
		h.logf(r.Context(), slog.LevelWarn, "webhook rejected", err)
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return
	}
	ev, err := Decode(body)
	if err != nil {
		h.logf(r.Context(), slog.LevelWarn, "webhook body invalid", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	fn := h.handlers[ev.Event]
	if fn == nil {
		fn = h.Fallback
	}
	if fn != nil {
		if err := fn(r.Context(), ev); err != nil {
			h.logf(r.Context(), slog.LevelError, "webhook handler failed", fmt.Errorf("%s %s: %w", ev.Event, ev.Job.Id, err))
			http.Error(w, "handler failed", http.StatusInternalServerError)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}

func (h *Handler) verify(body []byte, sig string) error {
	if len(h.secrets) == 0 {
		return ErrNoSecret
	}
	var err error
	for _, s := range h.secrets {
		if err = Verify(s, body, sig); err == nil {
			return nil
		}
	}
	return err
}

func (h *Handler) logf(ctx context.Context, level slog.Level, msg string, err error) {
	if h.Logger != nil {
		h.Logger.LogAttrs(ctx, level, msg, slog.String("error", err.Error()))
	}
}

// Decode parses a delivery body (verify it first).
func Decode(body []byte) (*Event, error) {
	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, fmt.Errorf("webhook: body is not a CloudConvert event: %w", err)
	}
	if ev.Event == "" {
		return nil, errors.New("webhook: body has no \"event\"")
	}
	ev.Raw = body
	return &ev, nil
}
