package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestWebhooks: account webhooks round-trip, list newest first by user and
// URL with paging, survive a reopen, and delete once.
func TestWebhooks(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir, Options{})
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 5 {
		user := "1"
		if i == 4 {
			user = "2"
		}
		url := fmt.Sprintf("https://example.com/%d", i%2)
		doc, _ := json.Marshal(map[string]any{"id": fmt.Sprint("h", i), "signing_secret": "s"})
		if err := s.PutWebhook(ctx, WebhookRecord{ID: fmt.Sprint("h", i), UserID: user, URL: url, CreatedAt: base.Add(time.Duration(i) * time.Minute), Doc: doc}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutWebhook(ctx, WebhookRecord{ID: "bad", UserID: "1", Doc: []byte("{")}); err == nil {
		t.Error("invalid JSON was stored")
	}
	ids := func(f WebhookFilter) ([]string, bool) {
		t.Helper()
		recs, more, err := s.ListWebhooks(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range recs {
			out = append(out, r.ID)
		}
		return out, more
	}
	if got, more := ids(WebhookFilter{UserID: "1"}); fmt.Sprint(got) != "[h3 h2 h1 h0]" || more {
		t.Errorf("user 1: %v %v", got, more)
	}
	if got, _ := ids(WebhookFilter{UserID: "1", URL: "https://example.com/1"}); fmt.Sprint(got) != "[h3 h1]" {
		t.Errorf("by url: %v", got)
	}
	if got, more := ids(WebhookFilter{UserID: "1", PerPage: 3}); fmt.Sprint(got) != "[h3 h2 h1]" || !more {
		t.Errorf("page 1: %v %v", got, more)
	}
	if got, more := ids(WebhookFilter{UserID: "1", PerPage: 3, Page: 2}); fmt.Sprint(got) != "[h0]" || more {
		t.Errorf("page 2: %v %v", got, more)
	}
	if err := s.DeleteWebhook(ctx, "h2"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteWebhook(ctx, "h2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	s.Close()
	s = open(t, dir, Options{})
	if got, _ := ids(WebhookFilter{}); fmt.Sprint(got) != "[h4 h3 h1 h0]" {
		t.Errorf("after reopen: %v", got)
	}
}
