package sdk

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cctoolkit/cloudconvert/internal/faultproxy"
	"github.com/cctoolkit/cloudconvert/sdk/catalogue"
)

// TestConvertFilesChecksCatalogue: with WithCatalogue, ConvertFiles checks
// its tasks against the server's catalogue first: a pair the server does
// not convert and a misspelt option fail with a *catalogue.Error and no
// job (the recorder in front of the server sees the catalogue asked for
// once, and nothing else); a good conversion runs.
func TestConvertFilesChecksCatalogue(t *testing.T) {
	s := startLocal(t)
	proxy := faultproxy.New(t, s.APIURL())
	c, err := New(testKey, WithBaseURL(proxy.URL+"/v2"), WithSyncURL(proxy.URL+"/sync/v2"), WithRetryPolicy(fastRetry()),
		WithCatalogue(&catalogue.Source{CacheDir: t.TempDir()}))
	if err != nil {
		t.Fatal(err)
	}
	dir := writeImages(t)
	a := filepath.Join(dir, "a.png")
	ctx := context.Background()
	for _, tc := range []struct {
		req   ConvertRequest
		field string
		msg   string
	}{
		{ConvertRequest{Files: []string{a}, To: "mp4"}, "output_format", "convert a.png: convert from png to mp4 is not supported; convert from png makes: bmp, gif, jpg, pdf, png, tiff, webp"},
		{ConvertRequest{Files: []string{a}, To: "jpg", Options: map[string]any{"qualty": 80}}, "qualty", `convert a.png: "qualty" is not an option of convert from png to jpg (did you mean "quality"?)`},
	} {
		res, err := ConvertFiles(ctx, c, tc.req)
		var ce *catalogue.Error
		if res != nil || !errors.As(err, &ce) || ce.Field != tc.field || !strings.HasPrefix(err.Error(), tc.msg) {
			t.Errorf("%+v: %v (result %v)", tc.req, err, res)
		}
	}
	for _, r := range proxy.Seen() {
		if r.Path != "/v2/operations" {
			t.Errorf("sent %s %s before the check refused", r.Method, r.Path)
		}
	}
	if n := proxy.Count("GET", "/v2/operations"); n != 1 {
		t.Errorf("the catalogue was fetched %d times", n)
	}
	res, err := ConvertFiles(ctx, c, ConvertRequest{Files: []string{a}, To: "jpg", Options: map[string]any{"quality": 80}, OutDir: t.TempDir()})
	if err != nil || len(res.Files) != 1 {
		t.Fatalf("a good conversion: %v", err)
	}
}
