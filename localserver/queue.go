package localserver

import (
	"context"
	"sync"
)

// queuedTask is a task ready to run.
type queuedTask struct {
	id    string
	heavy bool // engine.Heavy: PDF, office or browser work
}

type jobQueue struct {
	key   string
	tasks []queuedTask
}

type userQueue struct {
	key  string
	jobs []*jobQueue
}

// runQueue hands ready tasks to the workers fairly: round-robin over users,
// then over the jobs of a user, first come first served within a job. Heavy
// tasks may occupy at most half of the workers (at least one), so a small
// image job finds a free worker while big PDF jobs run; a heavy task that
// cannot start yet does not hold back light ones queued after it.
type runQueue struct {
	mu       sync.Mutex
	users    []*userQueue // served from the front, rotated to the back
	heavy    int          // heavy tasks running
	maxHeavy int
	wake     chan struct{} // closed and replaced when something changes
}

func newRunQueue(workers int) *runQueue {
	return &runQueue{maxHeavy: max(1, workers/2), wake: make(chan struct{})}
}

// signal wakes waiting workers; under q.mu.
func (q *runQueue) signal() {
	close(q.wake)
	q.wake = make(chan struct{})
}

// push queues a task of a user's job (standalone tasks are their own job).
func (q *runQueue) push(user, job string, t queuedTask) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var u *userQueue
	for _, x := range q.users {
		if x.key == user {
			u = x
			break
		}
	}
	if u == nil {
		u = &userQueue{key: user}
		q.users = append(q.users, u)
	}
	var j *jobQueue
	for _, x := range u.jobs {
		if x.key == job {
			j = x
			break
		}
	}
	if j == nil {
		j = &jobQueue{key: job}
		u.jobs = append(u.jobs, j)
	}
	j.tasks = append(j.tasks, t)
	q.signal()
}

// take waits for the next task a worker may run; false when ctx ends.
func (q *runQueue) take(ctx context.Context) (queuedTask, bool) {
	for {
		t, ok, wake := q.pick()
		if ok {
			return t, true
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return queuedTask{}, false
		}
	}
}

// pick removes the next runnable task, rotating the user and the job it
// came from to the back; or returns the channel to wait on.
func (q *runQueue) pick() (queuedTask, bool, chan struct{}) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for ui, u := range q.users {
		for ji, j := range u.jobs {
			for ti, t := range j.tasks {
				if t.heavy && q.heavy >= q.maxHeavy {
					continue
				}
				j.tasks = append(j.tasks[:ti:ti], j.tasks[ti+1:]...)
				u.jobs = append(u.jobs[:ji:ji], u.jobs[ji+1:]...)
				if len(j.tasks) > 0 {
					u.jobs = append(u.jobs, j)
				}
				q.users = append(q.users[:ui:ui], q.users[ui+1:]...)
				if len(u.jobs) > 0 {
					q.users = append(q.users, u)
				}
				if t.heavy {
					q.heavy++
				}
				return t, true, nil
			}
		}
	}
	return queuedTask{}, false, q.wake
}

// done releases what a task taken from the queue held.
func (q *runQueue) done(t queuedTask) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if t.heavy {
		q.heavy--
	}
	q.signal()
}
