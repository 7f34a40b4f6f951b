package localserver

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cctoolkit/cloudconvert/sdk/webhook"
)

// delivered is one webhook POST as received.
type delivered struct {
	path, sig string
	body      []byte
	event     *webhook.Event
}

// rawHooks records every webhook POST; answer, when set, chooses the
// status of each (by path and attempt, 1-based).
type rawHooks struct {
	*httptest.Server
	mu       sync.Mutex
	got      []delivered
	attempts map[string]int
	answer   func(path string, attempt int) int
}

func newRawHooks(t *testing.T, answer func(path string, attempt int) int) *rawHooks {
	h := &rawHooks{attempts: map[string]int{}, answer: answer}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.attempts[r.URL.Path]++
		n := h.attempts[r.URL.Path]
		h.mu.Unlock()
		if h.answer != nil {
			if st := h.answer(r.URL.Path, n); st != 0 && st != 200 {
				w.WriteHeader(st)
				return
			}
		}
		ev, err := webhook.Decode(body)
		if err != nil {
			t.Errorf("webhook body: %v", err)
		}
		h.mu.Lock()
		h.got = append(h.got, delivered{path: r.URL.Path, sig: r.Header.Get(webhook.SignatureHeader), body: body, event: ev})
		h.mu.Unlock()
	}))
	t.Cleanup(h.Close)
	return h
}

// on returns the deliveries to path so far.
func (h *rawHooks) on(path string) []delivered {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []delivered
	for _, d := range h.got {
		if d.path == path {
			out = append(out, d)
		}
	}
	return out
}

// waitFor polls cond until it holds or 20s pass (a hang guard, not a
// timing assertion).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *env) createHook(t *testing.T, url string, events ...string) map[string]any {
	t.Helper()
	code, body, _ := e.do("POST", "/v2/webhooks", map[string]any{"url": url, "events": events})
	if code != 201 {
		t.Fatalf("create webhook: %d %s", code, jsonStr(body))
	}
	return body["data"].(map[string]any)
}

// TestAccountWebhooksAPI: create, list (filter[url], paging), delete, and
// the validation of each, with the real API's statuses and shapes.
func TestAccountWebhooksAPI(t *testing.T) {
	e := newEnv(t)
	a := e.createHook(t, "https://example.com/a", "job.finished", "job.failed")
	for _, k := range []string{"id", "url", "disabled", "events", "failing", "signing_secret", "created_at", "updated_at", "links"} {
		if _, ok := a[k]; !ok {
			t.Errorf("webhook lacks %q: %s", k, jsonStr(a))
		}
	}
	if a["disabled"] != false || a["failing"] != false || len(a["signing_secret"].(string)) < 32 ||
		a["links"].(map[string]any)["self"] != e.URL+"/v2/webhooks/"+a["id"].(string) {
		t.Errorf("webhook %s", jsonStr(a))
	}
	b := e.createHook(t, "https://example.com/b", "job.created")
	if a["signing_secret"] == b["signing_secret"] {
		t.Error("two webhooks share a signing secret")
	}
	if _, body, _ := e.do("GET", "/v2/users/me/webhooks", nil); len(body["data"].([]any)) != 2 {
		t.Fatalf("list: %s", jsonStr(body))
	}
	_, body, _ := e.do("GET", "/v2/users/me/webhooks?filter[url]=https://example.com/b", nil)
	if d := body["data"].([]any); len(d) != 1 || d[0].(map[string]any)["id"] != b["id"] {
		t.Fatalf("filter[url]: %s", jsonStr(body))
	}
	_, body, _ = e.do("GET", "/v2/users/me/webhooks?per_page=1", nil)
	if d := body["data"].([]any); len(d) != 1 || body["links"].(map[string]any)["next"] == nil {
		t.Fatalf("paging: %s", jsonStr(body))
	}
	// Another user sees none of them and cannot delete them.
	other := newEnv(t, func(c *Config) {
		c.Users = []UserConfig{{ID: 1, APIKeys: []string{testKey}}, {ID: 2, APIKeys: []string{"other-key"}}}
	})
	other.createHook(t, "https://example.com/mine", "job.finished")
	req, _ := http.NewRequest("GET", other.URL+"/v2/users/me/webhooks", nil)
	req.Header.Set("Authorization", "Bearer other-key")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(raw), "example.com/mine") {
		t.Errorf("user 2 lists user 1's webhook: %s", raw)
	}
	for _, tc := range []struct {
		name, body, field string
	}{
		{"no url", `{"events":["job.finished"]}`, "url"},
		{"ftp url", `{"url":"ftp://x","events":["job.finished"]}`, "url"},
		{"no events", `{"url":"https://example.com"}`, "events"},
		{"empty events", `{"url":"https://example.com","events":[]}`, "events"},
		{"unknown event", `{"url":"https://example.com","events":["job.exploded"]}`, "events"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := e.do("POST", "/v2/webhooks", tc.body)
			if code != 422 || body["code"] != "INVALID_DATA" || !strings.Contains(jsonStr(body["errors"]), tc.field) {
				t.Errorf("%d %s", code, jsonStr(body))
			}
		})
	}
	if code, _, _ := e.do("DELETE", "/v2/webhooks/"+a["id"].(string), nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code, body, _ := e.do("DELETE", "/v2/webhooks/"+a["id"].(string), nil); code != 404 || body["code"] != "NOT_FOUND" {
		t.Fatalf("delete again: %d %s", code, jsonStr(body))
	}
	// Persisted: a restart keeps b (secret included) and not a.
	e.restart()
	_, body, _ = e.do("GET", "/v2/users/me/webhooks", nil)
	if d := body["data"].([]any); len(d) != 1 || d[0].(map[string]any)["signing_secret"] != b["signing_secret"] {
		t.Fatalf("after restart: %s", jsonStr(body))
	}
}

// TestAccountWebhookDelivery: each webhook gets the events it subscribed
// to, signed with its own secret; a job's webhook_url gets job.finished
// only; 5xx is retried (3 times at most), 410 disables the webhook, and
// a webhook whose deliveries fail is marked failing.
func TestAccountWebhookDelivery(t *testing.T) {
	hooks := newRawHooks(t, func(path string, attempt int) int {
		switch {
		case path == "/flaky" && attempt <= 2:
			return 503
		case path == "/down":
			return 500
		case path == "/gone":
			return 410
		}
		return 200
	})
	e := newEnv(t, func(c *Config) { c.WebhookSecret = testHookSecret })
	all := e.createHook(t, hooks.URL+"/all", "job.created", "job.finished", "job.failed")
	ends := e.createHook(t, hooks.URL+"/flaky", "job.finished")
	down := e.createHook(t, hooks.URL+"/down", "job.created")
	goneHook := e.createHook(t, hooks.URL+"/gone", "job.created", "job.finished")

	job := imageJob(testPNG(8, 8), "hooked")
	job["webhook_url"] = hooks.URL + "/job"
	_, body, _ := e.do("POST", "/v2/jobs", job)
	id := body["data"].(map[string]any)["id"].(string)
	e.waitJob(id)
	waitFor(t, "deliveries", func() bool {
		return len(hooks.on("/all")) == 2 && len(hooks.on("/flaky")) == 1 && len(hooks.on("/job")) == 1
	})
	check := func(path, secret string, want ...string) {
		t.Helper()
		got := hooks.on(path)
		var names []string
		for _, d := range got {
			names = append(names, d.event.Event)
			if err := webhook.Verify(secret, d.body, d.sig); err != nil {
				t.Errorf("%s: %s: %v", path, d.event.Event, err)
			}
			if d.event.Job.Id != id {
				t.Errorf("%s: job %s", path, d.event.Job.Id)
			}
		}
		if strings.Join(names, ",") != strings.Join(want, ",") {
			t.Errorf("%s received %v, want %v", path, names, want)
		}
	}
	check("/all", all["signing_secret"].(string), "job.created", "job.finished")
	check("/flaky", ends["signing_secret"].(string), "job.finished")
	check("/job", testHookSecret, "job.finished")
	if d := hooks.on("/all")[1]; len(*d.event.Job.Tasks) != 3 || d.event.Job.Status != "finished" {
		t.Errorf("job.finished payload: %s", d.body)
	}
	hookState := func(id string) map[string]any {
		_, body, _ := e.do("GET", "/v2/users/me/webhooks", nil)
		for _, h := range body["data"].([]any) {
			if h := h.(map[string]any); h["id"] == id {
				return h
			}
		}
		t.Fatalf("webhook %s not listed", id)
		return nil
	}
	waitFor(t, "the failing webhook to be marked", func() bool { return hookState(down["id"].(string))["failing"] == true })
	hooks.mu.Lock()
	downTries, flakyTries := hooks.attempts["/down"], hooks.attempts["/flaky"]
	hooks.mu.Unlock()
	if downTries != 4 || flakyTries != 3 {
		t.Errorf("attempts: /down %d (want 1+3 retries), /flaky %d (want 3)", downTries, flakyTries)
	}
	waitFor(t, "410 to disable the webhook", func() bool { return hookState(goneHook["id"].(string))["disabled"] == true })
	attempts := func(path string) int {
		hooks.mu.Lock()
		defer hooks.mu.Unlock()
		return hooks.attempts[path]
	}
	goneTries := attempts("/gone")
	if goneTries < 1 || goneTries > 2 { // one per event dispatched before it was disabled; 410 is not retried
		t.Errorf("/gone was tried %d times", goneTries)
	}
	_, body, _ = e.do("POST", "/v2/jobs", imageJob(testPNG(8, 8), "again"))
	e.waitJob(body["data"].(map[string]any)["id"].(string))
	waitFor(t, "the second job's deliveries", func() bool { return len(hooks.on("/all")) == 4 })
	if n := attempts("/gone"); n != goneTries {
		t.Errorf("the disabled webhook was tried again (%d -> %d)", goneTries, n)
	}
	if hookState(ends["id"].(string))["failing"] != false {
		t.Error("a webhook delivered after retries is marked failing")
	}
}

// TestWebhooksRefusePrivateAddresses: without AllowPrivateURLs, an account
// webhook on loopback receives nothing (the guarded client refuses it).
func TestWebhooksRefusePrivateAddresses(t *testing.T) {
	hooks := newRawHooks(t, nil)
	e := newEnv(t, func(c *Config) { c.AllowPrivateURLs = false })
	h := e.createHook(t, hooks.URL+"/private", "job.created", "job.finished", "job.failed")
	// The input comes inline: a loopback import/url would be refused too.
	job := map[string]any{"tasks": map[string]any{"in": map[string]any{"operation": "import/base64", "file": "aGVsbG8=", "filename": "a.txt"}}}
	_, body, _ := e.do("POST", "/v2/jobs", job)
	e.waitJob(body["data"].(map[string]any)["id"].(string))
	waitFor(t, "the webhook to be marked failing", func() bool {
		_, body, _ := e.do("GET", "/v2/users/me/webhooks", nil)
		return body["data"].([]any)[0].(map[string]any)["failing"] == true
	})
	if n := len(hooks.on("/private")); n != 0 {
		t.Errorf("a loopback webhook received %d deliveries (id %s)", n, h["id"])
	}
}
