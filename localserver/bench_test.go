package localserver

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
)

// benchClient is shared by the GET benchmarks: keep-alive connections,
// enough of them for RunParallel.
func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}}
}

func benchGet(b *testing.B, c *http.Client, url string, auth bool) {
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("GET", url, nil)
			if auth {
				req.Header.Set("Authorization", "Bearer "+testKey)
			}
			resp, err := c.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

// BenchmarkGetJob compares GET /v2/jobs/{id} (auth, OpenAPI request
// validation, a finished 3-task job rendered) with a minimal net/http JSON
// handler serving the same bytes, under the same load and client.
func BenchmarkGetJob(b *testing.B) {
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	srv, err := New(ctx, Config{DataDir: b.TempDir(), BaseURL: base, APIKey: testKey, Engines: registry(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	hs := &http.Server{Handler: srv.Handler()}
	go hs.Serve(ln)
	defer func() { hs.Close(); srv.Close() }()
	c := benchClient()
	body, _ := json.Marshal(imageJob(testPNG(16, 16), "bench"))
	req, _ := http.NewRequest("POST", base+"/v2/jobs", strings.NewReader(string(body)))
	req.Header.Set("Authorization", "Bearer "+testKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	var created struct{ Data struct{ ID string } }
	json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	req, _ = http.NewRequest("GET", base+"/sync/v2/jobs/"+created.Data.ID, nil)
	req.Header.Set("Authorization", "Bearer "+testKey)
	resp, err = c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	jobJSON, _ := io.ReadAll(resp.Body)
	resp.Body.Close()

	b.Run("server", func(b *testing.B) { benchGet(b, c, base+"/v2/jobs/"+created.Data.ID, true) })
	b.Run("baseline", func(b *testing.B) {
		// The minimal handler decodes nothing and checks nothing: it
		// marshals the same job document from a map per request.
		var doc map[string]any
		json.Unmarshal(jobJSON, &doc)
		bl, _ := net.Listen("tcp", "127.0.0.1:0")
		bs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			out, _ := json.Marshal(doc)
			w.Header().Set("Content-Type", "application/json")
			w.Write(out)
		})}
		go bs.Serve(bl)
		defer bs.Close()
		benchGet(b, c, "http://"+bl.Addr().String()+"/v2/jobs/x", false)
	})
}

// BenchmarkImageJob is the end-to-end latency of a 3-task image job:
// create (import/base64 PNG -> convert jpg -> export/url), wait on the sync
// endpoint, download the result.
func BenchmarkImageJob(b *testing.B) {
	e := newEnv(b)
	payload := imageJob(testPNG(64, 64), "bench")
	b.ResetTimer()
	for range b.N {
		status, body, _ := e.do("POST", "/v2/jobs", payload)
		if status != 201 {
			b.Fatalf("create: %d", status)
		}
		job := e.waitJob(body["data"].(map[string]any)["id"].(string))
		f := taskByName(job, "export")["result"].(map[string]any)["files"].([]any)[0].(map[string]any)
		download(b, f["url"].(string))
	}
}
