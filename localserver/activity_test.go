package localserver

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"
)

// Idle closes only after IdleTimeout without requests and without queued
// or running tasks; StatusPath reports the work and is not activity.
func TestIdleAndStatus(t *testing.T) {
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		w.Write(testPNG(4, 4))
	}))
	defer slow.Close()
	defer close(release)
	const idle = 300 * time.Millisecond
	e := newEnv(t, func(c *Config) { c.IdleTimeout = idle })

	status := func() Status {
		t.Helper()
		req, _ := http.NewRequest("GET", e.URL+StatusPath, nil)
		req.Header.Set("Authorization", "Bearer "+testKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var st Status
		if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&st) != nil {
			t.Fatalf("status: %d", resp.StatusCode)
		}
		return st
	}
	if resp, err := http.Get(e.URL + StatusPath); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status without a key: %v %v", resp, err)
	}

	code, body, _ := e.do("POST", "/v2/jobs", map[string]any{"tasks": map[string]any{
		"import": map[string]any{"operation": "import/url", "url": slow.URL + "/a.png"}}})
	if code != 201 {
		t.Fatalf("create: %d %v", code, body)
	}
	<-arrived
	st := status()
	if st.PID != os.Getpid() || st.DataDir != e.dataDir || st.TasksRunning != 1 || st.Jobs["processing"] != 1 || st.IdleTimeout != idle.String() {
		t.Fatalf("status while a task runs: %+v", st)
	}
	// A running task is activity, however long it runs (and Idle, one-shot,
	// may have closed already if setting up took longer than the timeout).
	time.Sleep(2 * idle)
	if d := e.srv.IdleFor(); d != 0 {
		t.Fatalf("idle for %s while a task runs", d)
	}
	release <- struct{}{} // the import finishes
	_ = e.waitJob(body["data"].(map[string]any)["id"].(string))
	// Status checks do not count as use: the idle time keeps growing.
	d1 := e.srv.IdleFor()
	time.Sleep(200 * time.Millisecond)
	status()
	d2 := e.srv.IdleFor()
	if d2 <= d1 {
		t.Fatalf("a status check reset the idle time: %s then %s", d1, d2)
	}
	// An API request does.
	e.do("GET", "/v2/users/me", nil)
	if d3 := e.srv.IdleFor(); d3 >= d2 {
		t.Fatalf("idle for %s after a request (%s before it)", d3, d2)
	}
	select {
	case <-e.srv.Idle():
	case <-time.After(30 * time.Second):
		t.Fatal("not idle 30 s after the last request")
	}
	// Idle is one-shot and may have closed before that request (a loaded
	// machine stretches the steps above past the timeout): wait for the
	// idle time itself.
	waitFor(t, "the idle time to pass the timeout again", func() bool { return e.srv.IdleFor() >= idle })
	if st := status(); st.Jobs["finished"] != 1 || st.TasksRunning != 0 || st.IdleSeconds < idle.Seconds() {
		t.Errorf("status after the job: %+v", st)
	}
}

// With IdleTimeout 0, Idle never closes.
func TestNoIdleTimeout(t *testing.T) {
	e := newEnv(t)
	select {
	case <-e.srv.Idle():
		t.Fatal("idle without an IdleTimeout")
	case <-time.After(200 * time.Millisecond):
	}
}
