package webhook

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

const fixtures = "../../../shared/fixtures/cloudconvert-sdk/"

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(fixtures + name)
	if err != nil {
		t.Skip("shared fixtures not present:", err)
	}
	return b
}

// The known-answer vectors of CLOUDCONVERT_API.md and SOURCES.md.
func TestKnownAnswers(t *testing.T) {
	tests := []struct {
		name, secret, want string
		body               []byte
	}{
		{"node job.finished", "secret", "576b653f726c85265a389532988f483b5c7d7d5f40cede5f5ddf9c3f02934f35", readFixture(t, "cloudconvert-node/tests/unit/requests/webhook_job_finished_payload.json")},
		{"dotnet job.created", "9E1I8fQSLM7WsH1Y2Zp0uurYfhLqdERu", "88c3103f1d64282bf963af5dd8405ef26348af25b8903e10f0c288c11f0f907b", readFixture(t, "cloudconvert-dotnet/CloudConvert.Test/Responses/webhook_job_created_payload.json")},
		{"python string", "90sffs0d8fs0f9sf0", "5c4c0691bce8a1a2af738b7073fe0627e792734813358c5f88a658819dd0a6d2", []byte("cloudconvert")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Sign(tt.secret, tt.body); got != tt.want {
				t.Errorf("Sign = %s, want %s", got, tt.want)
			}
			if err := Verify(tt.secret, tt.body, tt.want); err != nil {
				t.Error(err)
			}
			if err := Verify(tt.secret, tt.body, strings.ToUpper(tt.want)); err != nil {
				t.Error("uppercase hex:", err)
			}
			for name, c := range map[string]struct {
				secret, sig string
				body        []byte
				want        error
			}{
				"wrong secret": {tt.secret + "x", tt.want, tt.body, ErrBadSignature},
				"body changed": {tt.secret, tt.want, append([]byte(" "), tt.body...), ErrBadSignature},
				"no header":    {tt.secret, "", tt.body, ErrNoSignature},
				"not hex":      {tt.secret, "zz" + tt.want[2:], tt.body, ErrBadSignature},
				"short":        {tt.secret, tt.want[:32], tt.body, ErrBadSignature},
				"no secret":    {"", tt.want, tt.body, ErrNoSecret},
			} {
				if err := Verify(c.secret, c.body, c.sig); !errors.Is(err, c.want) {
					t.Errorf("%s: %v, want %v", name, err, c.want)
				}
			}
		})
	}
}

func TestHandler(t *testing.T) {
	finished := readFixture(t, "cloudconvert-node/tests/unit/requests/webhook_job_finished_payload.json")
	created := readFixture(t, "cloudconvert-dotnet/CloudConvert.Test/Responses/webhook_job_created_payload.json")
	var got []string
	h := NewHandler("old-secret", "secret").
		On(JobFinished, func(_ context.Context, e *Event) error {
			got = append(got, e.Event+" "+e.Job.Id+" "+string(e.Job.Status))
			return nil
		}).
		On(JobFailed, func(context.Context, *Event) error { return errors.New("db down") })
	tests := []struct {
		name, method, sig string
		body              []byte
		status            int
	}{
		{"finished", "POST", Sign("secret", finished), finished, 200},
		{"rotated secret", "POST", Sign("old-secret", finished), finished, 200},
		{"unhandled event acknowledged", "POST", Sign("secret", created), created, 200},
		{"bad signature", "POST", Sign("nope", finished), finished, 401},
		{"no signature", "POST", "", finished, 401},
		{"handler error asks for redelivery", "POST", Sign("secret", []byte(`{"event":"job.failed","job":{"id":"j","status":"error"}}`)), []byte(`{"event":"job.failed","job":{"id":"j","status":"error"}}`), 500},
		{"not an event", "POST", Sign("secret", []byte(`[1]`)), []byte(`[1]`), 400},
		{"GET", "GET", "", nil, 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/hook", strings.NewReader(string(tt.body)))
			if tt.sig != "" {
				r.Header.Set(SignatureHeader, tt.sig)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Errorf("status %d, want %d (%s)", w.Code, tt.status, w.Body)
			}
		})
	}
	if len(got) != 2 || !strings.HasPrefix(got[0], "job.finished ") || !strings.HasSuffix(got[0], " finished") {
		t.Errorf("dispatched %v", got)
	}
	var _ http.Handler = h
}
