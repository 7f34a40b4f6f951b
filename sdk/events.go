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

	eio "github.com/zishang520/socket.io/clients/engine/v3"
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
	// a new attempt (see link), gets it going.
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

// subscription is the channel of events of one subscription (its
// connection is a link).
type subscription[E any] struct {
	ch     chan E
	mu     sync.Mutex
	closed bool
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
	}
}

func subscribe[E any](ctx context.Context, c *Client, channel string, decode func(string, eventData) (E, bool)) (<-chan E, error) {
	if c.socketURL == "" {
		return nil, ErrNoEvents
	}
	sub := &subscription[E]{ch: make(chan E, eventBuffer)}
	l := newLink(c, channel, func(name string, data any) {
		raw, err := json.Marshal(data)
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
	fail := func(err error) (<-chan E, error) {
		l.hangUp()
		sub.close()
		return nil, err
	}
	setup := time.NewTimer(connectWait)
	defer setup.Stop()
	if err := l.connect(ctx, setup.C, 0); err != nil {
		return fail(err)
	}
	// Connected and the subscribe sent: wait for its answer where one comes.
	var acked <-chan time.Time
	if !c.socketAcks.Load() {
		acked = time.After(subscribeWait)
	}
	confirmed := "acknowledged"
wait:
	for {
		select {
		case err := <-l.answered:
			if err != nil {
				return fail(err)
			}
			c.socketAcks.Store(true)
			break wait
		case <-l.announced:
			c.socketAcks.Store(true)
			acked = nil // the answer will come: wait for it (up to connectWait)
		case <-acked:
			confirmed = "no answer within " + subscribeWait.String() + ", taken as made"
			break wait // no answer: an endpoint that only reports refusals
		case <-l.lost:
			if err := l.connect(ctx, setup.C, 0); err != nil {
				return fail(err)
			}
		case <-setup.C:
			return fail(fmt.Errorf("cloudconvert: no subscription to %s on the realtime endpoint %s within %v", channel, c.socketURL, connectWait))
		case <-ctx.Done():
			return fail(ctx.Err())
		}
	}
	if c.log.Enabled(ctx, slog.LevelDebug) {
		c.log.LogAttrs(ctx, slog.LevelDebug, "cloudconvert: subscribed", slog.String("channel", channel), slog.String("confirmed", confirmed))
	}
	go func() {
		defer sub.close()
		defer l.hangUp()
		l.keep(ctx)
	}()
	return sub.ch, nil
}

// link is one subscription's connection to the realtime endpoint. It dials
// and redials itself rather than leaving that to the Socket.IO library:
// the library (v3.0.6) arms its connect timer after the engine may already
// be open, and a timer armed that late is never cleared, so it closed
// established connections attemptWait after they were made (the events of
// the gap were lost); when the open itself came first, the attempt stalled
// until that timer. So the library's timer is set beyond any subscription's
// life and its reconnection is off: a link gives each attempt attemptWait
// to connect and redials a lost connection, renewing the subscription. It
// also joins the namespace only once the engine is open (see dial).
type link struct {
	c         *Client
	channel   string
	payload   map[string]any
	onEvent   func(name string, data any)
	opened    chan error    // the current socket's engine opened (nil) or could not
	answered  chan error    // the answer to a subscribe (acknowledgement or refusal)
	announced chan struct{} // the endpoint said it answers every subscribe
	connected chan struct{} // the current socket connected and sent its subscribe
	failed    chan struct{} // the current socket's attempt failed
	lost      chan struct{} // the current socket disconnected after connecting

	mu   sync.Mutex
	sock *sio.Socket // the current socket; nil once hung up
}

// libraryTimeout is the Socket.IO library's connect timeout: longer than
// any subscription lives (see link).
const libraryTimeout = 100 * 365 * 24 * time.Hour

// Redials of a lost connection: at most redialAttempts, waiting a doubling
// delay from redialDelay up to redialDelayMax between them.
const (
	redialAttempts = 6
	redialDelay    = 200 * time.Millisecond
	redialDelayMax = 2 * time.Second
)

func newLink(c *Client, channel string, onEvent func(string, any)) *link {
	return &link{
		c: c, channel: channel, onEvent: onEvent,
		payload:   map[string]any{"channel": channel, "auth": map[string]any{"headers": map[string]any{"Authorization": c.auth}}},
		opened:    make(chan error, 1),
		answered:  make(chan error, 1),
		announced: make(chan struct{}, 1),
		connected: make(chan struct{}, 1),
		failed:    make(chan struct{}, 1),
		lost:      make(chan struct{}, 1),
	}
}

// signal sets a one-slot flag without blocking.
func signal[T any](ch chan T, v T) {
	select {
	case ch <- v:
	default:
	}
}

// drain clears a one-slot flag.
func drain[T any](ch chan T) {
	select {
	case <-ch:
	default:
	}
}

// current reports whether sock is the link's socket (callbacks of a
// socket that was hung up are ignored).
func (l *link) current(sock *sio.Socket) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sock == sock
}

// dial makes a socket, makes it the current one and starts connecting it.
func (l *link) dial() error {
	opts := sio.DefaultOptions()
	opts.SetForceNew(true) // one connection per subscription, never the library's shared cache
	opts.SetTransports(types.NewSet[transports.TransportCtor](transports.WebSocket))
	opts.SetReconnection(false)
	opts.SetTimeout(libraryTimeout)
	opts.SetAutoConnect(false) // connect once the listeners are in place
	opts.SetExtraHeaders(http.Header{"User-Agent": {l.c.ua}})
	sock, err := sio.Connect(l.c.socketURL, opts)
	if err != nil {
		return fmt.Errorf("cloudconvert: realtime endpoint %s: %w", l.c.socketURL, err)
	}
	sock.On(acknowledgesSubscribeEvent, func(...any) {
		if l.current(sock) {
			signal(l.announced, struct{}{})
		}
	})
	// A new connection has no channels: subscribe on connect.
	sock.On("connect", func(...any) {
		if !l.current(sock) {
			return
		}
		_ = sock.Emit("subscribe", l.payload, func(args []any, err error) {
			if err == nil && l.current(sock) { // err: no answer, as from CloudConvert
				signal(l.answered, ackError(l.channel, args))
			}
		})
		signal(l.connected, struct{}{})
	})
	sock.On("connect_error", func(...any) {
		if l.current(sock) {
			signal(l.failed, struct{}{})
		}
	})
	sock.On("subscription_error", func(args ...any) {
		if len(args) >= 2 && fmt.Sprint(args[0]) == l.channel && l.current(sock) {
			status, _ := args[1].(float64)
			signal(l.answered, error(&SubscriptionError{Channel: l.channel, Status: int(status)}))
		}
	})
	sock.On("disconnect", func(args ...any) {
		if !l.current(sock) {
			return // hung up by us
		}
		if l.c.log.Enabled(context.Background(), slog.LevelInfo) {
			l.c.log.LogAttrs(context.Background(), slog.LevelInfo, "cloudconvert: realtime connection lost; events until it is back are missed",
				slog.String("channel", l.channel), slog.String("reason", firstArg(args)))
		}
		signal(l.lost, struct{}{})
	})
	sock.OnAny(func(args ...any) {
		if len(args) < 3 || !l.current(sock) {
			return
		}
		name, _ := args[0].(string)
		if ch, _ := args[1].(string); ch == l.channel && name != "subscription_error" {
			l.onEvent(name, args[2])
		}
	})
	l.hangUp()
	l.mu.Lock()
	l.sock = sock
	l.mu.Unlock()
	// The engine is opened first and the namespace joined once it is open
	// (see connect): Socket.Connect on a manager still opening can send
	// the namespace's CONNECT twice (once from Connect, once from the
	// manager's "open"), and the server closes a connection that does.
	sock.Io().Open(func(err error) {
		if l.current(sock) {
			signal(l.opened, err)
		}
	})
	// A connection refused fails inside Open, before the library's
	// listeners exist: the engine is closed already.
	if e := sock.Io().Engine(); e != nil && e.ReadyState() == eio.SocketStateClosed {
		signal(l.failed, struct{}{})
	}
	return nil
}

// join joins the namespace on the current socket once its engine is open.
func (l *link) join() {
	l.mu.Lock()
	sock := l.sock
	l.mu.Unlock()
	if sock != nil {
		sock.Connect()
	}
}

// hangUp closes the current socket, if any.
func (l *link) hangUp() {
	l.mu.Lock()
	sock := l.sock
	l.sock = nil
	l.mu.Unlock()
	if sock == nil {
		return
	}
	sock.Disconnect()
	if e := sock.Io().Engine(); e != nil {
		e.Close()
	}
}

// connect dials until a socket connects: each attempt gets attemptWait,
// with a doubling delay between attempts; at most maxAttempts of them (0:
// no limit), never past deadline (nil: none) or ctx.
func (l *link) connect(ctx context.Context, deadline <-chan time.Time, maxAttempts int) error {
	delay := redialDelay
	for attempt := 1; ; attempt++ {
		drain(l.opened)
		drain(l.connected)
		drain(l.failed)
		drain(l.lost)
		if err := l.dial(); err != nil {
			return err
		}
		timer := time.NewTimer(attemptWait)
	attempt:
		for {
			select {
			case err := <-l.opened:
				if err != nil {
					break attempt
				}
				l.join()
			case <-l.connected:
				timer.Stop()
				return nil
			case <-l.failed:
				break attempt
			case <-timer.C:
				break attempt
			case <-deadline:
				timer.Stop()
				return l.setupTimeout()
			case <-ctx.Done():
				timer.Stop()
				return ctx.Err()
			}
		}
		timer.Stop()
		l.hangUp()
		if maxAttempts > 0 && attempt >= maxAttempts {
			return fmt.Errorf("cloudconvert: could not connect to the realtime endpoint %s (%d attempts)", l.c.socketURL, attempt)
		}
		pause := time.NewTimer(delay)
		select {
		case <-pause.C:
		case <-deadline:
			pause.Stop()
			return l.setupTimeout()
		case <-ctx.Done():
			pause.Stop()
			return ctx.Err()
		}
		delay = min(2*delay, redialDelayMax)
	}
}

func (l *link) setupTimeout() error {
	return fmt.Errorf("cloudconvert: no connection to the realtime endpoint %s within %v", l.c.socketURL, connectWait)
}

// keep redials a lost connection until ctx ends; it returns when ctx
// ends, when the redials fail, or when a renewed subscribe is refused.
func (l *link) keep(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case err := <-l.answered:
			if err != nil {
				l.logEnd(ctx, err)
				return
			}
		case <-l.lost:
			if err := l.connect(ctx, nil, redialAttempts); err != nil {
				if ctx.Err() == nil {
					l.logEnd(ctx, err)
				}
				return
			}
			if l.c.log.Enabled(ctx, slog.LevelInfo) {
				l.c.log.LogAttrs(ctx, slog.LevelInfo, "cloudconvert: realtime connection back; subscribed again", slog.String("channel", l.channel))
			}
		}
	}
}

func (l *link) logEnd(ctx context.Context, err error) {
	if l.c.log.Enabled(ctx, slog.LevelWarn) {
		l.c.log.LogAttrs(ctx, slog.LevelWarn, "cloudconvert: realtime subscription ended", slog.String("channel", l.channel), slog.String("error", l.c.redact(err.Error())))
	}
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
