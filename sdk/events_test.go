package sdk

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestSocketURLDefaults: the realtime host follows the descriptor like the
// sync host: live, sandbox, one host for every region, and unknown beside
// a custom base URL unless named.
func TestSocketURLDefaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
		want string
	}{
		{"live", nil, "https://socketio.cloudconvert.com"},
		{"sandbox", []Option{WithSandbox()}, "https://socketio.sandbox.cloudconvert.com"},
		{"region", []Option{WithRegion("eu-central")}, "https://socketio.cloudconvert.com"},
		{"custom base", []Option{WithBaseURL("http://127.0.0.1:9/v2")}, ""},
		{"custom base and socket", []Option{WithBaseURL("http://127.0.0.1:9/v2"), WithSocketURL("http://127.0.0.1:9/")}, "http://127.0.0.1:9"},
		{"disabled", []Option{WithSocketURL("")}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(testKey, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.SocketURL(); got != tc.want {
				t.Errorf("SocketURL %q, want %q", got, tc.want)
			}
		})
	}
	if _, err := New(testKey, WithSocketURL("ftp://x")); err == nil {
		t.Error("an ftp socket URL was accepted")
	}
	c, _ := New(testKey, WithSocketURL(""))
	if _, err := c.SubscribeJob(context.Background(), "x"); !errors.Is(err, ErrNoEvents) {
		t.Errorf("no endpoint: %v", err)
	}
}

// TestWaitProgressFromEvents: with a realtime endpoint, WaitJob's progress
// comes from the events (Via "events"), not from polling, and the final
// state from the sync endpoint.
func TestWaitProgressFromEvents(t *testing.T) {
	s := startLocal(t)
	c, err := New(testKey, WithBaseURL(s.APIURL()), WithSyncURL(s.SyncURL()), WithSocketURL(s.SocketIOURL()), WithRetryPolicy(fastRetry()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The job cannot end before an event has shown the first upload
	// finished: the second file ("gate") is uploaded only then. So the
	// test waits for the event instead of racing the sync answer.
	job, err := c.CreateJob(ctx, NewJob("live", map[string]TaskDefinition{
		"up":   TaskDef("import/upload", nil),
		"gate": TaskDef("import/upload", nil),
		"out":  TaskDef("export/url", nil, "up", "gate"),
	}))
	if err != nil {
		t.Fatal(err)
	}
	img, err := os.ReadFile(filepath.Join(writeImages(t), "a.png"))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, tk := range *job.Tasks {
		ids[*tk.Name] = tk.Id
	}
	// The server finishes the job as it stores the last file, which can
	// be before the client has read the upload's answer: the test waits
	// for both uploads before it cancels ctx.
	var uploads sync.WaitGroup
	defer uploads.Wait()
	upload := func(name string) {
		defer uploads.Done()
		if err := c.Upload(ctx, ids[name], name+".png", bytes.NewReader(img), int64(len(img)), nil); err != nil {
			t.Error(err)
		}
	}
	var mu sync.Mutex
	var seen []Progress
	var first, upDone sync.Once
	done, err := c.WaitJob(ctx, job.Id, &WaitOptions{PollInterval: time.Hour, Progress: func(p Progress) {
		mu.Lock()
		seen = append(seen, p)
		mu.Unlock()
		// Upload once the wait reports (it has subscribed by then).
		first.Do(func() { uploads.Add(1); go upload("up") })
		for _, tp := range p.Tasks {
			if tp.Name == "up" && tp.Status == "finished" && p.Via == "events" {
				upDone.Do(func() { uploads.Add(1); go upload("gate") })
			}
		}
	}})
	if err != nil || done.Status != "finished" {
		t.Fatalf("wait: %v %v", done, err)
	}
	mu.Lock()
	defer mu.Unlock()
	var vias []string
	sawTaskFinished := false
	for _, p := range seen[:len(seen)-1] {
		vias = append(vias, p.Via)
		if p.Via != "events" {
			t.Errorf("progress via %q (polling every hour would not have reported it)", p.Via)
		}
		for _, tp := range p.Tasks {
			sawTaskFinished = sawTaskFinished || (tp.Name == "up" && tp.Status == "finished")
		}
	}
	if last := seen[len(seen)-1]; last.Via != "sync" || last.Status != "finished" || last.Percent != 100 {
		t.Errorf("final progress %+v", last)
	}
	if !sawTaskFinished {
		t.Errorf("no event-driven progress showed the upload finished: %v", vias)
	}
}
