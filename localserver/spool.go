package localserver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"
)

// errSpool wraps failures to write the spool (disk full, permissions).
var errSpool = errors.New("spool")

// The spool holds the "file" contents of import/base64 and import/raw
// tasks, one file per task named by its ID, from the request that created
// the task until the task finished (or was deleted, or FileTTL passed).
// The files are written before the request is answered, like everything
// else the server acknowledges (and fsynced with Config.SyncWrites).

func (s *Server) spoolDir() string { return filepath.Join(s.cfg.DataDir, "spool") }

func (s *Server) spoolPath(taskID string) string {
	return filepath.Join(s.spoolDir(), filepath.Base(taskID))
}

// newSpill creates the spool file of a new task ID.
func (s *Server) newSpill() (*spill, error) {
	if err := os.MkdirAll(s.spoolDir(), 0o700); err != nil {
		return nil, fmt.Errorf("%w: %w", errSpool, err)
	}
	id := uuid.NewString()
	f, err := os.OpenFile(s.spoolPath(id), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errSpool, err)
	}
	return &spill{taskID: id, f: bufio.NewWriterSize(f, 64<<10), file: f}, nil
}

// restart empties a spill for a key given twice.
func (sp *spill) restart() error {
	sp.f.Reset(sp.file)
	sp.size = 0
	if _, err := sp.file.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("%w: %w", errSpool, err)
	}
	if err := sp.file.Truncate(0); err != nil {
		return fmt.Errorf("%w: %w", errSpool, err)
	}
	return nil
}

// finish flushes and closes a spill, syncing it first when sync is set
// (Config.SyncWrites).
func (sp *spill) finish(sync bool) error {
	err := sp.f.Flush()
	if err == nil && sync {
		err = sp.file.Sync()
	}
	if cerr := sp.file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%w: %w", errSpool, err)
	}
	return nil
}

// syncSpool makes new spool entries durable against power loss
// (Config.SyncWrites); a process crash loses none of them anyway.
func (s *Server) syncSpool() error {
	if !s.cfg.SyncWrites {
		return nil
	}
	d, err := os.Open(s.spoolDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: %w", errSpool, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("%w: %w", errSpool, err)
	}
	return nil
}

// removeSpool drops a task's spooled content, if any.
func (s *Server) removeSpool(taskID string) {
	if err := os.Remove(s.spoolPath(taskID)); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.log.Warn("localserver: remove spooled content", "task", taskID, "err", err)
	}
}

// linkSpool gives a retry the content of the task it retries.
func (s *Server) linkSpool(from, to string) error {
	if err := os.Link(s.spoolPath(from), s.spoolPath(to)); err == nil {
		return nil
	}
	src, err := os.Open(s.spoolPath(from))
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(s.spoolPath(to), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		os.Remove(dst.Name())
		return err
	}
	return dst.Close()
}

// sweepSpool removes spool files that no task needs. At start (running
// false) that is every file of an unknown or finished task, left by a
// crash mid-request or mid-task. While running, a file of an unknown task
// may belong to a request still being read, so only those idle for an hour
// go; and contents kept for a retry go after FileTTL.
func (s *Server) sweepSpool(running bool) {
	entries, err := os.ReadDir(s.spoolDir())
	if err != nil {
		return
	}
	known, keep := map[string]bool{}, map[string]bool{}
	s.rlocked(func() {
		for id, t := range s.tasks {
			known[id] = true
			keep[id] = t.local.Inline && t.Status != StatusFinished
		}
	})
	now := time.Now()
	for _, e := range entries {
		id := e.Name()
		if running {
			info, err := e.Info()
			if err != nil {
				continue
			}
			idle := now.Sub(info.ModTime())
			if (!known[id] && idle < time.Hour) || (keep[id] && idle < s.cfg.FileTTL) {
				continue
			}
		} else if keep[id] {
			continue
		}
		s.removeSpool(id)
	}
}
