package sdk

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cctoolkit/cloudconvert/localserver"
)

// The tests run against the local CloudConvert server (localserver),
// started in-process: real jobs, real conversions, the sync endpoint.
// Faults are put between client and server by internal/faultproxy.

const testKey = "test-key-SECRET-0123456789"

// fastRetry keeps the tests quick: short backoff, generous bounds.
func fastRetry() RetryPolicy {
	return RetryPolicy{MaxAttempts: 4, MaxElapsed: time.Minute, AttemptTimeout: 20 * time.Second, InitialInterval: 10 * time.Millisecond, MaxInterval: 50 * time.Millisecond, MaxRetryAfter: 3 * time.Second}
}

// startLocal starts the local server with its data in a temporary
// directory.
func startLocal(t testing.TB) *localserver.Server {
	t.Helper()
	s, err := localserver.Start(context.Background(), localserver.Config{DataDir: t.TempDir(), APIKey: testKey, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newLocal starts a local server and a client of it (sync endpoint on).
func newLocal(t testing.TB) (*localserver.Server, *Client) {
	t.Helper()
	s := startLocal(t)
	c, err := New(testKey, WithBaseURL(s.APIURL()), WithSyncURL(s.SyncURL()), WithRetryPolicy(fastRetry()))
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

// countJobs counts the jobs on the server, through list_jobs.
func countJobs(t testing.TB, c *Client) int {
	t.Helper()
	n := 0
	for _, err := range c.Jobs(context.Background(), nil) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

// writeImages writes a.png, b.jpg and broken.png (not an image) into a new
// directory.
func writeImages(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for y := range 48 {
		for x := range 64 {
			img.Set(x, y, color.RGBA{uint8(x * 4), uint8(y * 5), 128, 255})
		}
	}
	var pb, jb bytes.Buffer
	if err := png.Encode(&pb, img); err != nil {
		t.Fatal(err)
	}
	if err := jpeg.Encode(&jb, img, nil); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"a.png": pb.Bytes(), "b.jpg": jb.Bytes(), "broken.png": []byte("these bytes are not a PNG")} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// fixture reads a recorded answer of the real API from the shared
// fixtures of the official SDKs.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "shared", "fixtures", "cloudconvert-sdk", name))
	if err != nil {
		t.Skip("the shared fixtures are not present (../shared next to the repository):", err)
	}
	return b
}
