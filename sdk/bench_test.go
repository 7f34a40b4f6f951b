package sdk

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cctoolkit/cloudconvert/generated/cloudconvert/client"
)

// benchServer answers get_job with the recorded job.json on loopback.
func benchServer(b *testing.B) *httptest.Server {
	body := fixture(b, "cloudconvert-node/tests/unit/responses/job.json")
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	b.Cleanup(s.Close)
	return s
}

// BenchmarkGetJob compares the wrapper with the bare generated client on
// the same server, transport and headers.
func BenchmarkGetJob(b *testing.B) {
	s := benchServer(b)
	ctx := context.Background()
	b.Run("impl=generated", func(b *testing.B) {
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
		auth := "Bearer " + testKey
		gc, err := client.NewClientWithResponses(s.URL+"/v2", client.WithHTTPClient(hc), client.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
			r.Header.Set("Authorization", auth)
			r.Header.Set("User-Agent", DefaultUserAgent)
			r.Header.Set("Accept", "application/json")
			return nil
		}))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			r, err := gc.GetJobWithResponse(ctx, "cd82535b-0614-4b23-bbba-b24ab0e892f7")
			if err != nil || r.JSON200 == nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=sdk", func(b *testing.B) {
		c, err := New(testKey, WithBaseURL(s.URL+"/v2"), WithHTTPClient(&http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.GetJob(ctx, "cd82535b-0614-4b23-bbba-b24ab0e892f7"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
