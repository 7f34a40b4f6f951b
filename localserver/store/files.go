package store

import (
	"context"
	"crypto/md5"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/cctoolkit/cloudconvert/localserver/internal/filename"
)

// FileRecord describes a stored file. Path is absolute, inside the data
// directory, and named by ID; Name is the sanitized display name.
type FileRecord struct {
	ID        string
	TaskID    string
	Name      string
	Path      string
	Size      int64
	MD5       string // lowercase hex
	CreatedAt time.Time
	ExpiresAt time.Time
}

// ErrFileTooLarge is matched (errors.Is) by every *FileTooLargeError.
var ErrFileTooLarge = errors.New("file too large")

// FileTooLargeError is returned by SaveFile when the content exceeds the
// cap; nothing is stored. The server maps it to a 413 / task error.
type FileTooLargeError struct{ Limit int64 }

func (e *FileTooLargeError) Error() string {
	return fmt.Sprintf("store: file exceeds the limit of %d bytes", e.Limit)
}

// Is makes errors.Is(err, ErrFileTooLarge) work.
func (e *FileTooLargeError) Is(target error) bool { return target == ErrFileTooLarge }

// SanitizeName reduces a client-supplied file name to a display name: the
// last path element, without control characters or leading dots. It is
// only ever shown, never used as a path. It never returns "".
func SanitizeName(name string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == ':' {
			return '_'
		}
		return r
	}, name)
	name = strings.TrimSpace(strings.TrimLeft(name, "."))
	if name == "" {
		return "file"
	}
	return filename.Truncate(name, 255)
}

// ctxReader stops a long copy when the context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// SaveFile streams r into the data directory, computing the MD5 and
// enforcing maxBytes (<= 0: no cap), and records it for taskID. The bytes
// are renamed into place (fsynced first, with SyncWrites) before the row
// commits, so a returned FileRecord survives a crash; a crash earlier
// leaves only a temporary file, removed at the next Open.
func (s *Store) SaveFile(ctx context.Context, taskID, filename string, r io.Reader, maxBytes int64) (FileRecord, error) {
	id := uuid.NewString()
	rel := filepath.Join(id[:2], id)
	final := filepath.Join(s.filesDir, rel)
	tmp, err := os.CreateTemp(s.tmpDir, id+"-*")
	if err != nil {
		return FileRecord{}, fmt.Errorf("store: save file: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := md5.New()
	src := io.Reader(ctxReader{ctx, r})
	if maxBytes > 0 {
		src = io.LimitReader(src, maxBytes+1)
	}
	n, err := io.Copy(io.MultiWriter(tmp, h), src)
	if err != nil {
		return FileRecord{}, fmt.Errorf("store: save file: %w", err)
	}
	if maxBytes > 0 && n > maxBytes {
		return FileRecord{}, &FileTooLargeError{Limit: maxBytes}
	}
	if s.sync {
		if err := tmp.Sync(); err != nil {
			return FileRecord{}, fmt.Errorf("store: save file: sync: %w", err)
		}
	}
	if err := tmp.Close(); err != nil {
		return FileRecord{}, fmt.Errorf("store: save file: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o700); err != nil {
		return FileRecord{}, fmt.Errorf("store: save file: %w", err)
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return FileRecord{}, fmt.Errorf("store: save file: %w", err)
	}
	committed = true // the temp name is gone; clean up final on failure below
	if s.sync {
		if err := syncDir(filepath.Dir(final)); err != nil {
			os.Remove(final)
			return FileRecord{}, fmt.Errorf("store: save file: %w", err)
		}
	}
	now := s.now().UTC()
	rec := FileRecord{ID: id, TaskID: taskID, Name: SanitizeName(filename), Path: final, Size: n,
		MD5: hex.EncodeToString(h.Sum(nil)), CreatedAt: now, ExpiresAt: now.Add(s.ttl)}
	_, err = s.db.ExecContext(ctx, `INSERT INTO files (id, task_id, name, path, size, md5, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, rec.ID, rec.TaskID, rec.Name, rel, rec.Size, rec.MD5,
		rec.CreatedAt.UnixNano(), rec.ExpiresAt.UnixNano())
	if err != nil {
		os.Remove(final)
		return FileRecord{}, fmt.Errorf("store: save file: record: %w", err)
	}
	return rec, nil
}

// syncDir makes a rename durable: the directory entry must reach the disk.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

const fileCols = `id, task_id, name, path, size, md5, created_at, expires_at`

func (s *Store) scanFile(sc scanner) (FileRecord, error) {
	var f FileRecord
	var rel string
	var created, expires int64
	if err := sc.Scan(&f.ID, &f.TaskID, &f.Name, &rel, &f.Size, &f.MD5, &created, &expires); err != nil {
		return f, err
	}
	f.Path = s.resolve(rel)
	f.CreatedAt, f.ExpiresAt = time.Unix(0, created).UTC(), time.Unix(0, expires).UTC()
	return f, nil
}

// resolve maps a stored relative path into the files directory. Paths are
// generated by SaveFile, but a tampered row still cannot point outside.
func (s *Store) resolve(rel string) string {
	p := filepath.Join(s.filesDir, filepath.Clean("/"+rel))
	return p
}

// GetFile returns a file's record (also when expired).
func (s *Store) GetFile(ctx context.Context, id string) (FileRecord, error) {
	f, err := s.scanFile(s.db.QueryRowContext(ctx, `SELECT `+fileCols+` FROM files WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return f, fmt.Errorf("store: file %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return f, fmt.Errorf("store: get file %s: %w", id, err)
	}
	return f, nil
}

// OpenFile opens a file's contents for reading. Expired files are
// reported as ErrNotFound even before ExpireFiles has removed them.
func (s *Store) OpenFile(ctx context.Context, id string) (io.ReadCloser, FileRecord, error) {
	f, err := s.GetFile(ctx, id)
	if err != nil {
		return nil, f, err
	}
	if !s.now().Before(f.ExpiresAt) {
		return nil, f, fmt.Errorf("store: file %s expired at %s: %w", id, f.ExpiresAt.Format(time.RFC3339), ErrNotFound)
	}
	rc, err := os.Open(f.Path)
	if err != nil {
		return nil, f, fmt.Errorf("store: open file %s: %w", id, err)
	}
	return rc, f, nil
}

// FilesOfTask lists a task's files in the order they were saved.
func (s *Store) FilesOfTask(ctx context.Context, taskID string) ([]FileRecord, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+fileCols+` FROM files WHERE task_id = ? ORDER BY created_at, rowid`, taskID)
	if err != nil {
		return nil, fmt.Errorf("store: files of task %s: %w", taskID, err)
	}
	defer rows.Close()
	var out []FileRecord
	for rows.Next() {
		f, err := s.scanFile(rows)
		if err != nil {
			return nil, fmt.Errorf("store: files of task %s: %w", taskID, err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: files of task %s: %w", taskID, err)
	}
	return out, nil
}

// ExpireFiles deletes every file whose expiry is at or before now and
// returns how many. Rows go first (in one transaction), contents after;
// contents left by a crash in between are removed at the next Open.
func (s *Store) ExpireFiles(ctx context.Context, now time.Time) (int, error) {
	var paths []string
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		paths, err = deleteFilesWhere(ctx, tx, `expires_at <= ?`, now.UnixNano())
		return err
	})
	if err != nil {
		return 0, err
	}
	s.unlink(paths)
	return len(paths), nil
}

// deleteFilesWhere deletes file rows matching cond and returns their
// stored (relative) paths for unlinking after the commit.
func deleteFilesWhere(ctx context.Context, tx *sql.Tx, cond string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `DELETE FROM files WHERE `+cond+` RETURNING path`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: delete files: %w", err)
	}
	defer rows.Close()
	var paths []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("store: delete files: %w", err)
		}
		paths = append(paths, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: delete files: %w", err)
	}
	return paths, nil
}

func (s *Store) unlink(rel []string) {
	for _, p := range rel {
		os.Remove(s.resolve(p))
	}
}

// sweep removes what a crash can leave behind: partial uploads in tmp and
// file contents whose row was never committed or was already deleted.
func (s *Store) sweep(ctx context.Context) error {
	entries, err := os.ReadDir(s.tmpDir)
	if err != nil {
		return fmt.Errorf("store: sweep: %w", err)
	}
	for _, e := range entries {
		os.Remove(filepath.Join(s.tmpDir, e.Name()))
	}
	known := map[string]bool{}
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM files`)
	if err != nil {
		return fmt.Errorf("store: sweep: %w", err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("store: sweep: %w", err)
		}
		known[id] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: sweep: %w", err)
	}
	shards, err := os.ReadDir(s.filesDir)
	if err != nil {
		return fmt.Errorf("store: sweep: %w", err)
	}
	for _, sh := range shards {
		if !sh.IsDir() || sh.Name() == "tmp" {
			continue
		}
		files, err := os.ReadDir(filepath.Join(s.filesDir, sh.Name()))
		if err != nil {
			continue
		}
		for _, f := range files {
			if !known[f.Name()] {
				os.Remove(filepath.Join(s.filesDir, sh.Name(), f.Name()))
			}
		}
	}
	return nil
}

// DeleteFile removes one file (row and contents); a missing file is not an
// error.
func (s *Store) DeleteFile(ctx context.Context, id string) error {
	var paths []string
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		paths, err = deleteFilesWhere(ctx, tx, `id = ?`, id)
		return err
	})
	if err != nil {
		return err
	}
	s.unlink(paths)
	return nil
}

// DeleteFilesOfTask removes every file of a task (used before a task
// interrupted by a crash runs again, so its partial results do not stay).
func (s *Store) DeleteFilesOfTask(ctx context.Context, taskID string) error {
	var paths []string
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		paths, err = deleteFilesWhere(ctx, tx, `task_id = ?`, taskID)
		return err
	})
	if err != nil {
		return err
	}
	s.unlink(paths)
	return nil
}
