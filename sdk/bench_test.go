package sdk

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cctoolkit/cloudconvert/generated/cloudconvert/client"
	"github.com/cctoolkit/cloudconvert/integration/transport"
	"github.com/cctoolkit/cloudconvert/internal/benchpair"
)

// benchServer answers get_job with the recorded job.json on loopback: the
// same bytes for every variant, written as they are (no encoding per
// request), so the server's share is the same in each.
func benchServer(b *testing.B) *httptest.Server {
	body := fixture(b, "cloudconvert-node/tests/unit/responses/job.json")
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	b.Cleanup(s.Close)
	return s
}

const benchJobID = "cd82535b-0614-4b23-bbba-b24ab0e892f7"

// generatedClient is the bare generated client over hc, sending the same
// headers as the sdk.
func generatedClient(b *testing.B, url string, hc *http.Client) *client.ClientWithResponses {
	auth := "Bearer " + testKey
	gc, err := client.NewClientWithResponses(url+"/v2", client.WithHTTPClient(hc), client.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", auth)
		r.Header.Set("User-Agent", DefaultUserAgent)
		r.Header.Set("Accept", "application/json")
		return nil
	}))
	if err != nil {
		b.Fatal(err)
	}
	return gc
}

// BenchmarkGetJob measures Client.GetJob against its floor.
//
// The floor is "generated": the bare generated client over a plain
// http.Transport, decoding the answer into the same typed Job, with the
// same headers, against the same server (which writes the recorded job's
// bytes as they are). It is the floor because GetJob is exactly that
// request and that decoding, plus what the sdk adds: the retrying
// transport (a class in the context, an httptrace hook, the body read into
// memory so a cut-short answer can be retried) and the typed error path.
// "transport" is the generated client over the same retrying transport, so
// the two differences show separately: transport/generated is the
// transport's cost, sdk/generated the whole wrapper's (target <= 1.05).
//
// impl=paired calls the three in turn in every iteration (benchpair), so
// that load from other processes weighs on all alike; the impl=<name>
// sub-benchmarks run each alone, for its allocations.
func BenchmarkGetJob(b *testing.B) {
	s := benchServer(b)
	ctx := context.Background()
	gen := generatedClient(b, s.URL, &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}})
	tr := transport.New(transport.Options{Base: &http.Transport{MaxIdleConnsPerHost: 4}, UserAgent: DefaultUserAgent, Secrets: []string{testKey}})
	genTr := generatedClient(b, s.URL, tr.Client())
	c, err := New(testKey, WithBaseURL(s.URL+"/v2"), WithHTTPClient(&http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}))
	if err != nil {
		b.Fatal(err)
	}
	viaGenerated := func(gc *client.ClientWithResponses) func() {
		return func() {
			r, err := gc.GetJobWithResponse(ctx, benchJobID)
			if err != nil || r.JSON200 == nil {
				b.Fatal(err)
			}
		}
	}
	sides := []benchpair.Side{
		{Name: "generated", Run: viaGenerated(gen)},
		{Name: "transport", Run: viaGenerated(genTr)},
		{Name: "sdk", Run: func() {
			if j, err := c.GetJob(ctx, benchJobID); err != nil || j.Id != benchJobID {
				b.Fatal(err)
			}
		}},
	}
	for _, side := range sides {
		b.Run("impl="+side.Name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				side.Run()
			}
		})
	}
	b.Run("impl=paired", func(b *testing.B) { benchpair.Run(b, sides[0], sides[1:]...) })
}
