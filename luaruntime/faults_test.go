package luaruntime

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cctoolkit/cloudconvert/integration"
)

// TestFaultsThroughTheTransport: Lua calls go through the one transport
// (issue 10). Faults are injected in front of the real local server.
func TestFaultsThroughTheTransport(t *testing.T) {
	t.Run("429 twice, then the answer", func(t *testing.T) {
		api := newLocalAPI(t)
		var n atomic.Int32
		api.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path != "/v2/jobs" || n.Add(1) > 2 {
				return false
			}
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"message":"Too Many Attempts.","code":"RATE_LIMIT_EXCEEDED"}`))
			return true
		})
		rt := newTestRuntime(t, api.URL, rtOptions{})
		res := rt.Execute(context.Background(), `dump(app.integrations.cloudconvert.list_jobs({})) return #app.integrations.cloudconvert.list_jobs({}).data`)
		if res.Error != nil || !strings.Contains(res.Output, "meta = {") {
			t.Fatalf("%v\n%s", res.Error, res.Output)
		}
		statuses := []int{}
		for _, r := range api.Requests() {
			statuses = append(statuses, r.Status)
		}
		if mustJSON(statuses) != "[429,429,200,200]" {
			t.Errorf("statuses %v", statuses)
		}
	})
	t.Run("the first connection reset", func(t *testing.T) {
		api := newLocalAPI(t)
		var n atomic.Int32
		api.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
			if n.Add(1) > 1 {
				return false
			}
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Errorf("hijack: %v", err)
				return false
			}
			conn.Close()
			return true
		})
		rt := newTestRuntime(t, api.URL, rtOptions{fastRetry: true})
		res := rt.Execute(context.Background(), `return app.integrations.cloudconvert.list_jobs({}).meta.current_page`)
		if res.Error != nil || mustJSON(res.Values) != "[1]" {
			t.Fatalf("%v %v", res.Values, res.Error)
		}
		if n.Load() != 2 {
			t.Errorf("%d attempts, want the reset one and one more", n.Load())
		}
	})
	t.Run("a write answered 502 after it took effect is not sent again", func(t *testing.T) {
		api := newLocalAPI(t)
		var posts atomic.Int32
		api.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodPost || r.URL.Path != "/v2/jobs" {
				return false
			}
			posts.Add(1)
			// The server creates the job; the gateway in front loses the answer.
			api.Handler().ServeHTTP(httptest.NewRecorder(), r)
			w.WriteHeader(http.StatusBadGateway)
			return true
		})
		rt := newTestRuntime(t, api.URL, rtOptions{fastRetry: true})
		res := rt.Execute(context.Background(), `
local ok, e = pcall(app.integrations.cloudconvert.create_job, {tag = "once", tasks = {{operation = "import/base64", file = "eA==", filename = "a.txt"}}})
return ok, e.status, e.outcome_unknown, tostring(e)`)
		if res.Error != nil {
			t.Fatal(res.Error)
		}
		if v := res.Values; len(v) != 4 || v[0] != false || v[1] != int64(502) || v[2] != true || !strings.Contains(v[3].(string), "the outcome is unknown") {
			t.Fatalf("values %s", mustJSON(res.Values))
		}
		if posts.Load() != 1 {
			t.Errorf("the write was sent %d times", posts.Load())
		}
		_, list := api.Get(t, "/v2/jobs?filter[tag]=once")
		if jobs, _ := list["data"].([]any); len(jobs) != 1 {
			t.Errorf("%d jobs exist, want exactly one", len(jobs))
		}
		// Uncaught, the host sees the sentinel.
		res = rt.Execute(context.Background(), `app.integrations.cloudconvert.create_job({tasks = {{operation = "import/base64", file = "eA==", filename = "a.txt"}}})`)
		if e, ok := integration.AsError(res.Error); !ok || !e.OutcomeUnknown || !errors.Is(res.Error, integration.ErrOutcomeUnknown) {
			t.Errorf("uncaught: %#v", res.Error)
		}
	})
}
