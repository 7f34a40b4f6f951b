package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/zishang520/socket.io/clients/engine/v3/transports"
	sio "github.com/zishang520/socket.io/clients/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// Realtime events: CloudConvert's Socket.IO endpoint (the descriptor's
// "socketio" server; a local server serves it at its own root) pushes job
// and task events to subscribers, as the official SDKs' subscribeEvent do.
// Each Subscribe* call opens its own connection (websocket transport),
// subscribes to one channel with the client's key and delivers that
// channel's events until ctx ends; the channel is then closed. A lost
// connection is re-established (and the subscription renewed) a few times
// before the channel closes.

// The events, as CloudConvert names them.
const (
	EventJobCreated   = "job.created"
	EventJobFinished  = "job.finished"
	EventJobFailed    = "job.failed"
	EventTaskCreated  = "task.created"
	EventTaskUpdated  = "task.updated"
	EventTaskFinished = "task.finished"
	EventTaskFailed   = "task.failed"
)

// JobEvent is a job event (job.created, job.finished, job.failed) with the
// job as it was then, tasks included.
type JobEvent struct {
	Event string
	Job   Job
}

// TaskEvent is a task event (task.created, task.updated, task.finished,
// task.failed) with the task as it was then.
type TaskEvent struct {
	Event string
	Task  Task
}

// ErrNoEvents is returned by the Subscribe methods when the client knows
// no realtime endpoint (a custom base URL without WithSocketURL).
var ErrNoEvents = errors.New("no realtime events endpoint is known for this client (use WithSocketURL)")

// SubscriptionError is a subscription the endpoint refused (401: the key
// is not valid; 403: the job, task or user is not the key's).
type SubscriptionError struct {
	Channel string
	Status  int
	Message string
}

func (e *SubscriptionError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("cloudconvert: subscription to %s refused (%d): %s", e.Channel, e.Status, msg)
}

// WithSocketURL sets the realtime endpoint's URL (its host; the Socket.IO
// path /socket.io/ is added), e.g. a local server's root
// "http://127.0.0.1:8080". An empty string disables realtime events.
func WithSocketURL(u string) Option {
	return func(c *config) error {
		c.socketURL, c.socketSet = u, true
		return nil
	}
}

// SocketURL is the realtime endpoint in use ("" when none is known).
func (c *Client) SocketURL() string { return c.socketURL }

// eventBuffer is how many events wait for the reader before the
// connection's own buffering takes over (the server disconnects a
// subscriber that stops reading for long).
const eventBuffer = 64

// subscribeWait bounds the wait for the endpoint's answer to a subscribe
// sent on a connected socket. CloudConvert's endpoint only reports
// refusals, so after this long the subscription is taken as made. The
// local server acknowledges every subscribe and says so at connect
// (acknowledgesSubscribeEvent); with such an endpoint, and once an
// endpoint has acknowledged one subscribe, a client waits for the
// acknowledgement up to connectWait: on a loaded machine an answer can
// take longer than subscribeWait, and a subscription taken as made before
// the server joined it would miss the events that follow. connectWait
// bounds the whole setup.
const (
	// acknowledgesSubscribeEvent is the local server's announcement
	// (localserver.AcknowledgesSubscribeEvent).
	acknowledgesSubscribeEvent = "acknowledges_subscribe"
	subscribeWait              = 2 * time.Second
	connectWait                = 20 * time.Second
	// attemptWait bounds one connection attempt. Short: the socket.io
	// client (v3.0.6) can miss the engine's "open" when it comes before
	// its listener is attached, and then only this timeout, followed by
	// a reconnection, gets it going.
	attemptWait = 3 * time.Second
)

// SubscribeJob delivers the job's events (job.created, job.finished,
// job.failed) until ctx ends.
func (c *Client) SubscribeJob(ctx context.Context, jobID string) (<-chan JobEvent, error) {
	if err := checkID("SubscribeJob", jobID); err != nil {
		return nil, err
	}
	return subscribe(ctx, c, "private-job."+jobID, func(name string, d eventData) (JobEvent, bool) {
		return JobEvent{Event: name, Job: d.Job}, d.Job.Id != ""
	})
}

// SubscribeJobTasks delivers the events of the job's tasks (task.created,
// task.updated, task.finished, task.failed) until ctx ends.
func (c *Client) SubscribeJobTasks(ctx context.Context, jobID string) (<-chan TaskEvent, error) {
	if err := checkID("SubscribeJobTasks", jobID); err != nil {
		return nil, err
	}
	return subscribe(ctx, c, "private-job."+jobID+".tasks", taskEvent)
}

// SubscribeTask delivers the task's events until ctx ends.
func (c *Client) SubscribeTask(ctx context.Context, taskID string) (<-chan TaskEvent, error) {
	if err := checkID("SubscribeTask", taskID); err != nil {
		return nil, err
	}
	return subscribe(ctx, c, "private-task."+taskID, taskEvent)
}

// SubscribeUserJobs delivers the job events of the user's account (the
// user ID is GetCurrentUser's) until ctx ends.
func (c *Client) SubscribeUserJobs(ctx context.Context, userID int) (<-chan JobEvent, error) {
	return subscribe(ctx, c, "private-user."+strconv.Itoa(userID)+".jobs", func(name string, d eventData) (JobEvent, bool) {
		return JobEvent{Event: name, Job: d.Job}, d.Job.Id != ""
	})
}

// SubscribeUserTasks delivers the task events of the user's account.
func (c *Client) SubscribeUserTasks(ctx context.Context, userID int) (<-chan TaskEvent, error) {
	return subscribe(ctx, c, "private-user."+strconv.Itoa(userID)+".tasks", taskEvent)
}

type eventData struct {
	Job  Job  `json:"job"`
	Task Task `json:"task"`
}

func taskEvent(name string, d eventData) (TaskEvent, bool) {
	return TaskEvent{Event: name, Task: d.Task}, d.Task.Id != ""
}

// subscription is one connection and its channel of events.
type subscription[E any] struct {
	ch     chan E
	mu     sync.Mutex
	closed bool
	done   chan struct{} // closed with ch
}

// deliver hands an event to the reader, waiting while the buffer is full
// (this connection's listener only) until ctx ends.
func (s *subscription[E]) deliver(ctx context.Context, e E) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	select {
	case s.ch <- e:
	case <-ctx.Done():
	}
}

func (s *subscription[E]) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.ch)
		close(s.done)
	}
}

func subscribe[E any](ctx context.Context, c *Client, channel string, decode func(string, eventData) (E, bool)) (<-chan E, error) {
	if c.socketURL == "" {
		return nil, ErrNoEvents
	}
	opts := sio.DefaultOptions()
	opts.SetForceNew(true) // one connection per subscription, never the library's shared cache
	opts.SetTransports(types.NewSet[transports.TransportCtor](transports.WebSocket))
	opts.SetReconnectionAttempts(6)
	opts.SetReconnectionDelay(200)
	opts.SetReconnectionDelayMax(2000)
	opts.SetTimeout(attemptWait)
	opts.SetAutoConnect(false) // connect once the listeners are in place
	opts.SetExtraHeaders(http.Header{"User-Agent": {c.ua}})
	sock, err := sio.Connect(c.socketURL, opts)
	if err != nil {
		return nil, fmt.Errorf("cloudconvert: realtime endpoint %s: %w", c.socketURL, err)
	}
	sub := &subscription[E]{ch: make(chan E, eventBuffer), done: make(chan struct{})}
	answered := make(chan error, 1)
	answer := func(err error) {
		select {
		case answered <- err:
		default:
		}
	}
	sent := make(chan struct{}, 1)
	payload := map[string]any{"channel": channel, "auth": map[string]any{"headers": map[string]any{"Authorization": c.auth}}}
	sendSubscribe := func() {
		_ = sock.Emit("subscribe", payload, func(args []any, err error) {
			if err != nil {
				return // no acknowledgement: an endpoint that does not send them
			}
			answer(ackError(channel, args))
		})
		select {
		case sent <- struct{}{}:
		default:
		}
	}
	// An endpoint that acknowledges every subscribe says so at connect.
	announced := make(chan struct{}, 1)
	sock.On(acknowledgesSubscribeEvent, func(...any) {
		select {
		case announced <- struct{}{}:
		default:
		}
	})
	// Subscribe on every (re)connection: a new connection has no channels.
	sock.On("connect", func(...any) { sendSubscribe() })
	sock.On("subscription_error", func(args ...any) {
		if len(args) >= 2 && fmt.Sprint(args[0]) == channel {
			status, _ := args[1].(float64)
			answer(&SubscriptionError{Channel: channel, Status: int(status)})
		}
	})
	sock.Io().On("reconnect_failed", func(...any) { sub.close() })
	// Events sent while the connection is down are not sent again: say so.
	sock.On("disconnect", func(args ...any) {
		if ctx.Err() == nil && c.log.Enabled(ctx, slog.LevelInfo) {
			c.log.LogAttrs(ctx, slog.LevelInfo, "cloudconvert: realtime connection lost; events until it is back are missed",
				slog.String("channel", channel), slog.String("reason", firstArg(args)))
		}
	})
	sock.OnAny(func(args ...any) {
		if len(args) < 3 {
			return
		}
		name, _ := args[0].(string)
		if ch, _ := args[1].(string); ch != channel || name == "subscription_error" {
			return
		}
		raw, err := json.Marshal(args[2])
		if err != nil {
			return
		}
		var d eventData
		if json.Unmarshal(raw, &d) != nil {
			return
		}
		if e, ok := decode(name, d); ok {
			sub.deliver(ctx, e)
		}
	})
	stop := func() {
		sock.Disconnect()
		sock.Io().Engine().Close()
		sub.close()
	}
	sock.Connect()
	setup := time.NewTimer(connectWait)
	defer setup.Stop()
	var acked <-chan time.Time // runs from the first subscribe sent
	confirmed := "acknowledged"
wait:
	for {
		select {
		case err := <-answered:
			if err != nil {
				stop()
				return nil, err
			}
			c.socketAcks.Store(true)
			break wait
		case <-announced:
			c.socketAcks.Store(true)
			acked = nil // the answer will come: wait for it (up to connectWait)
		case <-sent:
			if acked == nil && !c.socketAcks.Load() {
				acked = time.After(subscribeWait)
			}
		case <-acked:
			confirmed = "no answer within " + subscribeWait.String() + ", taken as made"
			break wait // no answer: an endpoint that only reports refusals
		case <-sub.done:
			stop()
			return nil, fmt.Errorf("cloudconvert: could not connect to the realtime endpoint %s", c.socketURL)
		case <-setup.C:
			stop()
			return nil, fmt.Errorf("cloudconvert: no connection to the realtime endpoint %s within %v", c.socketURL, connectWait)
		case <-ctx.Done():
			stop()
			return nil, ctx.Err()
		}
	}
	if c.log.Enabled(ctx, slog.LevelDebug) {
		c.log.LogAttrs(ctx, slog.LevelDebug, "cloudconvert: subscribed", slog.String("channel", channel), slog.String("confirmed", confirmed))
	}
	go func() {
		select {
		case <-ctx.Done():
		case <-sub.done:
		}
		stop()
	}()
	return sub.ch, nil
}

// ackError reads the local server's acknowledgement: {"status": 200} or a
// refusal with a message.
func ackError(channel string, args []any) error {
	if len(args) == 0 {
		return nil
	}
	m, _ := args[0].(map[string]any)
	status, _ := m["status"].(float64)
	if status == 0 || status == http.StatusOK {
		return nil
	}
	msg, _ := m["message"].(string)
	return &SubscriptionError{Channel: channel, Status: int(status), Message: msg}
}

// firstArg is an event's first argument as text (a disconnect's reason).
func firstArg(args []any) string {
	if len(args) == 0 {
		return ""
	}
	return fmt.Sprint(args[0])
}
