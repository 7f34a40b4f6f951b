package localserver

import (
	"bytes"
	"image/png"
	"testing"
)

func TestPDFToPNGJob(t *testing.T) {
	e := newEnv(t)
	pdfURL := e.serve("document.pdf", SamplePDF(1, "hello"))
	code, body, hdr := e.do("POST", "/v2/jobs", map[string]any{"tasks": map[string]any{
		"import":  map[string]any{"operation": "import/url", "url": pdfURL, "filename": "document.pdf"},
		"convert": map[string]any{"operation": "convert", "input": "import", "output_format": "png"},
		"export":  map[string]any{"operation": "export/url", "input": "convert"},
	}})
	if code != 201 {
		t.Fatalf("create: %d %v", code, body)
	}
	if hdr.Get("X-Ratelimit-Limit") != "500" {
		t.Errorf("rate limit header: %q", hdr.Get("X-Ratelimit-Limit"))
	}
	id := body["data"].(map[string]any)["id"].(string)
	job := e.waitJob(id)
	if job["status"] != "finished" {
		t.Fatalf("job: %s", jsonStr(job))
	}
	exp := taskByName(job, "export")
	files := exp["result"].(map[string]any)["files"].([]any)
	f := files[0].(map[string]any)
	data := download(t, f["url"].(string))
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	t.Logf("%s: %v", f["filename"], img.Bounds())
}
