package sdk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/cctoolkit/cloudconvert/apierror"
	"github.com/cctoolkit/cloudconvert/generated/cloudconvert/client"
)

// ErrJobFailed is matched (errors.Is) by the error WaitJob returns for a
// job that ended with status "error", and WaitTask for a failed task.
var ErrJobFailed = errors.New("failed")

// Progress is what a wait reports: the job's (or the task's) status and
// percent, and each task's.
type Progress struct {
	JobID   string // "" when waiting for a standalone task
	Status  string // waiting, processing, finished, error
	Percent int    // mean of the tasks' percents (a finished task counts 100)
	Tasks   []TaskProgress
	// Via says where this state came from: "sync" or "poll" (the final
	// state), "events" (a realtime event) or "poll" (progress polled
	// alongside the sync wait where no realtime endpoint is known).
	Via string
}

// TaskProgress is one task's state.
type TaskProgress struct {
	ID, Name, Operation, Status string
	Percent                     int
	Code, Message               string
}

// WaitOptions tune a wait. The zero value is fine.
type WaitOptions struct {
	// Progress, when set, is called with every change observed (never
	// concurrently), and once more with the final state. While the sync
	// endpoint blocks, changes come from the realtime events where the
	// client knows an endpoint (SocketURL), else from polling every
	// PollInterval.
	Progress func(Progress)
	// PollInterval is the first polling interval (default 1s); it grows
	// by 1.5x with jitter up to MaxPollInterval (default 10s).
	PollInterval, MaxPollInterval time.Duration
	// NoSync skips the sync endpoint and polls.
	NoSync bool
	// Function names the caller in errors ("wait_job" by default), so
	// the Lua runtime's wait_job reads the same.
	Function string
}

func (o *WaitOptions) withDefaults() WaitOptions {
	var w WaitOptions
	if o != nil {
		w = *o
	}
	if w.PollInterval <= 0 {
		w.PollInterval = time.Second
	}
	if w.MaxPollInterval < w.PollInterval {
		w.MaxPollInterval = max(10*time.Second, w.PollInterval)
	}
	return w
}

// WaitResult is the outcome of WaitJobResult.
type WaitResult struct {
	Job *Job
	// Raw is the body of the final answer, {"data": {...}} exactly as the
	// server sent it: the Lua runtime turns it into the table wait_job
	// returns.
	Raw []byte
	Via string // "sync" or "poll"
}

// WaitJob waits until the job is finished or failed, through the sync
// endpoint (GET {sync}/jobs/{id} blocks until then), bounded by ctx's
// deadline. Where the sync host is not available (connection refused, 404,
// 5xx, or none configured) it polls get_job with backoff. A job that ended
// in "error" is returned together with an error matching ErrJobFailed that
// names the failed tasks.
func (c *Client) WaitJob(ctx context.Context, id string, opts *WaitOptions) (*Job, error) {
	r, err := c.WaitJobResult(ctx, id, opts)
	if r == nil {
		return nil, err
	}
	return r.Job, err
}

// WaitJobResult is WaitJob giving the raw final body too. It is the one
// code path for waiting: the CLI's wait and the Lua runtime's wait_job use
// it.
func (c *Client) WaitJobResult(ctx context.Context, id string, opts *WaitOptions) (*WaitResult, error) {
	w := opts.withDefaults()
	fn := cmp(w.Function, "wait_job")
	if err := checkID(fn, id); err != nil {
		return nil, err
	}
	t := waitTarget{
		fn: fn, kind: "jobs", id: id,
		live: func(ctx context.Context, rep *reporter) error { return c.liveJob(ctx, id, rep) },
		get: func(ctx context.Context, viaSync bool) (snapshot, error) {
			api, k := c.api, c.begin(ctx, "get_job", false)
			if viaSync {
				api, k = c.sync, c.begin(ctx, "wait_job", true)
			}
			var r client.JobResponse
			resp, err := api.GetJob(k.ctx, id)
			body, err := k.decode(resp, err, &r)
			if err != nil {
				return snapshot{}, err
			}
			return snapshot{job: &r.Data, raw: body, status: string(r.Data.Status)}, nil
		},
	}
	s, via, err := c.wait(ctx, &t, &w)
	if err != nil {
		return nil, err
	}
	res := &WaitResult{Job: s.job, Raw: s.raw, Via: via}
	if s.job.Status == "error" {
		return res, jobFailure(fn, s.job)
	}
	return res, nil
}

// WaitTask waits until the task is finished or failed, like WaitJob.
func (c *Client) WaitTask(ctx context.Context, id string, opts *WaitOptions) (*Task, error) {
	w := opts.withDefaults()
	fn := cmp(w.Function, "wait_task")
	if err := checkID(fn, id); err != nil {
		return nil, err
	}
	t := waitTarget{
		fn: fn, kind: "tasks", id: id,
		live: func(ctx context.Context, rep *reporter) error { return c.liveTask(ctx, id, rep) },
		get: func(ctx context.Context, viaSync bool) (snapshot, error) {
			api, k := c.api, c.begin(ctx, "get_task", false)
			if viaSync {
				api, k = c.sync, c.begin(ctx, "wait_task", true)
			}
			var r client.TaskResponse
			resp, err := api.GetTask(k.ctx, id)
			body, err := k.decode(resp, err, &r)
			if err != nil {
				return snapshot{}, err
			}
			return snapshot{task: &r.Data, raw: body, status: string(r.Data.Status)}, nil
		},
	}
	s, _, err := c.wait(ctx, &t, &w)
	if err != nil {
		return nil, err
	}
	if s.task.Status == "error" {
		return s.task, fmt.Errorf("%s: task %s (%s) %w: %s", fn, s.task.Id, s.task.Operation, ErrJobFailed, taskReason(*s.task))
	}
	return s.task, nil
}

type snapshot struct {
	job    *Job
	task   *Task
	raw    []byte
	status string
}

func (s snapshot) done() bool { return s.status == "finished" || s.status == "error" }

type waitTarget struct {
	fn, kind, id string
	get          func(ctx context.Context, viaSync bool) (snapshot, error)
	// live reports progress from realtime events until ctx ends (nil), or
	// fails at once or when the events stop (the caller then polls).
	live func(ctx context.Context, rep *reporter) error
}

func (c *Client) wait(ctx context.Context, t *waitTarget, w *WaitOptions) (snapshot, string, error) {
	rep := &reporter{fn: w.Progress}
	if c.sync != nil && !w.NoSync {
		s, err := c.waitSync(ctx, t, w, rep)
		if err == nil {
			rep.report(s, "sync", true)
			return s, "sync", nil
		}
		if !syncUnavailable(ctx, err) {
			return snapshot{}, "", err
		}
		if c.log.Enabled(ctx, slog.LevelInfo) {
			c.log.LogAttrs(ctx, slog.LevelInfo, "cloudconvert: sync endpoint unavailable, polling",
				slog.String("function", t.fn), slog.String("error", c.redact(err.Error())))
		}
	}
	s, err := c.poll(ctx, t, w, rep, nil)
	if err != nil {
		return snapshot{}, "", err
	}
	rep.report(s, "poll", true)
	return s, "poll", nil
}

// waitSync blocks on the sync endpoint. With a progress callback, the
// progress comes alongside from the realtime events, or where there are
// none from polling the REST host.
func (c *Client) waitSync(ctx context.Context, t *waitTarget, w *WaitOptions, rep *reporter) (snapshot, error) {
	var stopPoll func()
	if w.Progress != nil {
		pctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			if c.socketURL != "" && t.live != nil {
				err := t.live(pctx, rep)
				if err == nil || pctx.Err() != nil {
					return
				}
				if c.log.Enabled(pctx, slog.LevelInfo) {
					c.log.LogAttrs(pctx, slog.LevelInfo, "cloudconvert: realtime events unavailable, polling for progress",
						slog.String("function", t.fn), slog.String("error", c.redact(err.Error())))
				}
			}
			_, _ = c.poll(pctx, t, w, rep, pctx.Done())
		}()
		stopPoll = func() { cancel(); <-done }
	}
	defer func() {
		if stopPoll != nil {
			stopPoll()
		}
	}()
	for {
		began := time.Now()
		s, err := t.get(ctx, true)
		if err != nil {
			return snapshot{}, err
		}
		if s.done() {
			return s, nil
		}
		// The sync host answered before the end (its own timeout): ask
		// again, unless it answers at once, which would make a busy loop.
		if time.Since(began) < time.Second {
			return snapshot{}, errSyncNotBlocking
		}
	}
}

var errSyncNotBlocking = errors.New("the sync endpoint answered without waiting")

// syncUnavailable: fall back to polling on connection failures, 404, 5xx,
// malformed answers, a sync host that does not block, and rate limiting
// of the sync host. Not on 401/403 (polling would fail the same way), nor
// when the caller's context ended.
func syncUnavailable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var ae *apierror.Error
	if errors.As(err, &ae) {
		return ae.Status == http.StatusNotFound || ae.Status == http.StatusTooManyRequests || ae.Status >= 500
	}
	return true
}

// poll asks get_job/get_task until the end, with backoff between asks.
// With stop != nil it only reports progress until stop is closed.
func (c *Client) poll(ctx context.Context, t *waitTarget, w *WaitOptions, rep *reporter, stop <-chan struct{}) (snapshot, error) {
	bo := &backoff.ExponentialBackOff{InitialInterval: w.PollInterval, RandomizationFactor: 0.2, Multiplier: 1.5, MaxInterval: w.MaxPollInterval}
	bo.Reset()
	last := "unknown"
	for {
		s, err := t.get(ctx, false)
		if err != nil {
			if ctx.Err() != nil && stop == nil {
				return snapshot{}, fmt.Errorf("%s: %s %s still %s: %w", t.fn, strings.TrimSuffix(t.kind, "s"), t.id, last, context.Cause(ctx))
			}
			return snapshot{}, err
		}
		last = s.status
		if s.done() {
			return s, nil
		}
		rep.report(s, "poll", false)
		timer := time.NewTimer(bo.NextBackOff())
		select {
		case <-ctx.Done():
			timer.Stop()
			return snapshot{}, fmt.Errorf("%s: %s %s still %s: %w", t.fn, strings.TrimSuffix(t.kind, "s"), t.id, s.status, context.Cause(ctx))
		case <-stop:
			timer.Stop()
			return snapshot{}, nil
		case <-timer.C:
		}
	}
}

// reporter calls the progress callback on changes, never concurrently.
type reporter struct {
	fn   func(Progress)
	mu   sync.Mutex
	last string
}

func (r *reporter) report(s snapshot, via string, final bool) {
	if r == nil || r.fn == nil || (s.job == nil && s.task == nil) {
		return
	}
	p := progressOf(s, via)
	key := fmt.Sprint(p.Status, p.Percent, p.Tasks)
	r.mu.Lock()
	defer r.mu.Unlock()
	if key == r.last && !final {
		return
	}
	r.last = key
	r.fn(p)
}

func progressOf(s snapshot, via string) Progress {
	var p Progress
	p.Via = via
	var tasks []Task
	if s.job != nil {
		p.JobID, p.Status = s.job.Id, string(s.job.Status)
		if s.job.Tasks != nil {
			tasks = *s.job.Tasks
		}
	} else {
		p.Status = string(s.task.Status)
		tasks = []Task{*s.task}
	}
	sum := 0
	for _, t := range tasks {
		tp := TaskProgress{ID: t.Id, Operation: t.Operation, Status: string(t.Status), Code: nullString(t.Code), Message: nullString(t.Message)}
		if t.Name != nil {
			tp.Name = *t.Name
		}
		if t.Percent != nil {
			tp.Percent = *t.Percent
		}
		if tp.Status == "finished" {
			tp.Percent = 100
		}
		sum += tp.Percent
		p.Tasks = append(p.Tasks, tp)
	}
	sort.Slice(p.Tasks, func(i, j int) bool { return p.Tasks[i].Name+p.Tasks[i].ID < p.Tasks[j].Name+p.Tasks[j].ID })
	if len(tasks) > 0 {
		p.Percent = sum / len(tasks)
	}
	if p.Status == "finished" {
		p.Percent = 100
	}
	return p
}

// jobFailure describes why a job failed: its failed tasks, the root causes
// first (tasks whose code is not INPUT_TASK_FAILED).
func jobFailure(fn string, j *Job) error {
	var root, rest []string
	if j.Tasks != nil {
		for _, t := range *j.Tasks {
			if t.Status != "error" {
				continue
			}
			name := t.Id
			if t.Name != nil {
				name = *t.Name
			}
			line := fmt.Sprintf("task %s (%s): %s", name, t.Operation, taskReason(t))
			if nullString(t.Code) == "INPUT_TASK_FAILED" {
				rest = append(rest, line)
			} else {
				root = append(root, line)
			}
		}
	}
	sort.Strings(root)
	sort.Strings(rest)
	all := append(root, rest...)
	if len(all) == 0 {
		return fmt.Errorf("%s: job %s %w", fn, j.Id, ErrJobFailed)
	}
	return fmt.Errorf("%s: job %s %w: %s", fn, j.Id, ErrJobFailed, strings.Join(all, "; "))
}

func taskReason(t Task) string {
	code, msg := nullString(t.Code), nullString(t.Message)
	switch {
	case code != "" && msg != "":
		return code + ": " + msg
	case code != "":
		return code
	case msg != "":
		return msg
	}
	return "no reason given"
}

// errEventsStopped: the realtime connection ended before the wait did.
var errEventsStopped = errors.New("the realtime events stopped")

// liveJob reports a job's progress from its realtime events: the job's
// state once subscribed, then every job and task event applied to it.
func (c *Client) liveJob(ctx context.Context, id string, rep *reporter) error {
	jobs, err := c.SubscribeJob(ctx, id)
	if err != nil {
		return err
	}
	tasks, err := c.SubscribeJobTasks(ctx, id)
	if err != nil {
		return err
	}
	job, err := c.GetJob(ctx, id) // after subscribing: no change falls between
	if err != nil {
		return err
	}
	rep.report(snapshot{job: job, status: string(job.Status)}, "events", false)
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-jobs:
			if !ok {
				return errEventsStopped
			}
			j := ev.Job
			job = &j
		case ev, ok := <-tasks:
			if !ok {
				return errEventsStopped
			}
			applyTask(job, ev.Task)
		}
		rep.report(snapshot{job: job, status: string(job.Status)}, "events", false)
	}
}

// applyTask puts a task's new state into its job (a copy of the list).
func applyTask(job *Job, t Task) {
	var list []Task
	if job.Tasks != nil {
		list = append(list, (*job.Tasks)...)
	}
	i := slices.IndexFunc(list, func(x Task) bool { return x.Id == t.Id })
	if i < 0 {
		list = append(list, t)
	} else {
		list[i] = t
	}
	job.Tasks = &list
}

// liveTask reports a task's progress from its realtime events.
func (c *Client) liveTask(ctx context.Context, id string, rep *reporter) error {
	events, err := c.SubscribeTask(ctx, id)
	if err != nil {
		return err
	}
	task, err := c.GetTask(ctx, id)
	if err != nil {
		return err
	}
	rep.report(snapshot{task: task, status: string(task.Status)}, "events", false)
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				return errEventsStopped
			}
			t := ev.Task
			rep.report(snapshot{task: &t, status: string(t.Status)}, "events", false)
		}
	}
}
