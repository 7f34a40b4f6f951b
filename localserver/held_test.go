package localserver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// What held under issue 9's attack, kept with tests: auth on every route,
// isolation between users, kill -9 recovery. (Signed URLs, upload names,
// malformed PDFs, bad JSON and concurrency: TestUploads, TestCorruptInput,
// TestBadRequests, FuzzJobPayload, TestLoad.)

func TestHeldAuthOnEveryRoute(t *testing.T) {
	e := newEnv(t)
	id := "00000000-0000-0000-0000-000000000000"
	for _, prefix := range []string{"/v2", "/sync/v2"} {
		for _, r := range []struct{ method, path string }{
			{"GET", "/jobs"}, {"GET", "/jobs/" + id}, {"POST", "/jobs"}, {"DELETE", "/jobs/" + id},
			{"GET", "/tasks"}, {"GET", "/tasks/" + id}, {"DELETE", "/tasks/" + id}, {"POST", "/tasks/" + id + "/cancel"},
			{"POST", "/tasks/" + id + "/retry"}, {"POST", "/import/url"}, {"POST", "/convert"}, {"GET", "/users/me"}, {"GET", "/nothing"},
		} {
			for _, auth := range []string{"", "Bearer wrong", "Basic " + testKey, "Bearer"} {
				req, _ := http.NewRequest(r.method, e.URL+prefix+r.path, strings.NewReader(`{}`))
				if auth != "" {
					req.Header.Set("Authorization", auth)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 401 {
					t.Errorf("%s %s%s with %q: %d", r.method, prefix, r.path, auth, resp.StatusCode)
				}
			}
		}
	}
	for _, path := range []string{"/uploads/" + id, "/files/" + id + "/a.txt?expires=9999999999&signature=00"} {
		method := "POST"
		if strings.HasPrefix(path, "/files") {
			method = "GET"
		}
		req, _ := http.NewRequest(method, e.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Errorf("%s %s unsigned: %d", method, path, resp.StatusCode)
		}
	}
}

func TestHeldUserIsolation(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Users = []UserConfig{{ID: 1, Username: "a", APIKeys: []string{testKey}}, {ID: 2, Username: "b", APIKeys: []string{"key-b"}}}
	})
	jobID := createJob(t, e, map[string]any{"tag": "mine", "tasks": map[string]any{"in": map[string]any{"operation": "import/raw", "file": "secret", "filename": "s.txt"}}})
	job := e.waitJob(jobID)
	taskID := taskByName(job, "in")["id"].(string)
	asB := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, e.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer key-b")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, jsonStr(m)
	}
	for _, c := range []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/v2/jobs/" + jobID, "", 404}, {"GET", "/sync/v2/jobs/" + jobID, "", 404}, {"GET", "/v2/tasks/" + taskID, "", 404},
		{"DELETE", "/v2/jobs/" + jobID, "", 404}, {"DELETE", "/v2/tasks/" + taskID, "", 404}, {"POST", "/v2/tasks/" + taskID + "/retry", "", 404},
		{"POST", "/v2/tasks/" + taskID + "/cancel", "", 404}, {"POST", "/v2/export/url", fmt.Sprintf(`{"input":%q}`, taskID), 422},
	} {
		if status, body := asB(c.method, c.path, c.body); status != c.status {
			t.Errorf("B %s %s: %d %s", c.method, c.path, status, body)
		}
	}
	for _, path := range []string{"/v2/jobs?include=tasks", "/v2/tasks", "/v2/jobs?filter[tag]=mine"} {
		if status, body := asB("GET", path, ""); status != 200 || strings.Contains(body, jobID) || strings.Contains(body, taskID) {
			t.Errorf("B lists A's work at %s: %d %s", path, status, body)
		}
	}
	if status, _, _ := e.do("GET", "/v2/jobs/"+jobID, nil); status != 200 {
		t.Errorf("A lost its job: %d", status)
	}
}

// TestHeldKillRecovery: jobs acknowledged before a kill -9 all finish
// after the restart (a task running at one crash is resumed; crash-loop
// protection only stops a second one).
func TestHeldKillRecovery(t *testing.T) {
	dir := t.TempDir()
	c := startChild(t, dir)
	var ids []string
	for i := range 20 {
		status, body := callURL(t, "POST", c.URL+"/v2/jobs", strings.NewReader(jsonStr(imageJob(testPNG(300, 300), fmt.Sprint("kill-", i)))))
		if status != 201 {
			t.Fatalf("%d %s", status, body)
		}
		var j struct{ Data Job }
		json.Unmarshal(body, &j)
		ids = append(ids, j.Data.ID)
	}
	c.kill()
	c = startChild(t, dir)
	deadline := time.Now().Add(60 * time.Second)
	for _, id := range ids {
		for {
			_, body := callURL(t, "GET", c.URL+"/sync/v2/jobs/"+id, nil)
			var j struct{ Data Job }
			json.Unmarshal(body, &j)
			if j.Data.Status == StatusFinished {
				break
			}
			if j.Data.Status == StatusError || time.Now().After(deadline) {
				t.Fatalf("job %s after a kill -9: %s", id, body)
			}
		}
	}
}
