package localserver

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	engine "github.com/zishang520/socket.io/servers/engine/v3"
	"github.com/zishang520/socket.io/servers/engine/v3/transports"
	socket "github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// The realtime endpoint speaks Socket.IO (v4, through
// github.com/zishang520/socket.io) at /socket.io/, like
// socketio.cloudconvert.com: a client emits "subscribe" with {channel,
// auth: {headers: {Authorization: "Bearer <key>"}}} and then receives the
// channel's events as (channel, data). Channels: private-job.<id> (job.*
// events, data {job}), private-job.<id>.tasks and private-task.<id>
// (task.* events, data {task}), private-user.<id>.jobs and .tasks. Each
// subscription is authorised: the key must own the job, task or user; a
// refusal is emitted as "subscription_error" (channel, status), as
// laravel-echo-server (which the real endpoint follows) does, and given to
// the subscribe's acknowledgement when the client asked for one
// ({"status": 200} on success).

// SocketIOPath is where the realtime endpoint is served.
const SocketIOPath = "/socket.io/"

// AcknowledgesSubscribeEvent is emitted to every new connection: this
// endpoint acknowledges each subscribe (sdk's acknowledgesSubscribeEvent
// is the same name).
const AcknowledgesSubscribeEvent = "acknowledges_subscribe"

// Bounds of the realtime endpoint: connections at once, channels per
// connection, events waiting for the broadcaster, packets waiting to be
// written to one connection (beyond it the client is too slow and is
// disconnected), the size of one incoming message, how long a client may
// take to join the namespace, and how long a connection may stay without
// subscribing to anything.
const (
	maxSocketConns        = 1000
	maxSocketChannels     = 1000
	realtimeEventQueue    = 1024
	maxSocketPending      = 256
	maxSocketMessage      = 64 << 10
	socketConnectExpiry   = 45 * time.Second
	socketSubscribeExpiry = time.Minute
	maxEarlyExpiryChecks  = 10
)

// realtime is the Socket.IO endpoint.
type realtime struct {
	s       *Server
	io      *socket.Server
	handler http.Handler
	conns   atomic.Int64
	// subscribeExpiry is socketSubscribeExpiry (tests shorten it).
	subscribeExpiry atomic.Int64
}

func newRealtime(s *Server) *realtime {
	rt := &realtime{s: s}
	rt.subscribeExpiry.Store(int64(socketSubscribeExpiry))
	opts := socket.DefaultServerOptions()
	opts.SetServeClient(false)
	opts.SetTransports(types.NewSet[transports.TransportCtor](engine.Polling, engine.WebSocket))
	opts.SetMaxHttpBufferSize(maxSocketMessage)
	opts.SetConnectTimeout(socketConnectExpiry)
	opts.SetAllowRequest(func(*types.HttpContext) error {
		if rt.conns.Load() >= maxSocketConns {
			return fmt.Errorf("too many realtime connections (%d)", maxSocketConns)
		}
		return nil
	})
	rt.io = socket.NewServer(nil, opts)
	rt.handler = rt.io.ServeHandler(nil)
	// The listeners are set in a middleware, which runs before the client
	// is told it is connected: a subscribe sent at once cannot arrive before
	// its listener.
	rt.io.Use(func(sock *socket.Socket, next func(*socket.ExtendedError)) {
		rt.connected(sock)
		next(nil)
	})
	// Tell the client, right after its connect, that every subscribe gets
	// an answer here (CloudConvert's endpoint answers only refusals), so
	// the sdk waits for it however long a loaded machine takes instead of
	// taking the subscription as made after a while. Clients that do not
	// know the event ignore it.
	rt.io.On("connection", func(args ...any) {
		if len(args) > 0 {
			if sock, ok := args[0].(*socket.Socket); ok {
				sock.Emit(AcknowledgesSubscribeEvent)
			}
		}
	})
	return rt
}

// start broadcasts the server's events until it closes.
func (rt *realtime) start() {
	sub := rt.s.events.subscribe("realtime", realtimeEventQueue, func(string) bool { return rt.conns.Load() > 0 })
	rt.s.bg.Add(1)
	go func() {
		defer rt.s.bg.Done()
		for {
			select {
			case <-rt.s.ctx.Done():
				return
			case e := <-sub.ch:
				rt.broadcast(e)
			}
		}
	}()
}

func (rt *realtime) close() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer rt.s.recoverBackground("realtime close")
		rt.io.Close(nil)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		rt.s.log.Warn("localserver: the realtime endpoint did not close within 5s")
	}
}

// broadcast sends e to every channel it belongs to.
func (rt *realtime) broadcast(e *event) {
	defer rt.s.recoverBackground("realtime broadcast")
	var channels []string
	var data map[string]any
	if e.isJob() {
		channels = []string{"private-job." + e.jobID, "private-user." + e.userID + ".jobs"}
		data = map[string]any{"job": e.job}
	} else {
		channels = []string{"private-task." + e.taskID, "private-user." + e.userID + ".tasks"}
		if e.jobID != "" {
			channels = append(channels, "private-job."+e.jobID+".tasks")
		}
		data = map[string]any{"task": e.task}
	}
	if rt.s.log.Enabled(rt.s.ctx, slog.LevelDebug) {
		rt.s.log.Debug("localserver: realtime event", "event", e.name, "channels", strings.Join(channels, " "))
	}
	for _, ch := range channels {
		rt.io.To(socket.Room(ch)).Emit(e.name, ch, data)
	}
}

// conn is the state of one connection.
type conn struct {
	mu       sync.Mutex
	channels map[string]bool
	expire   *time.Timer  // closes the connection while it subscribes to nothing
	pending  atomic.Int64 // packets created and not yet handed to the transport
	dropped  sync.Once
}

func (c *conn) locked(fn func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fn()
}

func (rt *realtime) connected(sock *socket.Socket) {
	rt.conns.Add(1)
	c := &conn{channels: map[string]bool{}}
	// A connection that subscribes to nothing only holds a slot. This
	// runs before the socket counts as connected, and Disconnect does
	// nothing until it does: a check that comes too early (a loaded
	// machine) looks again a period later, a few times at most (a socket
	// that never connects is closed by the connect timeout). The timer
	// stops at disconnect.
	expiry := time.Duration(rt.subscribeExpiry.Load())
	early := 0
	c.locked(func() {
		c.expire = time.AfterFunc(expiry, func() {
			disconnect := false
			c.locked(func() {
				switch {
				case len(c.channels) > 0:
				case !sock.Connected():
					if early++; early <= maxEarlyExpiryChecks {
						c.expire.Reset(expiry)
					}
				default:
					disconnect = true
				}
			})
			if disconnect {
				sock.Disconnect(true)
			}
		})
	})
	sock.On("disconnect", func(args ...any) {
		c.locked(func() { c.expire.Stop() })
		rt.conns.Add(-1)
		rt.s.log.Debug("localserver: realtime connection closed", "socket", string(sock.Id()), "reason", firstArg(args))
	})
	// Packets wait in the engine's buffer while the transport is busy; a
	// client that stops reading would make it grow without bound, so it is
	// disconnected once maxSocketPending packets wait.
	if cl := sock.Client(); cl != nil && cl.Conn() != nil {
		ec := cl.Conn()
		ec.On("packetCreate", func(...any) {
			if c.pending.Add(1) > maxSocketPending {
				c.dropped.Do(func() {
					rt.s.log.Warn("localserver: realtime client too slow: disconnected", "pending", maxSocketPending)
					go sock.Disconnect(true)
				})
			}
		})
		ec.On("flush", func(args ...any) {
			n := int64(1)
			if len(args) > 0 {
				if l, ok := args[0].([]*packet.Packet); ok {
					n = int64(len(l))
				}
			}
			for {
				p := c.pending.Load()
				if c.pending.CompareAndSwap(p, max(0, p-n)) {
					break
				}
			}
		})
	}
	sock.On("subscribe", func(args ...any) { rt.subscribe(sock, c, args) })
	sock.On("unsubscribe", func(args ...any) {
		ch, _, ack := subscribeArgs(args)
		c.locked(func() { delete(c.channels, ch) })
		if ch != "" {
			sock.Leave(socket.Room(ch))
		}
		if ack != nil {
			ack([]any{map[string]any{"status": http.StatusOK}}, nil)
		}
	})
}

// subscribeArgs reads {channel, auth: {headers: {Authorization}}} and the
// acknowledgement, if any.
func subscribeArgs(args []any) (channel, authorization string, ack socket.Ack) {
	if n := len(args); n > 0 {
		if a, ok := args[n-1].(socket.Ack); ok {
			ack, args = a, args[:n-1]
		}
	}
	if len(args) == 0 {
		return
	}
	m, _ := args[0].(map[string]any)
	channel, _ = m["channel"].(string)
	auth, _ := m["auth"].(map[string]any)
	headers, _ := auth["headers"].(map[string]any)
	for k, v := range headers {
		if strings.EqualFold(k, "Authorization") {
			authorization, _ = v.(string)
		}
	}
	return
}

func (rt *realtime) subscribe(sock *socket.Socket, c *conn, args []any) {
	defer rt.s.recoverBackground("realtime subscribe")
	channel, authorization, ack := subscribeArgs(args)
	status, msg := rt.authorize(channel, authorization)
	if status == http.StatusOK {
		c.locked(func() {
			switch {
			case c.channels[channel]:
			case len(c.channels) >= maxSocketChannels:
				status, msg = http.StatusTooManyRequests, fmt.Sprintf("a connection may subscribe to at most %d channels", maxSocketChannels)
			default:
				c.channels[channel] = true
			}
		})
	}
	if status != http.StatusOK {
		sock.Emit("subscription_error", short(channel), status)
		if ack != nil {
			ack([]any{map[string]any{"status": status, "message": msg}}, nil)
		}
		return
	}
	sock.Join(socket.Room(channel))
	rt.s.log.Debug("localserver: realtime subscribed", "socket", string(sock.Id()), "channel", short(channel))
	if ack != nil {
		ack([]any{map[string]any{"status": http.StatusOK}}, nil)
	}
}

// authorize checks that the key may listen on channel: 200, or the status
// and reason of the refusal.
func (rt *realtime) authorize(channel, authorization string) (int, string) {
	key, ok := bearer(authorization)
	if !ok {
		return http.StatusUnauthorized, "no API key: pass auth.headers.Authorization = \"Bearer <key>\""
	}
	u := rt.s.keys[key]
	if u == nil {
		return http.StatusUnauthorized, "the API key is not valid"
	}
	rest, ok := strings.CutPrefix(channel, "private-")
	if !ok {
		return http.StatusNotFound, fmt.Sprintf("unknown channel %q: channels are private-job.<id>, private-job.<id>.tasks, private-task.<id>, private-user.<id>.jobs and private-user.<id>.tasks", short(channel))
	}
	kind, id, _ := strings.Cut(rest, ".")
	id, suffix, _ := strings.Cut(id, ".")
	owned := false
	switch {
	case kind == "job" && (suffix == "" || suffix == "tasks"):
		rt.s.rlocked(func() { owned = rt.s.ownJob(id, u) != nil })
	case kind == "task" && suffix == "":
		rt.s.rlocked(func() { owned = rt.s.ownTask(id, u) != nil })
	case kind == "user" && (suffix == "jobs" || suffix == "tasks"):
		owned = id == fmt.Sprint(u.ID)
	default:
		return http.StatusNotFound, fmt.Sprintf("unknown channel %q: channels are private-job.<id>, private-job.<id>.tasks, private-task.<id>, private-user.<id>.jobs and private-user.<id>.tasks", short(channel))
	}
	if !owned {
		return http.StatusForbidden, fmt.Sprintf("the API key's user may not listen on %s (no such %s of this user)", short(channel), kind)
	}
	return http.StatusOK, ""
}

// firstArg is an event's first argument as text (a disconnect's reason).
func firstArg(args []any) string {
	if len(args) == 0 {
		return ""
	}
	return fmt.Sprint(args[0])
}
