package localserver

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
)

func TestBadRequests(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name, method, path string
		body               any
		status             int
		code, field, msg   string
	}{
		{"malformed JSON", "POST", "/v2/jobs", `{"tasks": {`, 400, "INVALID_DATA", "", "not valid JSON"},
		{"tasks as an array", "POST", "/v2/jobs", `{"tasks":[{"operation":"convert"}]}`, 422, "INVALID_DATA", "tasks", ""},
		{"tag of the wrong type", "POST", "/v2/jobs", `{"tasks":{"a":{"operation":"import/raw"}},"tag":1}`, 422, "INVALID_DATA", "tag", ""},
		{"no tasks", "POST", "/v2/jobs", `{"tasks":{}}`, 422, "INVALID_DATA", "tasks", ""},
		{"unknown operation in a job", "POST", "/v2/jobs", `{"tasks":{"a":{"operation":"export/aws-s3"}}}`, 422, "INVALID_DATA", "tasks.a.operation", ""},
		{"unknown standalone operation", "POST", "/v2/export/aws-s3", `{}`, 404, "NOT_FOUND", "", "export/url"},
		{"input cycle", "POST", "/v2/jobs", `{"tasks":{"a":{"operation":"convert","input":"b"},"b":{"operation":"convert","input":"a"}}}`, 422, "INVALID_DATA", "tasks", "cycle"},
		{"self input", "POST", "/v2/jobs", `{"tasks":{"a":{"operation":"convert","input":["a"]}}}`, 422, "INVALID_DATA", "tasks", "cycle"},
		{"unknown input", "POST", "/v2/jobs", `{"tasks":{"a":{"operation":"convert","input":"nope"}}}`, 422, "INVALID_DATA", "tasks.a.input", "nope"},
		{"bad task name", "POST", "/v2/jobs", `{"tasks":{"a b":{"operation":"import/raw"}}}`, 422, "INVALID_DATA", "tasks.a b", ""},
		{"bad webhook url", "POST", "/v2/jobs", `{"tasks":{"a":{"operation":"import/raw"}},"webhook_url":"ftp://x"}`, 422, "INVALID_DATA", "webhook_url", ""},
		{"input of the wrong type", "POST", "/v2/jobs", `{"tasks":{"a":{"operation":"convert","input":5}}}`, 422, "INVALID_DATA", "", ""},
		{"standalone input unknown", "POST", "/v2/convert", `{"input":"00000000-0000-0000-0000-000000000000"}`, 422, "INVALID_DATA", "input", ""},
		{"per_page not a number", "GET", "/v2/jobs?per_page=abc", nil, 422, "INVALID_DATA", "per_page", ""},
		{"per_page above the spec's maximum (from the descriptor)", "GET", "/v2/jobs?per_page=101", nil, 422, "INVALID_DATA", "per_page", ""},
		{"per_page of tasks too", "GET", "/v2/tasks?per_page=101", nil, 422, "INVALID_DATA", "per_page", ""},
		{"status filter unknown", "GET", "/v2/jobs?filter[status]=done", nil, 422, "INVALID_DATA", "filter[status]", ""},
		{"unknown job", "GET", "/v2/jobs/nope", nil, 404, "NOT_FOUND", "", ""},
		{"unknown task", "GET", "/v2/tasks/nope", nil, 404, "NOT_FOUND", "", ""},
		{"delete unknown job", "DELETE", "/v2/jobs/nope", nil, 404, "NOT_FOUND", "", ""},
		{"unknown endpoint", "GET", "/v2/nothing/here", nil, 404, "NOT_FOUND", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body, _ := e.do(c.method, c.path, c.body)
			if status != c.status || body["code"] != c.code {
				t.Fatalf("%d %s, want %d %s", status, jsonStr(body), c.status, c.code)
			}
			if _, ok := body["message"].(string); !ok {
				t.Errorf("no message: %s", jsonStr(body))
			}
			errs, _ := body["errors"].(map[string]any)
			if c.field != "" {
				if _, ok := errs[c.field]; !ok {
					t.Errorf("errors lack %q: %s", c.field, jsonStr(body))
				}
			}
			if c.msg != "" && !strings.Contains(jsonStr(body), c.msg) {
				t.Errorf("answer lacks %q: %s", c.msg, jsonStr(body))
			}
		})
	}
	t.Run("no or wrong key", func(t *testing.T) {
		for _, h := range []string{"", "Bearer wrong", "Basic " + testKey} {
			req, _ := http.NewRequest("GET", e.URL+"/v2/users/me", nil)
			if h != "" {
				req.Header.Set("Authorization", h)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 401 || !strings.Contains(string(b), `"code":"UNAUTHENTICATED"`) {
				t.Errorf("%q: %d %s", h, resp.StatusCode, b)
			}
		}
	})
}

// TestFailedTasks: what the API accepts but cannot do fails the task with
// a clear code and message.
func TestFailedTasks(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxFileSize = 4096 })
	big := e.serve("big.bin", bytes.Repeat([]byte("x"), 10000))
	cases := []struct {
		name string
		task map[string]any
		code string
		msg  string
	}{
		{"unsupported operation", map[string]any{"operation": "import/s3", "bucket": "b"}, CodeOperationNotSupported, "import/url"},
		{"unreachable url", map[string]any{"operation": "import/url", "url": "http://127.0.0.1:1/x.pdf"}, CodeImportFailed, "unreachable"},
		{"missing file", map[string]any{"operation": "import/url", "url": e.files.URL + "/missing.pdf"}, CodeImportFailed, "404"},
		{"not http", map[string]any{"operation": "import/url", "url": "file:///etc/passwd"}, CodeInvalidPayload, "http or https"},
		{"too large", map[string]any{"operation": "import/url", "url": big}, CodeFileTooLarge, "4096"},
		{"bad base64", map[string]any{"operation": "import/base64", "file": "!!!", "filename": "a.png"}, CodeInvalidPayload, "base64"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body, _ := e.do("POST", "/v2/jobs", map[string]any{"tasks": map[string]any{
				"in": c.task, "out": map[string]any{"operation": "export/url", "input": "in"}}})
			if status != 201 {
				t.Fatalf("create: %d %s", status, jsonStr(body))
			}
			job := e.waitJob(body["data"].(map[string]any)["id"].(string))
			in, out := taskByName(job, "in"), taskByName(job, "out")
			if job["status"] != "error" || in["status"] != "error" || in["code"] != c.code || !strings.Contains(fmt.Sprint(in["message"]), c.msg) {
				t.Fatalf("task: %s", jsonStr(in))
			}
			if out["code"] != CodeInputTaskFailed || out["status"] != "error" {
				t.Errorf("dependent: %s", jsonStr(out))
			}
		})
	}
}

// TestUploads: the form target; oversized uploads, bad signatures and
// path traversal in file names.
func TestUploads(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxFileSize = 4096 })
	newUpload := func() (string, map[string]any) {
		status, body, _ := e.do("POST", "/v2/import/upload", `{}`)
		if status != 201 {
			t.Fatalf("%d %s", status, jsonStr(body))
		}
		task := body["data"].(map[string]any)
		if task["message"] != "Waiting for file upload" {
			t.Errorf("task %s", jsonStr(task))
		}
		return task["id"].(string), task["result"].(map[string]any)["form"].(map[string]any)
	}
	post := func(form map[string]any, filename string, content []byte, tamper bool) (int, string) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		for k, v := range form["parameters"].(map[string]any) {
			if tamper && k == "signature" {
				v = "00"
			}
			mw.WriteField(k, v.(string))
		}
		fw, _ := mw.CreateFormFile("file", filename)
		fw.Write(content)
		mw.Close()
		resp, err := http.Post(form["url"].(string), mw.FormDataContentType(), &b)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		rb, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(rb)
	}
	t.Run("ok with traversal name", func(t *testing.T) {
		id, form := newUpload()
		status, body := post(form, "../../../etc/passwd", []byte("hello"), false)
		if status != 201 || !strings.Contains(body, "<PostResponse>") || !strings.Contains(body, "<ETag>") {
			t.Fatalf("%d %s", status, body)
		}
		_, tb, _ := e.do("GET", "/sync/v2/tasks/"+id, nil)
		task := tb["data"].(map[string]any)
		f := task["result"].(map[string]any)["files"].([]any)[0].(map[string]any)
		if task["status"] != "finished" || f["filename"] != "passwd" || f["md5"] != "5d41402abc4b2a76b9719d911017c592" {
			t.Fatalf("task %s", jsonStr(task))
		}
		if status, _ := post(form, "again.txt", []byte("x"), false); status != 409 {
			t.Errorf("second upload: %d", status)
		}
	})
	t.Run("oversized", func(t *testing.T) {
		_, form := newUpload()
		status, body := post(form, "big.bin", bytes.Repeat([]byte("x"), 5000), false)
		if status != 400 || !strings.Contains(body, "EntityTooLarge") {
			t.Fatalf("%d %s", status, body)
		}
	})
	t.Run("bad signature", func(t *testing.T) {
		_, form := newUpload()
		status, body := post(form, "a.txt", []byte("x"), true)
		if status != 403 || !strings.Contains(body, "AccessDenied") {
			t.Fatalf("%d %s", status, body)
		}
	})
	t.Run("inline name traversal", func(t *testing.T) {
		status, body, _ := e.do("POST", "/v2/jobs", map[string]any{"tasks": map[string]any{
			"in":  map[string]any{"operation": "import/raw", "file": "data", "filename": `..\..\evil.txt`},
			"out": map[string]any{"operation": "export/url", "input": "in"}}})
		if status != 201 {
			t.Fatal(status)
		}
		job := e.waitJob(body["data"].(map[string]any)["id"].(string))
		f := taskByName(job, "out")["result"].(map[string]any)["files"].([]any)[0].(map[string]any)
		if f["filename"] != "evil.txt" || string(download(t, f["url"].(string))) != "data" {
			t.Fatalf("%s", jsonStr(f))
		}
		bad := strings.Replace(f["url"].(string), "signature=", "signature=0", 1)
		resp, _ := http.Get(bad)
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Errorf("tampered download: %d", resp.StatusCode)
		}
	})
}
