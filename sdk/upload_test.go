package sdk

import (
	"context"
	"io"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cctoolkit/cloudconvert/integration/files"
)

// genReader is a deterministic, allocation-free source of bytes.
type genReader struct{ r *rand.ChaCha8 }

func (g genReader) Read(p []byte) (int, error) { return g.r.Read(p) }

// TestUploadStreams1GiB uploads 1 GiB generated on the fly to a target that
// discards it, and checks the client's heap stays flat: nothing is
// buffered. (256 MiB under -short.)
func TestUploadStreams1GiB(t *testing.T) {
	size := int64(1 << 30)
	if testing.Short() || raceEnabled {
		size = 256 << 20
	}
	var got atomic.Int64
	var fields []string
	var contentLength int64
	var auth string
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		contentLength, auth = r.ContentLength, r.Header.Get("Authorization")
		mr, err := r.MultipartReader()
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		buf := make([]byte, 64<<10)
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			fields = append(fields, p.FormName())
			n, _ := io.CopyBuffer(io.Discard, p, buf)
			if p.FormName() == "file" {
				got.Store(n)
			}
		}
		w.WriteHeader(201)
	}))
	defer target.Close()
	c, err := New(testKey, WithBaseURL("http://127.0.0.1:1/v2"))
	if err != nil {
		t.Fatal(err)
	}
	form := &UploadForm{URL: target.URL + "/bucket", Fields: []FormField{{"key", "k/${filename}"}, {"acl", "private"}, {"signature", "abc"}}}

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				if m.HeapInuse > peak.Load() {
					peak.Store(m.HeapInuse)
				}
			}
		}
	}()
	var calls int
	start := time.Now()
	err = c.UploadToForm(context.Background(), form, "big.bin", io.LimitReader(genReader{rand.NewChaCha8([32]byte{1})}, size), size, func(done, total int64) { calls++ })
	elapsed := time.Since(start)
	close(stop)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&ms)
	growth := int64(peak.Load()) - int64(base)
	t.Logf("uploaded %d MiB in %s (%.0f MiB/s); HeapInuse before %.1f MiB, peak %.1f MiB (growth %.1f MiB), after %.1f MiB; %d progress calls",
		size>>20, elapsed.Round(time.Millisecond), float64(size>>20)/elapsed.Seconds(), mib(base), mib(peak.Load()), float64(growth)/(1<<20), mib(ms.HeapInuse), calls)
	if got.Load() != size {
		t.Errorf("target got %d bytes, want %d", got.Load(), size)
	}
	if want := strings.Join([]string{"key", "acl", "signature", "file"}, ","); strings.Join(fields, ",") != want {
		t.Errorf("fields %v, want %s", fields, want)
	}
	if contentLength <= size || auth != "" {
		t.Errorf("Content-Length %d, Authorization %q", contentLength, auth)
	}
	if growth > 64<<20 {
		t.Errorf("heap grew by %d MiB during the upload", growth>>20)
	}
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

func TestMultipartFrame(t *testing.T) {
	head, tail, ct, err := files.Frame([]files.Field{{Name: "a", Value: "1"}, {Name: "b", Value: "x y"}}, "file", `we"ird.pdf`)
	if err != nil {
		t.Fatal(err)
	}
	body := string(head) + "FILE" + string(tail)
	_, params, _ := mimeParse(ct)
	mr := multipart.NewReader(strings.NewReader(body), params["boundary"])
	var names []string
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		b, _ := io.ReadAll(p)
		names = append(names, p.FormName()+"="+string(b))
		if p.FormName() == "file" && p.FileName() != `we"ird.pdf` {
			t.Errorf("filename %q", p.FileName())
		}
	}
	if strings.Join(names, "&") != "a=1&b=x y&file=FILE" {
		t.Errorf("parts %v", names)
	}
}

var mimeParse = mime.ParseMediaType

// TestRedactQuery: the query of a pre-signed URL is taken out of an error
// message, and the cause written after the URL is kept.
func TestRedactQuery(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`Post "http://h/u?sig=abc": EOF`, `Post "http://h/u?…": EOF`},
		{`Get "https://h/a?x=1&sig=s" then "https://h/b?sig=t": connection refused`, `Get "https://h/a?…" then "https://h/b?…": connection refused`},
		{`no query here`, `no query here`},
		{`http://h/u?sig=abc`, `http://h/u?…`},
		{`http://h/u?sig=abc tail`, `http://h/u?… tail`},
	} {
		if got := redactQuery(tc.in); got != tc.want {
			t.Errorf("redactQuery(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestUploadErrorNamesCause: an upload whose connection fails says why,
// without the form URL's query (its signature).
func TestUploadErrorNamesCause(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: the connection is refused
	c, err := New(testKey, WithBaseURL("http://"+addr+"/v2"), WithRetryPolicy(fastRetry()))
	if err != nil {
		t.Fatal(err)
	}
	form := &UploadForm{URL: "http://" + addr + "/upload?signature=s3cr3t", Fields: []FormField{{"key", "k"}}}
	err = c.UploadToForm(context.Background(), form, "a.txt", strings.NewReader("hi"), 2, nil)
	if err == nil {
		t.Fatal("an upload to a closed port succeeded")
	}
	if msg := err.Error(); strings.Contains(msg, "s3cr3t") || !strings.Contains(msg, "refused") {
		t.Errorf("upload error %q: want the cause (connection refused) and no signature", msg)
	}
}
