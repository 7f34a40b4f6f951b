package localserver

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image/jpeg"
	"io"
	"mime/multipart"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cctoolkit/cloudconvert/sdk/webhook"
)

// imageJob is a 3-task job: import/base64 (PNG) -> convert to jpg -> export/url.
func imageJob(png []byte, tag string) map[string]any {
	return map[string]any{"tag": tag, "tasks": map[string]any{
		"import":  map[string]any{"operation": "import/base64", "file": base64.StdEncoding.EncodeToString(png), "filename": "in.png"},
		"convert": map[string]any{"operation": "convert", "input": "import", "output_format": "jpg"},
		"export":  map[string]any{"operation": "export/url", "input": "convert"},
	}}
}

func settleGoroutines(limit int) int {
	n := runtime.NumGoroutine()
	for i := 0; i < 100 && n > limit; i++ {
		time.Sleep(50 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	return n
}

// TestLoad: 200 concurrent 3-task jobs complete, nothing is lost, and no
// goroutine outlives the server.
func TestLoad(t *testing.T) {
	jobs := 200
	if testing.Short() {
		jobs = 40
	}
	http.DefaultClient.CloseIdleConnections()
	before := settleGoroutines(0)
	e := newEnv(t)
	img := testPNG(32, 32)
	var wg sync.WaitGroup
	var failed atomic.Int32
	ids := make([]string, jobs)
	for i := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, body, _ := e.do("POST", "/v2/jobs", imageJob(img, "load"))
			if status != 201 {
				failed.Add(1)
				t.Errorf("create %d: %d %s", i, status, jsonStr(body))
				return
			}
			ids[i] = body["data"].(map[string]any)["id"].(string)
			job := e.waitJob(ids[i])
			if job["status"] != "finished" {
				failed.Add(1)
				t.Errorf("job %d: %s", i, jsonStr(job))
				return
			}
			f := taskByName(job, "export")["result"].(map[string]any)["files"].([]any)[0].(map[string]any)
			if _, err := jpeg.Decode(bytes.NewReader(download(t, f["url"].(string)))); err != nil {
				failed.Add(1)
				t.Errorf("job %d: not a JPEG: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d of %d jobs failed", failed.Load(), jobs)
	}
	// Nothing lost: the list has every job, all finished.
	n := 0
	for page := 1; ; page++ {
		status, body, _ := e.do("GET", fmt.Sprintf("/v2/jobs?filter[tag]=load&filter[status]=finished&per_page=100&page=%d", page), nil)
		if status != 200 {
			t.Fatalf("list: %d %s", status, jsonStr(body))
		}
		n += len(body["data"].([]any))
		if body["links"].(map[string]any)["next"] == nil {
			break
		}
	}
	if n != jobs {
		t.Fatalf("listed %d finished jobs, want %d", n, jobs)
	}
	e.stop()
	e.files.Close()
	http.DefaultClient.CloseIdleConnections()
	if after := settleGoroutines(before + 2); after > before+2 {
		buf := make([]byte, 1<<20)
		t.Fatalf("goroutines: %d before, %d after\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}

// TestRestartMidRun stops the server while jobs run and starts it again on
// the same data dir and port: every acknowledged job finishes, every
// result file downloads.
func TestRestartMidRun(t *testing.T) {
	e := newEnv(t)
	img := testPNG(48, 48)
	var ids []string
	for i := range 30 {
		status, body, _ := e.do("POST", "/v2/jobs", imageJob(img, fmt.Sprint("restart-", i)))
		if status != 201 {
			t.Fatalf("create: %d", status)
		}
		ids = append(ids, body["data"].(map[string]any)["id"].(string))
	}
	// An upload acknowledged before the restart survives it too.
	_, up, _ := e.do("POST", "/v2/import/upload", `{}`)
	upID := up["data"].(map[string]any)["id"].(string)
	// A job that cannot end before the restart: it waits for an upload
	// that comes after it. So at least one job is surely in flight.
	_, gate, _ := e.do("POST", "/v2/jobs", map[string]any{"tag": "restart-gate", "tasks": map[string]any{
		"up":      map[string]any{"operation": "import/upload"},
		"convert": map[string]any{"operation": "convert", "input": "up", "output_format": "jpg"},
		"export":  map[string]any{"operation": "export/url", "input": "convert"},
	}})
	gateID := gate["data"].(map[string]any)["id"].(string)
	inFlight := 0
	for _, id := range append(slices.Clone(ids), gateID) {
		_, j, _ := e.do("GET", "/v2/jobs/"+id, nil)
		if st := j["data"].(map[string]any)["status"]; st != "finished" && st != "error" {
			inFlight++
		}
	}
	if inFlight == 0 {
		t.Fatal("no job was in flight when the server stopped: the test would prove nothing")
	}
	t.Logf("%d of %d jobs were in flight at the restart", inFlight, len(ids)+1)
	e.restart()
	// The gate's upload form, from before the restart, still works.
	_, gj, _ := e.do("GET", "/v2/jobs/"+gateID, nil)
	form := taskByName(gj["data"].(map[string]any), "up")["result"].(map[string]any)["form"].(map[string]any)
	if status := postForm(t, form, "gate.png", img); status/100 != 2 {
		t.Fatalf("upload to the gate job after the restart: %d", status)
	}
	if job := e.waitJob(gateID); job["status"] != "finished" {
		t.Fatalf("the gate job after the restart: %s", jsonStr(job))
	}
	ids = append(ids, gateID)
	for _, id := range ids {
		job := e.waitJob(id)
		if job["status"] != "finished" {
			t.Fatalf("job %s after restart: %s", id, jsonStr(job))
		}
		f := taskByName(job, "export")["result"].(map[string]any)["files"].([]any)[0].(map[string]any)
		download(t, f["url"].(string))
	}
	status, body, _ := e.do("GET", "/v2/tasks/"+upID, nil)
	if status != 200 || body["data"].(map[string]any)["status"] != "waiting" {
		t.Fatalf("upload task after restart: %d %s", status, jsonStr(body))
	}
	// And again, once everything is finished: still all there.
	e.restart()
	_, list, _ := e.do("GET", "/v2/jobs?per_page=100", nil)
	if n := len(list["data"].([]any)); n != len(ids) {
		t.Fatalf("%d jobs after a second restart, want %d", n, len(ids))
	}
}

// postForm uploads content to an import/upload task's form (fields first,
// the file last) and returns the status.
func postForm(t *testing.T, form map[string]any, filename string, content []byte) int {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	params, _ := form["parameters"].(map[string]any)
	for k, v := range params {
		mw.WriteField(k, fmt.Sprint(v))
	}
	fw, _ := mw.CreateFormFile("file", filename)
	fw.Write(content)
	mw.Close()
	resp, err := http.Post(form["url"].(string), mw.FormDataContentType(), &b)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestWebhooks: a job's webhook_url receives job.finished only (never
// job.created), signed over the raw body; 5xx answers are retried.
func TestWebhooks(t *testing.T) {
	var mu sync.Mutex
	var events []string
	var attempts atomic.Int32
	const hookSecret = "test-webhook-secret"
	hook := http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify(hookSecret, body, r.Header.Get("CloudConvert-Signature")); err != nil {
			t.Errorf("signature: %v", err)
		}
		ev, err := webhook.Decode(body)
		if err != nil {
			t.Errorf("decode: %v", err)
			return
		}
		if ev.Event == "job.finished" && attempts.Add(1) < 3 {
			w.WriteHeader(http.StatusBadGateway) // retried
			return
		}
		mu.Lock()
		events = append(events, ev.Event)
		mu.Unlock()
	})}
	ln := listen(t)
	go hook.Serve(ln)
	defer hook.Close()
	e := newEnv(t, func(c *Config) { c.WebhookSecret = hookSecret })
	job := imageJob(testPNG(8, 8), "hook")
	job["webhook_url"] = "http://" + ln.Addr().String() + "/hook"
	_, body, _ := e.do("POST", "/v2/jobs", job)
	e.waitJob(body["data"].(map[string]any)["id"].(string))
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		got := strings.Join(events, ",")
		mu.Unlock()
		if got == "job.finished" {
			if attempts.Load() != 3 {
				t.Errorf("job.finished attempts: %d, want 3", attempts.Load())
			}
			time.Sleep(100 * time.Millisecond) // nothing more comes
			mu.Lock()
			defer mu.Unlock()
			if len(events) != 1 {
				t.Errorf("events %v, want job.finished only", events)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("events %v", events)
}
