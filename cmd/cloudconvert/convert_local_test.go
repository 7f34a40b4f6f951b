package main

import (
	"context"
	"log/slog"
	"testing"

	"github.com/cctoolkit/cloudconvert/localserver"
)

func init() { backends["localserver"] = newLocalBackend }

// newLocalBackend starts the embedded local server in-process: real
// conversions (PDFium for PDF pages, pure Go for images, pdfcpu for PDFs).
func newLocalBackend(t *testing.T) *backend {
	s, err := localserver.Start(context.Background(), localserver.Config{
		DataDir: t.TempDir(),
		APIKey:  key,
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	b := &backend{name: "localserver", real: true, env: map[string]string{
		"CLOUDCONVERT_API_KEY": key, "CLOUDCONVERT_BASE_URL": s.APIURL(), "CLOUDCONVERT_SYNC_URL": s.SyncURL(),
	}}
	b.failingJob = func(t *testing.T) string {
		// Text cannot become a PNG without LibreOffice.
		return makeFailedJob(t, b, "png", "notes.txt", []byte("not an image\n"))
	}
	return b
}
