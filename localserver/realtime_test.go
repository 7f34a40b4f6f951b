package localserver

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zishang520/socket.io/clients/engine/v3/transports"
	sio "github.com/zishang520/socket.io/clients/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"

	"github.com/cctoolkit/cloudconvert/sdk"
)

// collect reads an internal event subscription until pred says stop or 20s
// pass (a hang guard).
func collect(t *testing.T, sub *eventSub, stop func([]*event) bool) []*event {
	t.Helper()
	var got []*event
	deadline := time.After(20 * time.Second)
	for !stop(got) {
		select {
		case e := <-sub.ch:
			got = append(got, e)
		case <-deadline:
			t.Fatalf("timed out; events so far: %v", names(got))
		}
	}
	return got
}

func names(evs []*event) []string {
	var out []string
	for _, e := range evs {
		id := e.taskID
		if e.isJob() {
			id = e.jobID
		}
		out = append(out, e.name+" "+id)
	}
	return out
}

// TestEventsAnnouncedOnce: every status change of a job and its tasks is
// announced once, in order, from the one source webhooks and realtime
// share; a restart announces nothing again.
func TestEventsAnnouncedOnce(t *testing.T) {
	e := newEnv(t)
	sub := e.srv.events.subscribe("test", 1000, nil)
	_, body, _ := e.do("POST", "/v2/jobs", imageJob(testPNG(8, 8), "events"))
	job := body["data"].(map[string]any)
	id := job["id"].(string)
	got := collect(t, sub, func(evs []*event) bool {
		return len(evs) > 0 && evs[len(evs)-1].name == EventJobFinished
	})
	per := map[string][]string{} // task ID -> its events
	for i, ev := range got {
		if ev.isJob() {
			if ev.jobID != id || (i == 0) != (ev.name == EventJobCreated) {
				t.Errorf("event %d: %s %s", i, ev.name, ev.jobID)
			}
			continue
		}
		per[ev.taskID] = append(per[ev.taskID], ev.name)
		if ev.task == nil || ev.task.ID != ev.taskID || ev.jobID != id || ev.userID != "1" {
			t.Errorf("task event %s: %+v", ev.name, ev)
		}
	}
	if len(per) != 3 {
		t.Fatalf("events of %d tasks, want 3: %v", len(per), names(got))
	}
	for tid, evs := range per {
		// created, then (processing) updated and percent updates, then finished.
		if evs[0] != EventTaskCreated || evs[len(evs)-1] != EventTaskFinished ||
			slices.ContainsFunc(evs[1:len(evs)-1], func(n string) bool { return n != EventTaskUpdated }) {
			t.Errorf("task %s: %v", tid, evs)
		}
	}
	if fin := got[len(got)-1]; fin.job.Status != StatusFinished || len(fin.job.Tasks) != 3 || fin.job.local.UserID != "1" {
		t.Errorf("job.finished payload: %+v", fin.job)
	}
	e.restart()
	sub = e.srv.events.subscribe("after restart", 10, nil)
	e.do("GET", "/v2/jobs/"+id, nil)
	time.Sleep(50 * time.Millisecond) // the test only asserts that nothing comes
	if len(sub.ch) != 0 {
		t.Errorf("a restart announced %d events again", len(sub.ch))
	}
}

// TestEventBusNeverBlocks: a consumer that does not read loses events
// (counted) instead of blocking the publisher or growing.
func TestEventBusNeverBlocks(t *testing.T) {
	var b eventBus
	var drops []int64
	b.onDrop = func(_ string, n int64) { drops = append(drops, n) }
	slow := b.subscribe("slow", 4, nil)
	jobsOnly := b.subscribe("jobs", 4, func(n string) bool { return strings.HasPrefix(n, "job.") })
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 2500 {
			b.publish(&event{name: EventTaskUpdated})
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("publish blocked on a full consumer")
	}
	if len(slow.ch) != 4 || slow.dropped.Load() != 2496 || len(jobsOnly.ch) != 0 {
		t.Errorf("queue %d, dropped %d, jobs-only queue %d", len(slow.ch), slow.dropped.Load(), len(jobsOnly.ch))
	}
	if !slices.Equal(drops, []int64{1, 1000, 2000}) {
		t.Errorf("drop reports %v", drops)
	}
	if b.wants(EventTaskCreated) != true || !b.wants(EventJobCreated) {
		t.Error("wants")
	}
}

func sdkClient(t *testing.T, e *env, key string, opts ...sdk.Option) *sdk.Client {
	t.Helper()
	opts = append([]sdk.Option{sdk.WithBaseURL(e.URL + "/v2"), sdk.WithSyncURL(e.URL + "/sync/v2"), sdk.WithSocketURL(e.srv.SocketIOURL())}, opts...)
	c, err := sdk.New(key, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRealtimeSubscriptions: the Go client's typed subscriptions against
// the Socket.IO endpoint: job, job tasks, task and user channels receive
// their events with the webhook payloads' shape.
func TestRealtimeSubscriptions(t *testing.T) {
	log, _ := failureLog(t)
	e := newEnv(t, func(c *Config) { c.Logger = log })
	c := sdkClient(t, e, testKey, sdk.WithLogger(log))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	user, err := c.GetCurrentUser(ctx)
	if err != nil {
		t.Fatal(err)
	}
	userJobs, err := c.SubscribeUserJobs(ctx, user.Id)
	if err != nil {
		t.Fatal(err)
	}
	job, err := c.CreateJob(ctx, sdk.NewJob("realtime", map[string]sdk.TaskDefinition{
		"up":  sdk.TaskDef("import/upload", nil),
		"out": sdk.TaskDef("export/url", nil, "up"),
	}))
	if err != nil {
		t.Fatal(err)
	}
	if ev := receive(t, userJobs, "the user's jobs channel"); ev.Event != sdk.EventJobCreated || ev.Job.Id != job.Id {
		t.Fatalf("user channel: %+v", ev)
	}
	jobEvents, err := c.SubscribeJob(ctx, job.Id)
	if err != nil {
		t.Fatal(err)
	}
	taskEvents, err := c.SubscribeJobTasks(ctx, job.Id)
	if err != nil {
		t.Fatal(err)
	}
	var up sdk.Task
	for _, tk := range *job.Tasks {
		if *tk.Name == "up" {
			up = tk
		}
	}
	upEvents, err := c.SubscribeTask(ctx, up.Id)
	if err != nil {
		t.Fatal(err)
	}
	img := testPNG(4, 4)
	if err := c.Upload(ctx, up.Id, "in.png", bytes.NewReader(img), int64(len(img)), nil); err != nil {
		t.Fatal(err)
	}
	ev := receive(t, jobEvents, "the job's channel")
	if ev.Event != sdk.EventJobFinished || ev.Job.Status != "finished" || len(*ev.Job.Tasks) != 2 {
		t.Errorf("job event %s %s with %d tasks", ev.Event, ev.Job.Status, len(*ev.Job.Tasks))
	}
	finished := map[string]bool{}
	for len(finished) < 2 {
		te := receive(t, taskEvents, "the job's tasks channel")
		if te.Event == sdk.EventTaskFinished {
			finished[*te.Task.Name] = true
		}
	}
	if te := receive(t, upEvents, "the task's channel"); te.Event != sdk.EventTaskFinished || te.Task.Id != up.Id {
		t.Errorf("task channel: %s %s", te.Event, te.Task.Id)
	}
	cancel()
	if _, ok := <-jobEvents; ok {
		t.Error("the channel stays open after its context ended")
	}
}

// TestRealtimeSlowAcknowledgement: a Go subscription to the local server
// is made only once the server has joined it, however long that takes. The
// server's state lock is held for 3 s, longer than the 2 s after which a
// subscription to CloudConvert (which answers only refusals) is taken as
// made; SubscribeJob must not return before the lock is given back, and
// the next event arrives. The client is new: no earlier acknowledgement
// taught it that this endpoint answers.
func TestRealtimeSlowAcknowledgement(t *testing.T) {
	log, _ := failureLog(t)
	e := newEnv(t, func(c *Config) { c.Logger = log })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	jobID, upID := uploadJob(t, e)
	held, releasing := make(chan struct{}), make(chan struct{})
	go e.srv.locked(func() {
		close(held)
		time.Sleep(3 * time.Second)
		close(releasing)
	})
	<-held
	c := sdkClient(t, e, testKey, sdk.WithLogger(log))
	events, err := c.SubscribeJob(ctx, jobID)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-releasing:
	default:
		t.Fatal("SubscribeJob returned while the server could not have joined the channel yet")
	}
	img := testPNG(2, 2)
	if err := c.Upload(ctx, upID, "in.png", bytes.NewReader(img), int64(len(img)), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			_, job, _ := e.do("GET", "/v2/jobs/"+jobID, nil)
			t.Logf("the job as the API shows it: %s", jsonStr(job))
		}
	})
	if ev := receive(t, events, "the job's channel"); ev.Event != sdk.EventJobFinished {
		t.Errorf("event %s, want %s", ev.Event, sdk.EventJobFinished)
	}
}

// TestRealtimeSubscriptionRedials: a Go subscription outlives a restart of
// the server (the sdk redials and subscribes again) and gets the events
// that follow; once the server is gone for good, the channel closes after
// the redials, before the caller's deadline.
func TestRealtimeSubscriptionRedials(t *testing.T) {
	log, buf := failureLog(t)
	e := newEnv(t, func(c *Config) { c.Logger = log })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	jobID, upID := uploadJob(t, e)
	c := sdkClient(t, e, testKey, sdk.WithLogger(log))
	events, err := c.SubscribeJob(ctx, jobID)
	if err != nil {
		t.Fatal(err)
	}
	e.restart()
	for i := 0; !strings.Contains(buf.String(), "subscribed again"); i++ {
		if i == 400 {
			t.Fatal("the subscription was not renewed within 20 s of the restart")
		}
		time.Sleep(50 * time.Millisecond)
	}
	img := testPNG(2, 2)
	if err := c.Upload(ctx, upID, "in.png", bytes.NewReader(img), int64(len(img)), nil); err != nil {
		t.Fatal(err)
	}
	if ev := receive(t, events, "the job's channel"); ev.Event != sdk.EventJobFinished {
		t.Errorf("event %s, want %s", ev.Event, sdk.EventJobFinished)
	}
	e.stop()
	if _, ok := <-events; ok {
		t.Error("an event came from a stopped server")
	}
	if ctx.Err() != nil {
		t.Error("the channel stayed open until the caller's deadline, not closed after the redials")
	}
}

// uploadJob creates a job of one import/upload task, which finishes once
// a file is uploaded; it returns the job's and the task's IDs.
func uploadJob(t *testing.T, e *env) (jobID, uploadTaskID string) {
	t.Helper()
	code, body, _ := e.do("POST", "/v2/jobs", map[string]any{"tasks": map[string]any{"up": map[string]any{"operation": "import/upload"}}})
	if code != 201 {
		t.Fatalf("create: %d %v", code, body)
	}
	data := body["data"].(map[string]any)
	return data["id"].(string), data["tasks"].([]any)[0].(map[string]any)["id"].(string)
}

// failureLog is a debug log for the server and the client of one test,
// printed (with the time since the test began) only if the test fails.
func failureLog(t *testing.T) (*slog.Logger, *lockedBuffer) {
	buf := new(lockedBuffer)
	began := time.Now()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("failed after %v; the server's and the client's log:\n%s", time.Since(began), buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// receive takes the next event of a subscription, failing the test when
// the subscription ended (its context's deadline) without one.
func receive[E any](t *testing.T, ch <-chan E, what string) E {
	t.Helper()
	e, ok := <-ch
	if !ok {
		t.Fatalf("%s ended without the expected event", what)
	}
	return e
}

// TestRealtimeRefusals: a subscription is authorised: another user's job,
// a bad key and an unknown channel are refused, with the status.
func TestRealtimeRefusals(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Users = []UserConfig{{ID: 1, APIKeys: []string{testKey}}, {ID: 2, APIKeys: []string{"other-key"}}}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, body, _ := e.do("POST", "/v2/jobs", map[string]any{"tasks": map[string]any{"up": map[string]any{"operation": "import/upload"}}})
	jobID := body["data"].(map[string]any)["id"].(string)
	cases := []struct {
		name   string
		key    string
		sub    func(c *sdk.Client) error
		status int
	}{
		{"another user's job", "other-key", func(c *sdk.Client) error { _, err := c.SubscribeJob(ctx, jobID); return err }, http.StatusForbidden},
		{"another user's job tasks", "other-key", func(c *sdk.Client) error { _, err := c.SubscribeJobTasks(ctx, jobID); return err }, http.StatusForbidden},
		{"another user's account", "other-key", func(c *sdk.Client) error { _, err := c.SubscribeUserJobs(ctx, 1); return err }, http.StatusForbidden},
		{"no such task", testKey, func(c *sdk.Client) error { _, err := c.SubscribeTask(ctx, "nope"); return err }, http.StatusForbidden},
		{"bad key", "not-a-key", func(c *sdk.Client) error { _, err := c.SubscribeJob(ctx, jobID); return err }, http.StatusUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.sub(sdkClient(t, e, tc.key))
			var se *sdk.SubscriptionError
			if !errors.As(err, &se) || se.Status != tc.status {
				t.Fatalf("got %v, want a refusal with status %d", err, tc.status)
			}
		})
	}
	// The owner may.
	if _, err := sdkClient(t, e, testKey).SubscribeJob(ctx, jobID); err != nil {
		t.Fatalf("owner: %v", err)
	}
	// A client without a known endpoint says so.
	plain, _ := sdk.New(testKey, sdk.WithBaseURL(e.URL+"/v2"))
	if _, err := plain.SubscribeJob(ctx, jobID); !errors.Is(err, sdk.ErrNoEvents) {
		t.Errorf("no endpoint: %v", err)
	}
}

// TestRealtimeIdleConnectionsClosed: a connection that subscribes to
// nothing is closed after a while, so idle connections cannot hold the
// endpoint's slots.
func TestRealtimeIdleConnectionsClosed(t *testing.T) {
	e := newEnv(t)
	e.srv.rt.subscribeExpiry.Store(int64(100 * time.Millisecond))
	sock := dialSocket(t, e.srv.SocketIOURL())
	defer sock.Disconnect()
	// The client saw the connection; the server closes it (its count of
	// connections is not polled for 1 first: it may be 1 for only 100 ms).
	waitFor(t, "the idle connection to be closed", func() bool {
		return !sock.Connected() && e.srv.Stats().RealtimeConnections == 0
	})
}

// dialSocket connects a Socket.IO client (no reconnection) and waits for
// its "connect", opening the engine before joining the namespace. Under -race on a loaded machine the client library
// (v3.0.6) can miss the engine's "open" and never connect (4 of 200
// attempts in one measurement; the server answered all of 400 raw
// handshakes in time), so an attempt is given 3 s and made up to 5 times,
// as the sdk does (sdk/events.go, attemptWait).
func dialSocket(t *testing.T, url string) *sio.Socket {
	t.Helper()
	for attempt := 1; attempt <= 5; attempt++ {
		opts := sio.DefaultOptions()
		opts.SetForceNew(true)
		opts.SetReconnection(false)
		opts.SetAutoConnect(false)
		opts.SetTimeout(3 * time.Second)
		opts.SetTransports(types.NewSet[transports.TransportCtor](transports.WebSocket))
		sock, err := sio.Connect(url, opts)
		if err != nil {
			t.Fatal(err)
		}
		connected := make(chan struct{}, 1)
		sock.On("connect", func(...any) {
			select {
			case connected <- struct{}{}:
			default:
			}
		})
		// Open the engine, then join (as the sdk does: joining while the
		// engine opens can send the namespace's CONNECT twice).
		opened := make(chan error, 1)
		sock.Io().Open(func(err error) {
			select {
			case opened <- err:
			default:
			}
		})
		giveUp := time.After(4 * time.Second)
	wait:
		for {
			select {
			case err := <-opened:
				if err != nil {
					t.Logf("realtime connection attempt %d: %v", attempt, err)
					break wait
				}
				sock.Connect()
			case <-connected:
				return sock
			case <-giveUp:
				t.Logf("realtime connection attempt %d: no connect within 4s; trying again", attempt)
				break wait
			}
		}
		sock.Disconnect()
		if e := sock.Io().Engine(); e != nil {
			e.Close()
		}
	}
	t.Fatal("no realtime connection in 5 attempts")
	return nil
}
