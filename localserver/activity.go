package localserver

import (
	"net/http"
	"os"
	"time"
)

// StatusPath answers GET with the server's Status (any valid API key).
// Requests to it do not count as activity, so a client that only checks
// whether the server is up does not keep an idle server alive.
const StatusPath = "/local/status"

// Status describes a running server: who it is (process, data directory)
// and how busy it is.
type Status struct {
	PID       int       `json:"pid"`
	DataDir   string    `json:"data_dir"`
	URL       string    `json:"url"`
	StartedAt time.Time `json:"started_at"`
	// Jobs counts the jobs by status (waiting, processing, finished, error).
	Jobs map[string]int `json:"jobs"`
	// TasksQueued and TasksRunning are the tasks ready to run and running.
	TasksQueued  int `json:"tasks_queued"`
	TasksRunning int `json:"tasks_running"`
	// Requests is the number of API requests being answered.
	Requests int64 `json:"requests"`
	// RealtimeConnections is the number of Socket.IO clients connected.
	RealtimeConnections int64 `json:"realtime_connections"`
	// IdleTimeout is Config.IdleTimeout (0: never stops by itself).
	IdleTimeout string `json:"idle_timeout"`
	// IdleSeconds is IdleFor in seconds.
	IdleSeconds float64 `json:"idle_seconds"`
}

// Stats returns the server's Status.
func (s *Server) Stats() Status {
	st := Status{PID: os.Getpid(), DataDir: s.cfg.DataDir, URL: s.URL(), StartedAt: s.started,
		Jobs: map[string]int{}, Requests: s.inflight.Load(), RealtimeConnections: s.rt.conns.Load(), IdleTimeout: s.cfg.IdleTimeout.String(),
		IdleSeconds: s.IdleFor().Seconds()}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, j := range s.jobs {
		st.Jobs[string(j.Status)]++
	}
	st.TasksQueued, st.TasksRunning = len(s.queued), len(s.running)
	return st
}

// busy says whether tasks are queued or running.
func (s *Server) busy() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.queued)+len(s.running) > 0
}

// IdleFor is how long the server has answered no API request, had no
// realtime client connected and no task queued or running; 0 while it has.
func (s *Server) IdleFor() time.Duration {
	now := time.Now()
	if s.inflight.Load() > 0 || s.rt.conns.Load() > 0 || s.busy() {
		s.lastActive.Store(now.UnixNano())
		return 0
	}
	return now.Sub(time.Unix(0, s.lastActive.Load()))
}

// Idle is closed once IdleFor reaches Config.IdleTimeout; never when
// IdleTimeout is 0. The server keeps serving: stopping is the owner's
// decision (Close).
func (s *Server) Idle() <-chan struct{} { return s.idle }

// track counts the requests in flight and the time of the last one.
func (s *Server) track(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == StatusPath {
			next.ServeHTTP(w, r)
			return
		}
		s.inflight.Add(1)
		defer func() {
			s.lastActive.Store(time.Now().UnixNano())
			s.inflight.Add(-1)
		}()
		next.ServeHTTP(w, r)
	})
}

// idleWatch closes s.idle after IdleTimeout without requests or tasks.
func (s *Server) idleWatch() {
	defer s.bg.Done()
	d := s.cfg.IdleTimeout
	t := time.NewTicker(min(max(d/20, 20*time.Millisecond), 30*time.Second))
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			if s.IdleFor() >= d {
				s.log.Info("localserver: idle", "for", d.String())
				close(s.idle)
				return
			}
		}
	}
}

// localStatus answers StatusPath.
func (s *Server) localStatus(w http.ResponseWriter, r *http.Request) {
	key, ok := bearer(r.Header.Get("Authorization"))
	if !ok || s.keys[key] == nil {
		writeJSON(w, http.StatusUnauthorized, &apiError{Code: "UNAUTHENTICATED", Message: "Unauthenticated."}, false)
		return
	}
	writeJSON(w, http.StatusOK, s.Stats(), false)
}
