package localserver

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// The figures of issue 9's "What it must show" are peak-RSS and
// wall-clock measurements of a server in a process of its own. They run
// only with LOCALSERVER_MEASURE=1 (CI machines are too noisy for them to
// gate anything); the findings' ordinary tests check the same behaviour
// without timing it:
//
//	LOCALSERVER_MEASURE=1 go test ./localserver -run Measure -v

func measuring(t *testing.T) {
	if os.Getenv("LOCALSERVER_MEASURE") == "" {
		t.Skip("set LOCALSERVER_MEASURE=1 to measure")
	}
}

const mib = 1 << 20

// TestMeasureFinding5UploadFieldsRSS: 300 MB of form fields streamed to
// the upload target, without a valid signature and to a valid form,
// raise the server's peak RSS by less than 64 MB.
func TestMeasureFinding5UploadFieldsRSS(t *testing.T) {
	measuring(t)
	c := startChild(t, t.TempDir())
	status, body := callURL(t, "POST", c.URL+"/v2/import/upload", strings.NewReader("{}"))
	if status != 201 {
		t.Fatalf("%d %s", status, body)
	}
	var up struct{ Data Task }
	json.Unmarshal(body, &up)
	base, _ := c.rss(t)
	for _, url := range []string{c.URL + "/uploads/x", up.Data.Result.Form.URL} {
		pr, pw := io.Pipe()
		mw := multipart.NewWriter(pw)
		go func() {
			chunk := strings.Repeat("f", 60<<10)
			for i := 0; i < 300*mib/len(chunk); i++ {
				if err := mw.WriteField(fmt.Sprint("field", i), chunk); err != nil {
					pw.CloseWithError(err)
					return
				}
			}
			mw.Close()
			pw.Close()
		}()
		start := time.Now()
		resp, err := http.Post(url, mw.FormDataContentType(), pr)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		pr.CloseWithError(io.ErrClosedPipe)
		peak, _ := c.rss(t)
		t.Logf("%s: %d %.60s in %v; peak RSS %d MiB (baseline %d MiB, +%d MiB)", url[len(c.URL):min(len(url), len(c.URL)+60)], resp.StatusCode, b,
			time.Since(start).Round(time.Millisecond), peak/mib, base/mib, (peak-base)/mib)
		if resp.StatusCode < 400 || peak-base >= 64*mib {
			t.Errorf("status %d, peak RSS +%d MiB", resp.StatusCode, (peak-base)/mib)
		}
	}
}

// TestMeasureFinding6Base64JobRSS: a 100 MB import/base64 job costs the
// server at most 3x its size in peak RSS, and GET /v2/jobs/{id} of it
// answers under 1 MB.
func TestMeasureFinding6Base64JobRSS(t *testing.T) {
	measuring(t)
	c := startChild(t, t.TempDir())
	callURL(t, "GET", c.URL+"/v2/users/me", nil)
	base, _ := c.rss(t)
	const size = 100 * 1000 * 1000
	sum := md5.New()
	pr, pw := io.Pipe()
	go func() {
		io.WriteString(pw, `{"tag":"big","tasks":{"in":{"operation":"import/base64","filename":"big.bin","file":"`)
		enc := base64.NewEncoder(base64.StdEncoding, pw)
		rng := rand.New(rand.NewPCG(1, 2))
		buf := make([]byte, 1<<16)
		for n := 0; n < size; n += len(buf) {
			b := buf[:min(len(buf), size-n)]
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			sum.Write(b)
			enc.Write(b)
		}
		enc.Close()
		io.WriteString(pw, `"},"out":{"operation":"export/url","input":"in"}}}`)
		pw.Close()
	}()
	start := time.Now()
	status, body := callURL(t, "POST", c.URL+"/v2/jobs", pr)
	if status != 201 {
		t.Fatalf("%d %.300s", status, body)
	}
	created := time.Since(start)
	var job struct{ Data Job }
	json.Unmarshal(body, &job)
	status, body = callURL(t, "GET", c.URL+"/sync/v2/jobs/"+job.Data.ID, nil)
	json.Unmarshal(body, &job)
	if status != 200 || job.Data.Status != StatusFinished {
		t.Fatalf("%d %.500s", status, body)
	}
	peak, now := c.rss(t)
	_, getJob := callURL(t, "GET", c.URL+"/v2/jobs/"+job.Data.ID, nil)
	_, list := callURL(t, "GET", c.URL+"/v2/jobs?include=tasks", nil)
	var url string
	for _, tk := range job.Data.Tasks {
		if tk.Operation == "export/url" {
			url = tk.Result.Files[0].URL
		}
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	got := md5.New()
	n, _ := io.Copy(got, resp.Body)
	resp.Body.Close()
	t.Logf("body %d MiB sent and spooled in %v; peak RSS %d MiB (baseline %d, +%d MiB = %.2fx the file), now %d MiB; GET job %d bytes, list with tasks %d bytes; result %d bytes",
		size*4/3/mib, created.Round(time.Millisecond), peak/mib, base/mib, (peak-base)/mib, float64(peak-base)/size, now/mib, len(getJob), len(list), n)
	if peak-base > 3*size || len(getJob) >= mib || len(list) >= mib || hex.EncodeToString(got.Sum(nil)) != hex.EncodeToString(sum.Sum(nil)) {
		t.Errorf("over budget or wrong result")
	}
}

// TestMeasureFinding9Times: with a 5 s task limit a 3,000-page PDF -> PNG
// task fails saying it ran out of time (within 15 s); with the default
// workers, while two such jobs run, a small PNG -> JPG job finishes
// (within 10 s).
func TestMeasureFinding9Times(t *testing.T) {
	measuring(t)
	c := startChild(t, t.TempDir(), "LOCALSERVER_CHILD_TASK_TIMEOUT=5s")
	pdf := base64.StdEncoding.EncodeToString(SamplePDF(3000, "long"))
	bigJob := jsonStr(map[string]any{"tasks": map[string]any{
		"in":  map[string]any{"operation": "import/base64", "file": pdf, "filename": "long.pdf"},
		"png": map[string]any{"operation": "convert", "input": "in", "output_format": "png"},
	}})
	var ids []string
	start := time.Now()
	for range 2 {
		_, body := callURL(t, "POST", c.URL+"/v2/jobs", strings.NewReader(bigJob))
		var j struct{ Data Job }
		json.Unmarshal(body, &j)
		ids = append(ids, j.Data.ID)
	}
	time.Sleep(time.Second) // the renders are under way
	small := time.Now()
	_, body := callURL(t, "POST", c.URL+"/v2/jobs", strings.NewReader(jsonStr(imageJob(testPNG(64, 64), "small"))))
	var j struct{ Data Job }
	json.Unmarshal(body, &j)
	_, body = callURL(t, "GET", c.URL+"/sync/v2/jobs/"+j.Data.ID, nil)
	json.Unmarshal(body, &j)
	t.Logf("small PNG -> JPG job while two 3000-page renders run: %s in %v", j.Data.Status, time.Since(small).Round(time.Millisecond))
	if j.Data.Status != StatusFinished || time.Since(small) > 10*time.Second {
		t.Errorf("small job: %s after %v", j.Data.Status, time.Since(small))
	}
	for _, id := range ids {
		_, body := callURL(t, "GET", c.URL+"/sync/v2/jobs/"+id, nil)
		var j struct{ Data Job }
		json.Unmarshal(body, &j)
		for _, tk := range j.Data.Tasks {
			if tk.Operation == "convert" {
				t.Logf("3000-page job %s after %v: %s %s", id[:8], time.Since(start).Round(time.Millisecond), deref(tk.Code), deref(tk.Message))
				if tk.Code == nil || *tk.Code != CodeTimeout || time.Since(start) > 15*time.Second {
					t.Errorf("big job: %v", deref(tk.Message))
				}
			}
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// BenchmarkFinding6ReadBody: reading a job with 8 MiB of base64 costs a
// few buffers, not the body (B/op stays far below the 11 MB read).
func BenchmarkFinding6ReadBody(b *testing.B) {
	s := &Server{cfg: Config{DataDir: b.TempDir()}, log: testLogger()}
	content := base64.StdEncoding.EncodeToString(make([]byte, 8<<20))
	body := `{"tasks":{"in":{"operation":"import/base64","filename":"a.bin","file":"` + content + `"},"out":{"operation":"export/url","input":"in"}}}`
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		_, spills, err := s.readJSONBody(strings.NewReader(body), spillPaths("jobs"), "T")
		if err != nil || len(spills) != 1 {
			b.Fatal(err)
		}
		s.removeSpool(spills["in"].taskID)
	}
}
