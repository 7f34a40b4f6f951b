package localserver

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// FuzzJobPayload sends arbitrary bodies to POST /v2/jobs: the answer is
// always 201 or an error in the API's shape, never a panic or a 500.
func FuzzJobPayload(f *testing.F) {
	seeds := []string{
		`{"tasks":{"import":{"operation":"import/raw","file":"hello","filename":"a.txt"},"export":{"operation":"export/url","input":"import"}}}`,
		`{"tasks":{"a":{"operation":"convert","input":"b"},"b":{"operation":"convert","input":"a"}}}`,
		`{"tasks":{"a":{"operation":"convert","input":["a"]}}}`,
		`{"tasks":{"bad name":{"operation":"convert"}}}`,
		`{"tasks":{"x":{"operation":"nope"}}}`,
		`{"tasks":[{"operation":"convert"}]}`,
		`{"tasks":{}}`,
		`{"tasks":{"i":{"operation":"import/base64","file":"!!!","filename":"../../etc/passwd"}},"tag":"t","webhook_url":"ftp://x"}`,
		`{"tasks":{"i":{"operation":"import/upload"}},"tag":1}`,
		`{"tasks":{"c":{"operation":"capture-website","url":"file:///etc/passwd"}}}`,
		`{"tasks":{"i":{"operation":"import/url","url":"http://127.0.0.1:1/x"},"m":{"operation":"merge","input":["i","i"],"output_format":"pdf"}}}`,
		`{`, `null`, `[]`, `""`, `{"tasks":null}`, `{"tasks":{"a":null}}`, `{"tasks":{"a":{"operation":null,"input":{}}}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	e := newEnv(f, func(c *Config) { c.ImportTimeout = 2 * time.Second; c.Workers = 2 })
	h := e.srv.Handler()
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", "/v2/jobs", bytes.NewReader(body))
		req.Host = "127.0.0.1"
		req.Header.Set("Authorization", "Bearer "+testKey)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusCreated, http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body.String())
		}
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatalf("answer is not JSON: %q", rec.Body.String())
		}
		if rec.Code == http.StatusCreated {
			if _, ok := m["data"].(map[string]any); !ok {
				t.Fatalf("201 without data: %s", rec.Body.String())
			}
			return
		}
		if _, ok := m["message"].(string); !ok {
			t.Fatalf("error without message: %s", rec.Body.String())
		}
		if _, ok := m["code"].(string); !ok {
			t.Fatalf("error without code: %s", rec.Body.String())
		}
	})
}
