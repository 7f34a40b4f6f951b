package localserver

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/cctoolkit/cloudconvert/sdk/webhook"
)

// sendWebhook posts {"event", "job"} to the job's webhook_url in the
// background, signed with the owner's secret over the raw body; network
// errors and 5xx are retried 3 times with a doubling delay.
func (s *Server) sendWebhook(jobID, event string) {
	var target, secret string
	var body []byte
	var err error
	s.rlocked(func() {
		j := s.jobs[jobID]
		if j == nil || j.local.WebhookURL == "" {
			return
		}
		target = j.local.WebhookURL
		if u := s.users[j.local.UserID]; u != nil {
			secret = u.WebhookSecret
		}
		body, err = json.Marshal(map[string]any{"event": event, "job": s.renderJob(j, true)})
	})
	if target == "" || err != nil {
		return
	}
	sig := webhook.Sign(secret, body)
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		defer s.recoverBackground("webhook")
		delay := s.cfg.WebhookRetryDelay
		var lastErr error
		for attempt := 0; attempt <= 3; attempt++ {
			if attempt > 0 {
				select {
				case <-time.After(delay):
				case <-s.ctx.Done():
					return
				}
				delay *= 2
			}
			ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
			if err != nil {
				cancel()
				return
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("CloudConvert-Signature", sig)
			req.Header.Set("User-Agent", "cloudconvert-local-webhook/1")
			resp, err := s.hc.Do(req)
			cancel()
			lastErr = err
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode < 500 {
					return // delivered, or refused for good (4xx, 410 included)
				}
			}
			if s.ctx.Err() != nil {
				return
			}
			s.log.Debug("localserver: webhook attempt failed", "job", jobID, "event", event, "attempt", attempt+1, "err", err)
		}
		s.log.Warn("localserver: webhook not delivered", "job", jobID, "event", event, "url", target, "err", lastErr)
	}()
}
