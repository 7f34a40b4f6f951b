// Package store is the durable state of the local CloudConvert-compatible
// server: jobs, tasks and the files tasks produce survive a restart, and a
// crash during a write loses nothing that was acknowledged.
//
// Jobs and tasks are kept as their JSON documents (the server owns their
// shape, and unknown fields must round-trip) plus the few indexed columns
// that listing and filtering need. The database is embedded SQLite
// (modernc.org/sqlite, pure Go) in WAL mode with synchronous=FULL, so a
// committed transaction is on disk. File contents live beside it in the data
// directory, written to a temporary file and renamed into place before
// their row is committed; on-disk names are generated IDs, so a
// client-supplied name can never choose where bytes land.
//
// What survives what: every acknowledged write survives a crash of the
// process (kill -9 included), since committed data is in the operating
// system's hands. With Options.SyncWrites it also survives a crash of the
// machine (power loss): SQLite's synchronous=FULL and an fsync of every
// file and directory entry, which costs about a dozen fsyncs per job.
package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// ErrNotFound is returned (wrapped) when a job, task or file does not
// exist, or a file has expired.
var ErrNotFound = errors.New("not found")

// Options configures Open. The zero value is usable.
type Options struct {
	// FileTTL is how long a saved file stays downloadable; CloudConvert
	// keeps files for 24 hours, which is the default.
	FileTTL time.Duration
	// Now is the clock, for tests; default time.Now.
	Now func() time.Time
	// BusyTimeout bounds how long a writer waits for the lock; default 10s.
	BusyTimeout time.Duration
	// SyncWrites makes acknowledged writes survive power loss too (see
	// the package doc); without it they survive process crashes.
	SyncWrites bool
}

// Store is safe for concurrent use by multiple goroutines.
type Store struct {
	db       *sql.DB
	dir      string // data directory
	filesDir string // dir/files: final file contents, by ID
	tmpDir   string // dir/files/tmp: partial uploads, cleared at Open
	ttl      time.Duration
	now      func() time.Time
	sync     bool // fsync files and directory entries (Options.SyncWrites)
}

// JobRecord is a job as stored: its JSON document plus indexed fields.
type JobRecord struct {
	ID        string
	UserID    string
	Status    string
	Tag       string // "" for none
	CreatedAt time.Time
	Doc       json.RawMessage
}

// TaskRecord is a task as stored. JobID is "" for standalone tasks.
type TaskRecord struct {
	ID        string
	JobID     string
	UserID    string
	Status    string
	Operation string
	CreatedAt time.Time
	Doc       json.RawMessage
}

// JobFilter selects jobs for ListJobs. Empty fields match everything;
// Page is 1-based (default 1) and PerPage defaults to 100 (max 1000).
type JobFilter struct {
	UserID, Status, Tag string
	Page, PerPage       int
}

// TaskFilter selects tasks for ListTasks, like JobFilter.
type TaskFilter struct {
	UserID, JobID, Status, Operation string
	Page, PerPage                    int
}

const schema = `
CREATE TABLE IF NOT EXISTS records (
	id         TEXT PRIMARY KEY,
	kind       TEXT NOT NULL CHECK (kind IN ('job', 'task')),
	job_id     TEXT,
	user_id    TEXT NOT NULL DEFAULT '',
	status     TEXT NOT NULL DEFAULT '',
	tag        TEXT,
	operation  TEXT,
	created_at INTEGER NOT NULL,
	doc        BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS records_list ON records (kind, user_id, created_at DESC);
CREATE INDEX IF NOT EXISTS records_job ON records (job_id) WHERE job_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS files (
	id         TEXT PRIMARY KEY,
	task_id    TEXT NOT NULL,
	name       TEXT NOT NULL,
	path       TEXT NOT NULL,
	size       INTEGER NOT NULL,
	md5        TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS files_task ON files (task_id);
CREATE INDEX IF NOT EXISTS files_expiry ON files (expires_at);
CREATE TABLE IF NOT EXISTS webhooks (
	id         TEXT PRIMARY KEY,
	user_id    TEXT NOT NULL,
	url        TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	doc        BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS webhooks_user ON webhooks (user_id, created_at DESC);
PRAGMA user_version = 1;
`

// Open opens (creating if needed) the store in dir.
func Open(ctx context.Context, dir string, opts Options) (*Store, error) {
	if opts.FileTTL <= 0 {
		opts.FileTTL = 24 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = 10 * time.Second
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("store: data dir: %w", err)
	}
	s := &Store{dir: abs, filesDir: filepath.Join(abs, "files"), tmpDir: filepath.Join(abs, "files", "tmp"),
		ttl: opts.FileTTL, now: opts.Now, sync: opts.SyncWrites}
	if err := os.MkdirAll(s.tmpDir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create data dir: %w", err)
	}
	// Pragmas are per connection, so they go in the DSN; _txlock=immediate
	// takes the write lock at BEGIN, so concurrent writers wait on
	// busy_timeout instead of failing when a read upgrades to a write.
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	// In WAL mode NORMAL loses no committed transaction when the process
	// dies, only on power loss; FULL syncs the WAL at every commit.
	if opts.SyncWrites {
		q.Add("_pragma", "synchronous(FULL)")
	} else {
		q.Add("_pragma", "synchronous(NORMAL)")
	}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", opts.BusyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(ON)")
	q.Set("_txlock", "immediate")
	dsn := (&url.URL{Scheme: "file", Path: filepath.Join(abs, "store.db"), RawQuery: q.Encode()}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open database: %w", err)
	}
	db.SetMaxOpenConns(8)
	s.db = db
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: create schema: %w", err)
	}
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || !strings.EqualFold(mode, "wal") {
		db.Close()
		return nil, fmt.Errorf("store: database is not in WAL mode (%q): %w", mode, err)
	}
	if err := s.sweep(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database. Saved files stay on disk.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// Dir returns the absolute data directory.
func (s *Store) Dir() string { return s.dir }

// inTx runs fn in one immediate transaction: all of its writes commit
// together or none do.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func validDoc(doc json.RawMessage) error {
	if !json.Valid(doc) {
		return errors.New("store: document is not valid JSON")
	}
	return nil
}

const upsert = `INSERT INTO records (id, kind, job_id, user_id, status, tag, operation, created_at, doc)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET job_id = excluded.job_id, user_id = excluded.user_id, status = excluded.status,
	tag = excluded.tag, operation = excluded.operation, created_at = excluded.created_at, doc = excluded.doc
WHERE records.kind = excluded.kind`

func putJob(ctx context.Context, tx *sql.Tx, j JobRecord) error {
	if j.ID == "" {
		return errors.New("store: job without id")
	}
	if err := validDoc(j.Doc); err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, upsert, j.ID, "job", nil, j.UserID, j.Status, nullable(j.Tag), nil, j.CreatedAt.UnixNano(), []byte(j.Doc))
	return checkUpsert(res, err, "job", j.ID)
}

func putTask(ctx context.Context, tx *sql.Tx, t TaskRecord) error {
	if t.ID == "" {
		return errors.New("store: task without id")
	}
	if err := validDoc(t.Doc); err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, upsert, t.ID, "task", nullable(t.JobID), t.UserID, t.Status, nil, nullable(t.Operation), t.CreatedAt.UnixNano(), []byte(t.Doc))
	return checkUpsert(res, err, "task", t.ID)
}

// checkUpsert reports an ID already used by the other kind (the WHERE of
// the upsert then matches no row).
func checkUpsert(res sql.Result, err error, kind, id string) error {
	if err != nil {
		return fmt.Errorf("store: put %s %s: %w", kind, id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("store: put %s %s: id is already used by a record of another kind", kind, id)
	}
	return nil
}

// PutJob inserts or replaces a job and, in the same transaction, the given
// tasks (typically the job's tasks, created or updated together).
func (s *Store) PutJob(ctx context.Context, job JobRecord, tasks ...TaskRecord) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := putJob(ctx, tx, job); err != nil {
			return err
		}
		for _, t := range tasks {
			if err := putTask(ctx, tx, t); err != nil {
				return err
			}
		}
		return nil
	})
}

// PutTask inserts or replaces tasks, all in one transaction.
func (s *Store) PutTask(ctx context.Context, tasks ...TaskRecord) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for _, t := range tasks {
			if err := putTask(ctx, tx, t); err != nil {
				return err
			}
		}
		return nil
	})
}

const recordCols = `id, COALESCE(job_id, ''), user_id, status, COALESCE(tag, ''), COALESCE(operation, ''), created_at, doc`

type scanner interface{ Scan(dest ...any) error }

// record is the common row shape; JobRecord and TaskRecord are views of it.
type record struct {
	id, jobID, userID, status, tag, operation string
	created                                   int64
	doc                                       []byte
}

func scanRecord(sc scanner) (record, error) {
	var r record
	err := sc.Scan(&r.id, &r.jobID, &r.userID, &r.status, &r.tag, &r.operation, &r.created, &r.doc)
	return r, err
}

func (r record) job() JobRecord {
	return JobRecord{ID: r.id, UserID: r.userID, Status: r.status, Tag: r.tag, CreatedAt: time.Unix(0, r.created).UTC(), Doc: r.doc}
}

func (r record) task() TaskRecord {
	return TaskRecord{ID: r.id, JobID: r.jobID, UserID: r.userID, Status: r.status, Operation: r.operation,
		CreatedAt: time.Unix(0, r.created).UTC(), Doc: r.doc}
}

func (s *Store) get(ctx context.Context, kind, id string) (record, error) {
	row := s.db.QueryRowContext(ctx, `SELECT `+recordCols+` FROM records WHERE kind = ? AND id = ?`, kind, id)
	r, err := scanRecord(row)
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("store: %s %s: %w", kind, id, ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("store: get %s %s: %w", kind, id, err)
	}
	return r, nil
}

// GetJob returns the job, or an error wrapping ErrNotFound.
func (s *Store) GetJob(ctx context.Context, id string) (JobRecord, error) {
	r, err := s.get(ctx, "job", id)
	return r.job(), err
}

// GetTask returns the task, or an error wrapping ErrNotFound.
func (s *Store) GetTask(ctx context.Context, id string) (TaskRecord, error) {
	r, err := s.get(ctx, "task", id)
	return r.task(), err
}

func pageBounds(page, perPage int) (limit, offset int) {
	if page < 1 {
		page = 1
	}
	if perPage <= 0 {
		perPage = 100
	}
	perPage = min(perPage, 1000)
	return perPage, (page - 1) * perPage
}

// list runs a filtered, newest-first, paginated query; it fetches one row
// more than asked to learn whether a next page exists.
func (s *Store) list(ctx context.Context, kind string, conds map[string]string, page, perPage int) ([]record, bool, error) {
	where := []string{"kind = ?"}
	args := []any{kind}
	for _, col := range []string{"user_id", "job_id", "status", "tag", "operation"} {
		if v, ok := conds[col]; ok && v != "" {
			where = append(where, col+" = ?")
			args = append(args, v)
		}
	}
	limit, offset := pageBounds(page, perPage)
	args = append(args, limit+1, offset)
	rows, err := s.db.QueryContext(ctx, `SELECT `+recordCols+` FROM records WHERE `+strings.Join(where, " AND ")+
		` ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?`, args...)
	if err != nil {
		return nil, false, fmt.Errorf("store: list %ss: %w", kind, err)
	}
	defer rows.Close()
	var out []record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, false, fmt.Errorf("store: list %ss: %w", kind, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("store: list %ss: %w", kind, err)
	}
	hasNext := len(out) > limit
	if hasNext {
		out = out[:limit]
	}
	return out, hasNext, nil
}

// ListJobs returns one page of jobs, newest first, and whether more follow.
func (s *Store) ListJobs(ctx context.Context, f JobFilter) ([]JobRecord, bool, error) {
	rs, next, err := s.list(ctx, "job", map[string]string{"user_id": f.UserID, "status": f.Status, "tag": f.Tag}, f.Page, f.PerPage)
	jobs := make([]JobRecord, len(rs))
	for i, r := range rs {
		jobs[i] = r.job()
	}
	return jobs, next, err
}

// ListTasks returns one page of tasks, newest first, and whether more follow.
func (s *Store) ListTasks(ctx context.Context, f TaskFilter) ([]TaskRecord, bool, error) {
	rs, next, err := s.list(ctx, "task", map[string]string{"user_id": f.UserID, "job_id": f.JobID, "status": f.Status, "operation": f.Operation}, f.Page, f.PerPage)
	tasks := make([]TaskRecord, len(rs))
	for i, r := range rs {
		tasks[i] = r.task()
	}
	return tasks, next, err
}

// TasksOfJob returns all tasks of a job in creation order.
func (s *Store) TasksOfJob(ctx context.Context, jobID string) ([]TaskRecord, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+recordCols+` FROM records WHERE kind = 'task' AND job_id = ? ORDER BY created_at, rowid`, jobID)
	if err != nil {
		return nil, fmt.Errorf("store: tasks of job %s: %w", jobID, err)
	}
	defer rows.Close()
	var out []TaskRecord
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, fmt.Errorf("store: tasks of job %s: %w", jobID, err)
		}
		out = append(out, r.task())
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: tasks of job %s: %w", jobID, err)
	}
	return out, nil
}

// DeleteJob removes a job, its tasks and their files in one transaction;
// the file contents are unlinked after the commit.
func (s *Store) DeleteJob(ctx context.Context, id string) error {
	var paths []string
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM records WHERE kind = 'job' AND id = ?`, id)
		if err != nil {
			return fmt.Errorf("store: delete job %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("store: job %s: %w", id, ErrNotFound)
		}
		if paths, err = deleteFilesWhere(ctx, tx, `task_id IN (SELECT id FROM records WHERE kind = 'task' AND job_id = ?)`, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM records WHERE kind = 'task' AND job_id = ?`, id); err != nil {
			return fmt.Errorf("store: delete tasks of job %s: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.unlink(paths)
	return nil
}

// DeleteTask removes a task and its files.
func (s *Store) DeleteTask(ctx context.Context, id string) error {
	var paths []string
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM records WHERE kind = 'task' AND id = ?`, id)
		if err != nil {
			return fmt.Errorf("store: delete task %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("store: task %s: %w", id, ErrNotFound)
		}
		paths, err = deleteFilesWhere(ctx, tx, `task_id = ?`, id)
		return err
	})
	if err != nil {
		return err
	}
	s.unlink(paths)
	return nil
}
