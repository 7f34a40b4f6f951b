package localserver

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"slices"
	"strings"
	"testing"
)

func solidPNG(w, h int, c color.NRGBA) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

func b64(data []byte) string { return base64.StdEncoding.EncodeToString(data) }

// TestWatermarkImageTask: a watermark whose image is another task of the
// job (by name), or a URL; the image task runs first and is not itself
// watermarked.
func TestWatermarkImageTask(t *testing.T) {
	e := newEnv(t)
	logoURL := e.serve("logo.png", solidPNG(10, 10, color.NRGBA{B: 255, A: 255}))
	for _, image := range []string{"logo", logoURL} {
		t.Run(strings.SplitN(image, ":", 2)[0], func(t *testing.T) {
			status, body, _ := e.do("POST", "/v2/jobs", map[string]any{"tasks": map[string]any{
				"photo": map[string]any{"operation": "import/base64", "file": b64(solidPNG(100, 80, color.NRGBA{R: 255, G: 255, B: 255, A: 255})), "filename": "photo.png"},
				"logo":  map[string]any{"operation": "import/base64", "file": b64(solidPNG(10, 10, color.NRGBA{B: 255, A: 255})), "filename": "logo.png"},
				"mark": map[string]any{"operation": "watermark", "input": "photo", "image": image, "image_width": 20,
					"position_vertical": "top", "position_horizontal": "left", "margin_vertical": 0, "margin_horizontal": 0},
				"out": map[string]any{"operation": "export/url", "input": "mark"}}})
			if status != 201 {
				t.Fatalf("create: %d %s", status, jsonStr(body))
			}
			job := e.waitJob(body["data"].(map[string]any)["id"].(string))
			mark := taskByName(job, "mark")
			if job["status"] != "finished" {
				t.Fatalf("job %s", jsonStr(job))
			}
			if deps := mark["depends_on_task_ids"].([]any); image == "logo" && len(deps) != 2 {
				t.Fatalf("the watermark depends on %v, want the photo and the logo", deps)
			}
			files := taskByName(job, "out")["result"].(map[string]any)["files"].([]any)
			if len(files) != 1 || files[0].(map[string]any)["filename"] != "photo.png" {
				t.Fatalf("files %s", jsonStr(files))
			}
			img, err := png.Decode(bytes.NewReader(download(t, files[0].(map[string]any)["url"].(string))))
			if err != nil {
				t.Fatal(err)
			}
			if c := color.NRGBAModel.Convert(img.At(5, 5)).(color.NRGBA); c.B != 255 || c.R != 0 {
				t.Fatalf("top-left pixel %v, want the blue logo", c)
			}
			if c := color.NRGBAModel.Convert(img.At(50, 50)).(color.NRGBA); c.R != 255 {
				t.Fatalf("centre pixel %v, want the white photo", c)
			}
		})
	}
	status, body, _ := e.do("POST", "/v2/jobs", map[string]any{"tasks": map[string]any{
		"photo": map[string]any{"operation": "import/base64", "file": b64(testPNG(4, 4)), "filename": "p.png"},
		"mark":  map[string]any{"operation": "watermark", "input": "photo", "image": "nosuchtask"}}})
	if status != 422 || !strings.Contains(jsonStr(body), `The image task \"nosuchtask\" does not exist`) {
		t.Fatalf("unknown image task: %d %s", status, jsonStr(body))
	}
}

// TestExtractTask: archive/extract through the API: one result file per
// entry, each with its folder in dir; a zip-slip archive fails the task.
func TestExtractTask(t *testing.T) {
	e := newEnv(t)
	mk := func(names ...string) string {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for _, n := range names {
			w, _ := zw.Create(n)
			fmt.Fprintf(w, "content of %s", n)
		}
		zw.Close()
		return b64(buf.Bytes())
	}
	run := func(archive string) map[string]any {
		status, body, _ := e.do("POST", "/v2/jobs", map[string]any{"tasks": map[string]any{
			"in":  map[string]any{"operation": "import/base64", "file": archive, "filename": "bundle.zip"},
			"x":   map[string]any{"operation": "archive/extract", "input": "in"},
			"out": map[string]any{"operation": "export/url", "input": "x"}}})
		if status != 201 {
			t.Fatalf("create: %d %s", status, jsonStr(body))
		}
		return e.waitJob(body["data"].(map[string]any)["id"].(string))
	}
	job := run(mk("a.txt", "docs/b.txt", "docs/deep/c.txt"))
	if job["status"] != "finished" {
		t.Fatalf("job %s", jsonStr(job))
	}
	var got []string
	for _, f := range taskByName(job, "out")["result"].(map[string]any)["files"].([]any) {
		fm := f.(map[string]any)
		dir, _ := fm["dir"].(string)
		got = append(got, dir+"|"+fm["filename"].(string)+"|"+string(download(t, fm["url"].(string))))
	}
	slices.Sort(got)
	want := []string{"docs/deep|c.txt|content of docs/deep/c.txt", "docs|b.txt|content of docs/b.txt", "|a.txt|content of a.txt"}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("extracted %q, want %q", got, want)
	}
	job = run(mk("ok.txt", "../../../etc/cron.d/evil"))
	x := taskByName(job, "x")
	if x["status"] != "error" || x["code"] != "INVALID_FILE" || !strings.Contains(fmt.Sprint(x["message"]), "zip-slip") {
		t.Fatalf("zip-slip task %s", jsonStr(x))
	}
}

// TestOperationErrors: a real-service-only operation says so; a misspelt
// option fails the task naming the right one.
func TestOperationErrors(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		task map[string]any
		code string
		msg  string
	}{
		{map[string]any{"operation": "pdf/ocr", "input": "in"}, CodeOperationNotSupported, "runs on the real CloudConvert service only"},
		{map[string]any{"operation": "convert", "input": "in", "output_format": "jpg", "qualty": 80}, "INVALID_OPTIONS", `did you mean "quality"`},
		{map[string]any{"operation": "convert", "input": "in", "output_format": "mp4"}, "UNSUPPORTED_CONVERSION", "convert makes: bmp, gif, jpg, pdf, png, tiff, webp"},
	}
	for _, c := range cases {
		status, body, _ := e.do("POST", "/v2/jobs", map[string]any{"tasks": map[string]any{
			"in": map[string]any{"operation": "import/base64", "file": b64(testPNG(4, 4)), "filename": "a.png"}, "t": c.task}})
		if status != 201 {
			t.Fatalf("create: %d %s", status, jsonStr(body))
		}
		task := taskByName(e.waitJob(body["data"].(map[string]any)["id"].(string)), "t")
		if task["code"] != c.code || !strings.Contains(fmt.Sprint(task["message"]), c.msg) {
			t.Errorf("%v: %s", c.task, jsonStr(task))
		}
	}
}
