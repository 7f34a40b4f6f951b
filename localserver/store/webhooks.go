package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// WebhookRecord is an account webhook as stored: its JSON document (the
// server owns its shape, the signing secret included) plus the fields
// listing needs.
type WebhookRecord struct {
	ID        string
	UserID    string
	URL       string
	CreatedAt time.Time
	Doc       json.RawMessage
}

// WebhookFilter selects webhooks for ListWebhooks. Empty fields match
// everything; paging is as for JobFilter.
type WebhookFilter struct {
	UserID, URL   string
	Page, PerPage int
}

// PutWebhook inserts or replaces a webhook.
func (s *Store) PutWebhook(ctx context.Context, w WebhookRecord) error {
	if w.ID == "" || w.UserID == "" {
		return errors.New("store: webhook without id or user")
	}
	if err := validDoc(w.Doc); err != nil {
		return err
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO webhooks (id, user_id, url, created_at, doc) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, url = excluded.url, created_at = excluded.created_at, doc = excluded.doc`,
		w.ID, w.UserID, w.URL, w.CreatedAt.UnixNano(), []byte(w.Doc))
	if err != nil {
		return fmt.Errorf("store: put webhook %s: %w", w.ID, err)
	}
	return nil
}

// DeleteWebhook removes a webhook, or returns an error wrapping ErrNotFound.
func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM webhooks WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("store: delete webhook %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: webhook %s: %w", id, ErrNotFound)
	}
	return nil
}

// ListWebhooks returns one page of webhooks, newest first, and whether
// more follow.
func (s *Store) ListWebhooks(ctx context.Context, f WebhookFilter) ([]WebhookRecord, bool, error) {
	where, args := "1 = 1", []any{}
	if f.UserID != "" {
		where += " AND user_id = ?"
		args = append(args, f.UserID)
	}
	if f.URL != "" {
		where += " AND url = ?"
		args = append(args, f.URL)
	}
	limit, offset := pageBounds(f.Page, f.PerPage)
	args = append(args, limit+1, offset)
	rows, err := s.db.QueryContext(ctx, `SELECT id, user_id, url, created_at, doc FROM webhooks WHERE `+where+
		` ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?`, args...)
	if err != nil {
		return nil, false, fmt.Errorf("store: list webhooks: %w", err)
	}
	defer rows.Close()
	var out []WebhookRecord
	for rows.Next() {
		var w WebhookRecord
		var created int64
		var doc []byte
		if err := rows.Scan(&w.ID, &w.UserID, &w.URL, &created, &doc); err != nil {
			return nil, false, fmt.Errorf("store: list webhooks: %w", err)
		}
		w.CreatedAt, w.Doc = time.Unix(0, created).UTC(), doc
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("store: list webhooks: %w", err)
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, nil
}
