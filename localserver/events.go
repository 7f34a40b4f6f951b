package localserver

import (
	"strings"
	"sync"
	"sync/atomic"
)

// The events the server announces when a job or a task changes, as
// CloudConvert names them. Webhooks and the realtime (Socket.IO) endpoint
// both consume them from one source: write() announces every status change
// of the jobs and tasks it persisted, once, in the order of the writes.
const (
	EventJobCreated   = "job.created"
	EventJobFinished  = "job.finished"
	EventJobFailed    = "job.failed"
	EventTaskCreated  = "task.created"
	EventTaskUpdated  = "task.updated"
	EventTaskFinished = "task.finished"
	EventTaskFailed   = "task.failed"
)

// event is one announced change. job and task are rendered when the change
// was persisted (the payload webhooks and subscribers see), never mutated
// afterwards, and shared by all consumers.
type event struct {
	name   string
	userID string
	jobID  string // the job, or the task's job ("" for a standalone task)
	taskID string // task events
	job    *Job   // job events: the job with its tasks
	task   *Task  // task events
}

func (e *event) isJob() bool { return strings.HasPrefix(e.name, "job.") }

// eventBus hands events to its consumers without ever blocking the
// publisher: each consumer has a bounded queue, and an event that finds it
// full is dropped for that consumer (and counted), so a slow consumer costs
// neither the scheduler's time nor unbounded memory.
type eventBus struct {
	mu   sync.RWMutex
	subs []*eventSub
	// onDrop is told about the first drop of a consumer and then every
	// 1000th (for the log).
	onDrop func(consumer string, dropped int64)
}

// eventSub is one consumer's queue.
type eventSub struct {
	name    string
	want    func(name string) bool // which events it takes; checked before rendering
	ch      chan *event
	dropped atomic.Int64
}

// subscribe adds a consumer with a queue of size events; want selects the
// events it takes (nil: all).
func (b *eventBus) subscribe(name string, size int, want func(string) bool) *eventSub {
	if want == nil {
		want = func(string) bool { return true }
	}
	sub := &eventSub{name: name, want: want, ch: make(chan *event, size)}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.subs = append(b.subs, sub)
	return sub
}

// wants reports whether any consumer takes events called name, so that
// the publisher renders payloads only when someone will read them.
func (b *eventBus) wants(name string) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for _, s := range b.subs {
		if s.want(name) {
			return true
		}
	}
	return false
}

// publish queues e for every consumer that wants it; never blocks.
func (b *eventBus) publish(e *event) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for _, s := range b.subs {
		if !s.want(e.name) {
			continue
		}
		select {
		case s.ch <- e:
		default:
			if n := s.dropped.Add(1); (n == 1 || n%1000 == 0) && b.onDrop != nil {
				b.onDrop(s.name, n)
			}
		}
	}
}

// taskEvent names the event of a task whose status went from announced
// (what was last announced, "" for none) to status; "" when there is none.
func taskEvent(announced, status string) string {
	switch {
	case announced == status:
		return ""
	case announced == "":
		return EventTaskCreated
	case status == StatusFinished:
		return EventTaskFinished
	case status == StatusError:
		return EventTaskFailed
	}
	return EventTaskUpdated
}

// jobEvent is taskEvent for jobs: created, finished and failed only (the
// API has no job.updated).
func jobEvent(announced, status string) string {
	switch {
	case announced == status:
		return ""
	case announced == "":
		return EventJobCreated
	case status == StatusFinished:
		return EventJobFinished
	case status == StatusError:
		return EventJobFailed
	}
	return ""
}

// announcements computes the events of what a write changed; under mu.
// The announced states are recorded by commitAnnouncements once the write
// is on disk.
func (s *Server) announcements(b *batch) []*event {
	var out []*event
	seen := map[any]bool{}
	for _, j := range b.jobs {
		if seen[j] || s.jobs[j.ID] != j {
			continue
		}
		seen[j] = true
		if name := jobEvent(j.local.announced, j.Status); name != "" && s.events.wants(name) {
			out = append(out, &event{name: name, userID: j.local.UserID, jobID: j.ID, job: s.renderJob(j, true)})
		}
	}
	for _, t := range b.tasks {
		if seen[t] || s.tasks[t.ID] != t {
			continue
		}
		seen[t] = true
		if name := taskEvent(t.local.announced, t.Status); name != "" && s.events.wants(name) {
			out = append(out, &event{name: name, userID: t.local.UserID, jobID: t.jobID(), taskID: t.ID, task: s.render(t)})
		}
	}
	// Job events first: a job's creation precedes its tasks', and its end
	// follows them (finishJobIfDone writes the job alone, after the tasks).
	return out
}

// commitAnnouncements records the states announced by a persisted write;
// under mu.
func (s *Server) commitAnnouncements(b *batch) {
	for _, j := range b.jobs {
		j.local.announced = j.Status
	}
	for _, t := range b.tasks {
		t.local.announced = t.Status
	}
}

// announceProgress tells subscribers that a running task's percent moved.
func (s *Server) announceProgress(id string) {
	if !s.events.wants(EventTaskUpdated) {
		return
	}
	var e *event
	s.rlocked(func() {
		if t := s.tasks[id]; t != nil && t.Status == StatusProcessing {
			e = &event{name: EventTaskUpdated, userID: t.local.UserID, jobID: t.jobID(), taskID: t.ID, task: s.render(t)}
		}
	})
	if e != nil {
		s.events.publish(e)
	}
}
