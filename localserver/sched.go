package localserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cctoolkit/cloudconvert/localserver/engine"
	"github.com/cctoolkit/cloudconvert/localserver/store"
)

var errClosed = errors.New("localserver: the server is shutting down")

// batch collects what one write changed, to persist it together.
type batch struct {
	jobs  []*Job
	tasks []*Task
	ended []string // job or task IDs that reached an end state
}

func (b *batch) task(t *Task) { b.tasks = append(b.tasks, t) }
func (b *batch) job(j *Job)   { b.jobs = append(b.jobs, j) }

// write runs fn under the state lock and persists what it touched before
// returning: a nil error means the change is on disk. Writes are
// serialized, so the store always sees them in memory order.
func (s *Server) write(fn func(b *batch) error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.storeClosed.Load() {
		return errClosed
	}
	var (
		b        batch
		err      error
		jobRecs  = map[string]*store.JobRecord{}
		jobOrder []string
		loose    []store.TaskRecord
		tasksOf  = map[string][]store.TaskRecord{}
		events   []*event
	)
	s.locked(func() {
		if err = fn(&b); err != nil {
			return
		}
		events = s.announcements(&b)
		seen := map[any]bool{}
		for _, j := range b.jobs {
			if seen[j] {
				continue
			}
			seen[j] = true
			var rec store.JobRecord
			if rec, err = s.jobRecord(j); err != nil {
				return
			}
			jobRecs[j.ID] = &rec
			jobOrder = append(jobOrder, j.ID)
		}
		for _, t := range b.tasks {
			if seen[t] {
				continue
			}
			seen[t] = true
			var rec store.TaskRecord
			if rec, err = s.taskRecord(t); err != nil {
				return
			}
			if _, ok := jobRecs[rec.JobID]; ok {
				tasksOf[rec.JobID] = append(tasksOf[rec.JobID], rec)
			} else {
				loose = append(loose, rec)
			}
		}
	})
	if err != nil {
		return err
	}
	ctx := context.Background()
	for _, id := range jobOrder {
		if err := s.st.PutJob(ctx, *jobRecs[id], tasksOf[id]...); err != nil {
			s.log.Error("localserver: persist job", "job", id, "err", err)
			return err
		}
	}
	if len(loose) > 0 {
		if err := s.st.PutTask(ctx, loose...); err != nil {
			s.log.Error("localserver: persist tasks", "err", err)
			return err
		}
	}
	s.locked(func() {
		s.commitAnnouncements(&b)
		for _, id := range b.ended {
			if ch, ok := s.waiters[id]; ok {
				close(ch)
				delete(s.waiters, id)
			}
		}
	})
	// Published under wmu: consumers see the events in the order of the
	// writes. publish never blocks.
	for _, e := range events {
		s.events.publish(e)
	}
	return nil
}

func (s *Server) jobRecord(j *Job) (store.JobRecord, error) {
	sj := storedJob{Job: *j, Local: j.local}
	sj.Tasks = nil
	doc, err := json.Marshal(&sj)
	if err != nil {
		return store.JobRecord{}, fmt.Errorf("localserver: encode job: %w", err)
	}
	tag := ""
	if j.Tag != nil {
		tag = *j.Tag
	}
	return store.JobRecord{ID: j.ID, UserID: j.local.UserID, Status: j.Status, Tag: tag, CreatedAt: j.CreatedAt.Time, Doc: doc}, nil
}

func (s *Server) taskRecord(t *Task) (store.TaskRecord, error) {
	st := storedTask{Task: *t, Local: t.local}
	doc, err := json.Marshal(&st)
	if err != nil {
		return store.TaskRecord{}, fmt.Errorf("localserver: encode task: %w", err)
	}
	return store.TaskRecord{ID: t.ID, JobID: t.jobID(), UserID: t.local.UserID, Status: t.Status, Operation: t.Operation,
		CreatedAt: t.CreatedAt.Time, Doc: doc}, nil
}

// update applies fn to a task and persists it.
func (s *Server) update(id string, fn func(t *Task)) {
	s.write(func(b *batch) error {
		t := s.tasks[id]
		if t == nil {
			return nil
		}
		fn(t)
		b.task(t)
		if t.ended() {
			b.ended = append(b.ended, t.ID)
		}
		return nil
	})
}

// fail marks a task failed; the caller runs afterEnd.
func failTask(t *Task, code, msg string) {
	t.Status = StatusError
	t.Code, t.Message = strp(code), strp(msg)
	if t.EndedAt.IsZero() {
		t.EndedAt = now()
	}
	if t.StartedAt.IsZero() {
		t.StartedAt = t.EndedAt
	}
}

// reconcile looks at a waiting task: it fails it when an input failed and
// queues it when all inputs finished.
func (s *Server) reconcile(id string) {
	var enqueue, ended bool
	var user, owner string
	work := queuedTask{id: id}
	s.write(func(b *batch) error {
		t := s.tasks[id]
		if t == nil || t.Status != StatusWaiting || s.queued[id] || s.running[id] != nil {
			return nil
		}
		if t.Operation == "import/upload" && !t.local.Uploaded {
			return nil
		}
		ready := true
		for _, d := range t.DependsOnTasks {
			dt := s.tasks[d]
			switch {
			case dt == nil:
				failTask(t, CodeInputTaskFailed, fmt.Sprintf("Input task %s no longer exists", d))
			case dt.Status == StatusError:
				name := d
				if dt.Name != nil {
					name = *dt.Name
				}
				failTask(t, CodeInputTaskFailed, fmt.Sprintf("Input task %s failed", name))
			case dt.Status != StatusFinished:
				ready = false
				continue
			default:
				continue
			}
			b.task(t)
			b.ended = append(b.ended, t.ID)
			ended = true
			return nil
		}
		if ready {
			s.queued[id] = true
			enqueue = true
			owner = t.jobID()
			if owner == "" {
				owner = t.ID
			}
			user = t.local.UserID
			work.heavy = s.heavy(t)
		}
		return nil
	})
	if enqueue {
		s.runq.push(user, owner, work)
	}
	if ended {
		s.afterEnd(id)
	}
}

// heavy classifies a ready task for the run queue from its operation and
// the formats of its inputs; under mu.
func (s *Server) heavy(t *Task) bool {
	formats := []string{payloadString(t.Payload, "input_format")}
	for _, d := range t.DependsOnTasks {
		if dt := s.tasks[d]; dt != nil {
			for _, f := range dt.local.Files {
				formats = append(formats, f.Name)
			}
		}
	}
	return engine.Heavy(t.Operation, formats...)
}

// afterEnd moves the graph on after a task ended.
func (s *Server) afterEnd(id string) {
	var deps []string
	jobID := ""
	s.rlocked(func() {
		deps = append(deps, s.dependents[id]...)
		if t := s.tasks[id]; t != nil {
			jobID = t.jobID()
		}
	})
	for _, d := range deps {
		s.reconcile(d)
	}
	if jobID != "" {
		s.finishJobIfDone(jobID)
	}
}

// finishJobIfDone ends a job whose tasks all ended; write announces it
// (job.finished or job.failed).
func (s *Server) finishJobIfDone(jobID string) {
	s.write(func(b *batch) error {
		j := s.jobs[jobID]
		if j == nil || j.Status == StatusFinished || j.Status == StatusError {
			return nil
		}
		allEnded, anyError := true, false
		var last time.Time
		for _, t := range j.Tasks {
			if t.local.RetriedBy != "" {
				continue
			}
			if !t.ended() {
				allEnded = false
				break
			}
			anyError = anyError || t.Status == StatusError
			if t.EndedAt.After(last) {
				last = t.EndedAt.Time
			}
		}
		if !allEnded {
			return nil
		}
		j.Status = StatusFinished
		if anyError {
			j.Status = StatusError
		}
		if last.IsZero() {
			last = now().Time
		}
		j.EndedAt = Time{last}
		if j.StartedAt.IsZero() {
			j.StartedAt = j.EndedAt
		}
		b.job(j)
		b.ended = append(b.ended, j.ID)
		return nil
	})
}

func (s *Server) worker() {
	defer s.workers.Done()
	for {
		t, ok := s.runq.take(s.ctx)
		if !ok {
			return
		}
		s.runSafely(t.id)
		s.runq.done(t)
	}
}

// runSafely runs a task; a panic outside the engine (which has its own
// guard) fails the task instead of ending the process.
func (s *Server) runSafely(id string) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("localserver: task panic", "task", id, "panic", p)
			s.locked(func() { delete(s.running, id); delete(s.queued, id) })
			ended := false
			s.update(id, func(t *Task) {
				if !t.ended() {
					failTask(t, CodeInternal, fmt.Sprintf("the task crashed: %v", p))
					ended = true
				}
			})
			if ended {
				s.afterEnd(id)
			}
		}
	}()
	s.runTask(id)
}

// errTaskTimeout is the cause of a task context that ran out of time.
var errTaskTimeout = errors.New("the task ran out of time")

// runTask performs one queued task.
func (s *Server) runTask(id string) {
	base, cancel := context.WithCancel(s.ctx)
	defer cancel()
	ctx, stop := context.WithTimeoutCause(base, s.cfg.TaskTimeout, errTaskTimeout)
	defer stop()
	var (
		snap    *Task
		inputs  []fileRef
		resumed bool
		start   bool
	)
	err := s.write(func(b *batch) error {
		delete(s.queued, id)
		t := s.tasks[id]
		if t == nil || t.Status != StatusWaiting || s.ctx.Err() != nil {
			return nil
		}
		for _, d := range t.DependsOnTasks {
			if dt := s.tasks[d]; dt != nil {
				inputs = append(inputs, dt.local.Files...)
			}
		}
		resumed = t.local.Resumed
		t.local.Resumed, t.local.Stopped = false, false
		t.Status, t.StartedAt, t.Percent, t.Message, t.Code = StatusProcessing, now(), 0, nil, nil
		s.running[id] = cancel
		b.task(t)
		if j := s.jobs[t.jobID()]; j != nil && j.Status == StatusWaiting {
			j.Status = StatusProcessing
			j.StartedAt = t.StartedAt
			b.job(j)
		}
		snap = t.clone()
		start = true
		return nil
	})
	if err != nil || !start {
		if start {
			s.locked(func() { delete(s.running, id) })
		}
		return
	}
	if resumed {
		if err := s.st.DeleteFilesOfTask(ctx, id); err != nil {
			s.log.Warn("localserver: clean files of a resumed task", "task", id, "err", err)
		}
	}
	progress := func(p int) {
		moved := false
		s.locked(func() {
			if t := s.tasks[id]; t != nil && t.Status == StatusProcessing && p > t.Percent && p < 100 {
				t.Percent = p
				moved = true
			}
		})
		if moved {
			s.announceProgress(id)
		}
	}
	out, terr := s.execute(ctx, snap, inputs, progress)
	s.locked(func() { delete(s.running, id) })
	if s.ctx.Err() != nil {
		// Shutting down: leave the task "processing", marked as stopped
		// cleanly; the next start runs it again without counting a crash.
		s.update(id, func(t *Task) {
			if t.Status == StatusProcessing {
				t.local.Stopped = true
			}
		})
		return
	}
	exists := false
	s.rlocked(func() { _, exists = s.tasks[id] })
	discard := !exists // deleted meanwhile
	finishedInline := false
	s.update(id, func(t *Task) {
		if t.Status != StatusProcessing {
			discard = true // cancelled meanwhile
			return
		}
		t.EndedAt = now()
		t.Percent = 100
		if out.engine != "" {
			t.Engine, t.EngineVersion = strp(out.engine), strp(out.version)
		}
		if terr != nil {
			failTask(t, terr.code, terr.msg)
			return
		}
		t.Status = StatusFinished
		t.Credits = intp(out.credits)
		t.local.Files = out.files
		t.local.Metadata = out.metadata
		finishedInline = t.local.Inline
	})
	if finishedInline {
		// Only once the finished state is committed: a crash before that
		// resumes the import, which needs its content. A failed import
		// keeps it for a retry.
		s.removeSpool(id)
	}
	if discard {
		for _, f := range out.files {
			if !f.Shared {
				s.st.DeleteFile(context.Background(), f.ID)
			}
		}
		return
	}
	s.afterEnd(id)
}

// waitEnd blocks until the job or task id ended (as judged by done), the
// context ends or the sync timeout passes.
func (s *Server) waitEnd(ctx context.Context, id string, done func() (bool, bool)) {
	// Ended already (a client polling a finished job): the read lock is
	// enough, and leaves the kept answers valid (views.go).
	ended := false
	s.rlocked(func() {
		exists, end := done()
		ended = !exists || end || s.closed.Load()
	})
	if ended {
		return
	}
	timer := time.NewTimer(s.cfg.SyncTimeout)
	defer timer.Stop()
	for {
		var ch chan struct{}
		stopWaiting := false
		s.locked(func() {
			exists, ended := done()
			if !exists || ended || s.closed.Load() {
				stopWaiting = true
				return
			}
			var ok bool
			if ch, ok = s.waiters[id]; !ok {
				ch = make(chan struct{})
				s.waiters[id] = ch
			}
		})
		if stopWaiting {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return
		case <-timer.C:
			return
		case <-s.ctx.Done():
			return
		}
	}
}
