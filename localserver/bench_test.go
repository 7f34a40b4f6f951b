package localserver

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"github.com/cctoolkit/cloudconvert/internal/benchpair"
	"github.com/cctoolkit/cloudconvert/localserver/engine"
)

// benchServer is a real server on loopback as a user runs it: no
// response validation wrapped around it (newEnv's check is the tests'
// cost, not the server's). It shares the tests' engine registry.
func benchServer(b *testing.B) (*Server, string) {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	srv, err := New(context.Background(), Config{DataDir: b.TempDir(), BaseURL: base, APIKey: testKey, Engines: registry(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		ln.Close()
		b.Fatal(err)
	}
	hs := &http.Server{Handler: srv.Handler()}
	go hs.Serve(ln)
	b.Cleanup(func() { hs.Close(); srv.Close() })
	return srv, base
}

// benchClient has keep-alive connections enough for every concurrent
// request of a burst.
func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}}
}

// apiDo sends an authenticated request and returns the status, the body
// and the headers.
func apiDo(b *testing.B, c *http.Client, method, url string, body []byte) (int, []byte, http.Header) {
	b.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		b.Fatal(err)
	}
	return resp.StatusCode, out, resp.Header
}

// burst sends n GET requests to url from par goroutines at once and checks
// that every answer is 200 with size bytes: the throughput of a side is n
// over the burst's time.
func burst(b *testing.B, c *http.Client, url string, auth bool, par, n, size int) {
	var wg sync.WaitGroup
	for g := range par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += par {
				req, _ := http.NewRequest("GET", url, nil)
				if auth {
					req.Header.Set("Authorization", "Bearer "+testKey)
				}
				resp, err := c.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				got, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || got != int64(size) {
					b.Errorf("GET %s: status %d, %d bytes, want 200 and %d", url, resp.StatusCode, got, size)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkGetJob measures the throughput of GET /v2/jobs/{id} for a
// finished 3-task job (authentication, rate limiting, activity tracking,
// OpenAPI request validation, the store read, rendering and the JSON
// answer with "/" escaped as the real API does).
//
// The floor, side "bytes", is a net/http handler that writes the very bytes
// the server answers (captured from it once, precomputed) with the same
// headers (Content-Type, Cache-Control, Content-Length, the rate-limit
// pair), on its own loopback listener, to the same client under the same
// load. It is the floor because it is what any Go server must do to answer
// this request at all: accept, parse the request, write the answer; nothing
// the local server does (checks, lookups, encoding) is in it.
//
// Each iteration sends a burst of requests from 2*GOMAXPROCS goroutines to
// each side in turn (benchpair), so that load from other processes weighs
// on both alike. server/bytes is the cost ratio; the throughput ratio the
// target is set in (>= 0.6x of the floor's) is its inverse.
func BenchmarkGetJob(b *testing.B) {
	_, base := benchServer(b)
	c := benchClient()
	payload, _ := json.Marshal(imageJob(testPNG(16, 16), "bench"))
	status, body, _ := apiDo(b, c, "POST", base+"/v2/jobs", payload)
	if status != 201 {
		b.Fatalf("create: %d %s", status, body)
	}
	var created struct{ Data struct{ ID string } }
	if err := json.Unmarshal(body, &created); err != nil {
		b.Fatal(err)
	}
	jobURL := base + "/v2/jobs/" + created.Data.ID
	if status, body, _ = apiDo(b, c, "GET", base+"/sync/v2/jobs/"+created.Data.ID, nil); status != 200 || !bytes.Contains(body, []byte(`"status":"finished"`)) {
		b.Fatalf("the job did not finish: %d %s", status, body)
	}
	status, jobBytes, h := apiDo(b, c, "GET", jobURL, nil)
	if status != 200 || !bytes.Contains(jobBytes, []byte(`:\/\/`)) {
		b.Fatalf("GET %s: %d %s", jobURL, status, jobBytes)
	}

	bl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	length := strconv.Itoa(len(jobBytes))
	floor := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wh := w.Header()
		wh.Set("Content-Type", "application/json")
		wh.Set("Cache-Control", "no-cache, private")
		wh.Set("Content-Length", length)
		wh.Set("X-Ratelimit-Limit", h.Get("X-Ratelimit-Limit"))
		wh.Set("X-Ratelimit-Remaining", h.Get("X-Ratelimit-Remaining"))
		w.WriteHeader(http.StatusOK)
		w.Write(jobBytes)
	})}
	go floor.Serve(bl)
	defer floor.Close()
	floorURL := "http://" + bl.Addr().String() + "/v2/jobs/" + created.Data.ID

	par, n := 2*runtime.GOMAXPROCS(0), 64
	benchpair.Run(b,
		benchpair.Side{Name: "bytes", Ops: n, Run: func() { burst(b, c, floorURL, false, par, n, len(jobBytes)) }},
		benchpair.Side{Name: "server", Ops: n, Run: func() { burst(b, c, jobURL, true, par, n, len(jobBytes)) }},
	)
}

// BenchmarkImageJob measures a 3-task image job end to end: create
// (import/base64 of a 256x256 PNG -> convert to jpg -> export/url), wait on
// the sync endpoint, download the result, over loopback.
//
// The floor, side "direct", is the same three steps as direct calls of the
// same engine registry, with nothing between them: decode the base64
// contents and write the input file (import), engine.Registry.Run convert
// png -> jpg (convert), read the result file (the download). It is the
// floor because the conversion cannot be done with less; what the server
// adds is HTTP, validation, the job model, the store, scheduling and the
// signed download. Both sides run in turn in every iteration (benchpair);
// job/direct is the ratio, target <= 1.5.
func BenchmarkImageJob(b *testing.B) {
	srv, base := benchServer(b)
	c := benchClient()
	png := testPNG(256, 256)
	encoded := base64.StdEncoding.EncodeToString(png)
	payload, _ := json.Marshal(imageJob(png, "bench"))
	reg := srv.Engines()
	ctx := context.Background()

	direct := func() {
		dir, err := os.MkdirTemp(b.TempDir(), "direct")
		if err != nil {
			b.Fatal(err)
		}
		defer os.RemoveAll(dir)
		data, err := base64.StdEncoding.DecodeString(encoded)
		if err != nil {
			b.Fatal(err)
		}
		in := filepath.Join(dir, "in.png")
		if err := os.WriteFile(in, data, 0o600); err != nil {
			b.Fatal(err)
		}
		out := filepath.Join(dir, "out")
		if err := os.Mkdir(out, 0o700); err != nil {
			b.Fatal(err)
		}
		res, err := reg.Run(ctx, engine.Request{Operation: "convert", Inputs: []engine.File{{Name: "in.png", Path: in, Size: int64(len(data))}},
			OutputFormat: "jpg", OutDir: out}, nil)
		if err != nil || len(res.Files) != 1 {
			b.Fatalf("convert: %v %v", res.Files, err)
		}
		if jpg, err := os.ReadFile(res.Files[0].Path); err != nil || len(jpg) == 0 {
			b.Fatalf("result: %d bytes, %v", len(jpg), err)
		}
	}
	job := func() {
		status, body, _ := apiDo(b, c, "POST", base+"/v2/jobs", payload)
		if status != 201 {
			b.Fatalf("create: %d %s", status, body)
		}
		var created struct{ Data struct{ ID string } }
		json.Unmarshal(body, &created)
		status, body, _ = apiDo(b, c, "GET", base+"/sync/v2/jobs/"+created.Data.ID, nil)
		var done struct {
			Data struct {
				Status string
				Tasks  []struct {
					Name   string
					Result struct{ Files []struct{ URL string } }
				}
			}
		}
		if err := json.Unmarshal(body, &done); status != 200 || err != nil || done.Data.Status != "finished" {
			b.Fatalf("wait: %d %s", status, body)
		}
		for _, t := range done.Data.Tasks {
			if t.Name == "export" && len(t.Result.Files) == 1 {
				resp, err := c.Get(t.Result.Files[0].URL)
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || n == 0 {
					b.Fatalf("download: %d, %d bytes", resp.StatusCode, n)
				}
				return
			}
		}
		b.Fatalf("no export result in %s", body)
	}
	benchpair.Run(b, benchpair.Side{Name: "direct", Run: direct}, benchpair.Side{Name: "job", Run: job})
}

// BenchmarkPDFToPNG measures rendering PDF pages to PNG at 150 DPI with
// the local server's engine (PDFium in WebAssembly, its pool started as a
// running server keeps it) against pdftoppm -r 150 -png (poppler) on the
// same file, writing the PNG files to disk on both sides. The document is
// textPDF's: text in an embedded TrueType font, rules and filled shapes,
// as office software writes. Both render the pages of a document one after
// another on one core (the engine renders one document's pages in turn
// too), so per page is per page of CPU.
//
// The floor, side "pdftoppm", is the ordinary command-line renderer a user
// would otherwise run on the file, started as a process each time as a
// user runs it (its start is part of what it costs). Sub-benchmarks: a
// 4-page document and a 1-page one (where pdftoppm's process start weighs
// more). engine/pdftoppm is the ratio, target <= 1.
func BenchmarkPDFToPNG(b *testing.B) {
	pdftoppm, err := exec.LookPath("pdftoppm")
	if err != nil {
		b.Skip("pdftoppm is not installed (Debian: apt-get install -y poppler-utils); the floor of this comparison is pdftoppm -r 150")
	}
	reg := registry()
	ctx := context.Background()
	for _, pages := range []int{4, 1} {
		b.Run(fmt.Sprintf("pages=%d", pages), func(b *testing.B) {
			dir := b.TempDir()
			pdf := filepath.Join(dir, "doc.pdf")
			if err := os.WriteFile(pdf, textPDF(b, pages), 0o600); err != nil {
				b.Fatal(err)
			}
			in := engine.File{Name: "doc.pdf", Path: pdf}
			outDir := func() string {
				d, err := os.MkdirTemp(dir, "out")
				if err != nil {
					b.Fatal(err)
				}
				return d
			}
			check := func(d, side string) {
				files, _ := filepath.Glob(filepath.Join(d, "*.png"))
				if len(files) != pages {
					b.Fatalf("%s wrote %d PNG files, want %d", side, len(files), pages)
				}
				os.RemoveAll(d)
			}
			render := func() {
				d := outDir()
				if _, err := reg.Run(ctx, engine.Request{Operation: "convert", Inputs: []engine.File{in}, OutputFormat: "png",
					Options: map[string]any{"pixel_density": float64(150)}, OutDir: d}, nil); err != nil {
					b.Fatal(err)
				}
				check(d, "the engine")
			}
			poppler := func() {
				d := outDir()
				if out, err := exec.Command(pdftoppm, "-r", "150", "-png", pdf, filepath.Join(d, "page")).CombinedOutput(); err != nil {
					b.Fatalf("pdftoppm: %v %s", err, out)
				}
				check(d, "pdftoppm")
			}
			render() // starts the PDFium pool, as a running server has it
			benchpair.Run(b, benchpair.Side{Name: "pdftoppm", Run: poppler, Ops: pages}, benchpair.Side{Name: "engine", Run: render, Ops: pages})
		})
	}
}
