package engine

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestConvertImages(t *testing.T) {
	dir := t.TempDir()
	webp := File{Name: "sample.webp", Path: filepath.Join("testdata", "sample.webp")}
	tests := []struct {
		in           File
		out          string
		opts         map[string]any
		wantW, wantH int // 0: same as input
	}{
		{in: writeImage(t, dir, "a.png", 64, 48), out: "jpg"},
		{in: writeImage(t, dir, "b.png", 64, 48), out: "jpeg"},
		{in: writeImage(t, dir, "c.png", 64, 48), out: "gif"},
		{in: writeImage(t, dir, "d.png", 64, 48), out: "bmp"},
		{in: writeImage(t, dir, "e.png", 64, 48), out: "tiff"},
		{in: writeImage(t, dir, "f.jpg", 64, 48), out: "png"},
		{in: writeImage(t, dir, "g.gif", 64, 48), out: "png"},
		{in: writeImage(t, dir, "h.bmp", 64, 48), out: "jpg"},
		{in: writeImage(t, dir, "i.tiff", 64, 48), out: "png"},
		{in: webp, out: "png"},
		{in: webp, out: "jpg"},
		{in: writeImage(t, dir, "w.png", 200, 100), out: "png", opts: map[string]any{"width": 100.0}, wantW: 100, wantH: 50},
		{in: writeImage(t, dir, "x.png", 200, 100), out: "jpg", opts: map[string]any{"width": 50, "height": 50, "fit": "crop", "quality": 50}, wantW: 50, wantH: 50},
		{in: writeImage(t, dir, "y.png", 200, 100), out: "png", opts: map[string]any{"width": "40", "height": 40, "fit": "scale"}, wantW: 40, wantH: 40},
		{in: writeImage(t, dir, "z.png", 20, 10), out: "png", opts: map[string]any{"width": 40, "height": 40, "fit": "max"}, wantW: 20, wantH: 10},
		{in: writeImage(t, dir, "u.png", 20, 10), out: "png", opts: map[string]any{"width": 40, "height": 40, "fit": "upscale"}, wantW: 40, wantH: 20},
		{in: writeImage(t, dir, "n.png", 20, 10), out: "png", opts: map[string]any{"filename": "../../renamed.png"}},
	}
	for _, tc := range tests {
		t.Run(tc.in.Name+"->"+tc.out, func(t *testing.T) {
			res := mustRun(t, Request{Operation: "convert", Inputs: []File{tc.in}, OutputFormat: tc.out, Options: tc.opts})
			if res.Engine != "goimage" || res.EngineVersion == "" || len(res.Files) != 1 {
				t.Fatalf("result %+v", res)
			}
			f := res.Files[0]
			img, format := decodeFile(t, f.Path)
			if want := normFormat(tc.out); format != want || !strings.HasSuffix(f.Name, "."+want) {
				t.Fatalf("got %s named %s, want %s", format, f.Name, want)
			}
			if tc.opts["filename"] != nil && f.Name != "renamed.png" {
				t.Fatalf("filename option: got %q", f.Name)
			}
			if filepath.Dir(f.Path) == "" || f.Size <= 0 {
				t.Fatalf("bad file %+v", f)
			}
			in, _ := decodeFile(t, tc.in.Path)
			wantW, wantH := in.Bounds().Dx(), in.Bounds().Dy()
			if tc.wantW != 0 {
				wantW, wantH = tc.wantW, tc.wantH
			}
			if b := img.Bounds(); b.Dx() != wantW || b.Dy() != wantH {
				t.Fatalf("size %dx%d, want %dx%d", b.Dx(), b.Dy(), wantW, wantH)
			}
		})
	}
}

func TestImageToPDF(t *testing.T) {
	dir := t.TempDir()
	for _, in := range []File{
		writeImage(t, dir, "photo.jpg", 300, 200),
		writeImage(t, dir, "pic.png", 300, 200),
		writeImage(t, dir, "pic.gif", 300, 200),
		{Name: "sample.webp", Path: filepath.Join("testdata", "sample.webp")},
	} {
		t.Run(in.Name, func(t *testing.T) {
			res := mustRun(t, Request{Operation: "convert", Inputs: []File{in}, OutputFormat: "pdf"})
			if res.Engine != "pdfcpu" || len(res.Files) != 1 {
				t.Fatalf("result %+v", res)
			}
			if n := pageCount(t, res.Files[0].Path); n != 1 {
				t.Fatalf("pages = %d", n)
			}
			md := mustRun(t, Request{Operation: "metadata", Inputs: res.Files}).Metadata
			img, _ := decodeFile(t, in.Path)
			if md["PageWidth"] != float64(img.Bounds().Dx()) || md["PageHeight"] != float64(img.Bounds().Dy()) {
				t.Fatalf("page size %v x %v, want the image's %v", md["PageWidth"], md["PageHeight"], img.Bounds())
			}
		})
	}
}

func TestPDFToImages(t *testing.T) {
	dir := t.TempDir()
	pdf := writePDF(t, dir, "doc.pdf", 3, 144, 72, nil) // 2 x 1 inch pages
	tests := []struct {
		name      string
		out       string
		opts      map[string]any
		wantNames []string
		wantW     int
	}{
		{"all pages png", "png", nil, []string{"doc-1.png", "doc-2.png", "doc-3.png"}, 300},
		{"single page", "png", map[string]any{"pages": "2"}, []string{"doc.png"}, 301},
		{"range jpg", "jpg", map[string]any{"pages": "2-3", "pixel_density": 72}, []string{"doc-2.jpg", "doc-3.jpg"}, 145},
		{"width", "png", map[string]any{"pages": "1", "width": 100}, []string{"doc.png"}, 100},
		{"filename", "png", map[string]any{"pages": "1,3", "filename": "out.png"}, []string{"out-1.png", "out-3.png"}, 300},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var percents []int
			var mu sync.Mutex
			res, err := registry(t).Run(context.Background(), Request{
				Operation: "convert", Inputs: []File{pdf}, InputFormat: "pdf", OutputFormat: tc.out, Options: tc.opts, OutDir: t.TempDir(),
			}, func(p int) { mu.Lock(); percents = append(percents, p); mu.Unlock() })
			if err != nil {
				t.Fatal(err)
			}
			if res.Engine != "pdfium" || !strings.Contains(res.EngineVersion, "go-pdfium") {
				t.Fatalf("engine %q %q", res.Engine, res.EngineVersion)
			}
			var names []string
			for i, f := range res.Files {
				names = append(names, f.Name)
				img, format := decodeFile(t, f.Path)
				if format != normFormat(tc.out) {
					t.Fatalf("%s is %s", f.Name, format)
				}
				w := img.Bounds().Dx()
				// page n is (143+n) points wide: 300 px at the default 150 dpi, up to 305 for page 3.
				if tc.wantW != 0 && (w < tc.wantW-2 || w > tc.wantW+6) {
					t.Fatalf("%s (file %d) is %d px wide, want about %d", f.Name, i, w, tc.wantW)
				}
				if !hasInk(img) {
					t.Fatalf("%s rendered blank", f.Name)
				}
			}
			if fmt.Sprint(names) != fmt.Sprint(tc.wantNames) {
				t.Fatalf("names %v, want %v", names, tc.wantNames)
			}
			if len(percents) < 2 || percents[0] != 0 || percents[len(percents)-1] != 100 {
				t.Fatalf("progress %v", percents)
			}
		})
	}
	t.Run("bad pages", func(t *testing.T) {
		_, err := run(t, Request{Operation: "convert", Inputs: []File{pdf}, OutputFormat: "png", Options: map[string]any{"pages": "4"}})
		wantCode(t, err, CodeInvalidOptions)
	})
	t.Logf("PDFium pool started in %s", registry(t).PDFiumInitTime())
}

// hasInk reports whether a render is more than a blank page.
func hasInk(img image.Image) bool {
	b := img.Bounds()
	r0, g0, b0, _ := img.At(b.Min.X+b.Dx()/2, b.Min.Y+b.Dy()/2).RGBA()
	return !(r0 == 0xffff && g0 == 0xffff && b0 == 0xffff)
}

func TestMerge(t *testing.T) {
	dir := t.TempDir()
	a := writePDF(t, dir, "a.pdf", 2, 100, 100, nil)
	b := writePDF(t, dir, "b.pdf", 3, 100, 100, nil)
	png := writeImage(t, dir, "c.png", 50, 50)
	jpg := writeImage(t, dir, "d.jpg", 50, 50)
	tests := []struct {
		name   string
		inputs []File
		pages  int
	}{
		{"pdfs", []File{a, b}, 5},
		{"pdfs and images", []File{a, png, b, jpg}, 7},
		{"images only", []File{png, jpg}, 2},
		{"single pdf", []File{b}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := mustRun(t, Request{Operation: "merge", Inputs: tc.inputs, OutputFormat: "pdf"})
			if len(res.Files) != 1 || res.Engine != "pdfcpu" {
				t.Fatalf("result %+v", res)
			}
			if n := pageCount(t, res.Files[0].Path); n != tc.pages {
				t.Fatalf("pages = %d, want %d", n, tc.pages)
			}
		})
	}
	t.Run("docx input", func(t *testing.T) {
		_, err := run(t, Request{Operation: "merge", Inputs: []File{a, writeRaw(t, dir, "x.docx", []byte("PK"))}, OutputFormat: "pdf"})
		wantCode(t, err, CodeUnsupportedConversion)
	})
}

func TestOptimize(t *testing.T) {
	dir := t.TempDir()
	bigJPG := writeRaw(t, dir, "photo.jpg", func() []byte {
		var buf bytes.Buffer
		if err := encodeImage(&buf, testImage(400, 300), "jpg", encoding{quality: 100}); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}())
	tests := []struct {
		in     File
		engine string
	}{
		{writeImage(t, dir, "pic.png", 300, 200), "goimage"},
		{bigJPG, "goimage"},
		{writePDF(t, dir, "doc.pdf", 2, 100, 100, nil), "pdfcpu"},
	}
	for _, tc := range tests {
		t.Run(tc.in.Name, func(t *testing.T) {
			res := mustRun(t, Request{Operation: "optimize", Inputs: []File{tc.in}})
			if res.Engine != tc.engine || len(res.Files) != 1 {
				t.Fatalf("result %+v", res)
			}
			out := res.Files[0]
			if out.Size > tc.in.Size {
				t.Fatalf("optimized %d > original %d", out.Size, tc.in.Size)
			}
			if out.Name != tc.in.Name {
				t.Fatalf("name %q", out.Name)
			}
			if strings.HasSuffix(out.Name, ".pdf") {
				if pageCount(t, out.Path) != 2 {
					t.Fatal("pages lost")
				}
			} else {
				decodeFile(t, out.Path)
			}
		})
	}
	if out := mustRun(t, Request{Operation: "optimize", Inputs: []File{bigJPG}}).Files[0]; out.Size >= bigJPG.Size {
		t.Fatalf("quality-100 JPEG not reduced: %d -> %d", bigJPG.Size, out.Size)
	}
	_, err := run(t, Request{Operation: "optimize", Inputs: []File{writeImage(t, dir, "x.gif", 10, 10)}})
	wantCode(t, err, CodeUnsupportedConversion)
}

func TestThumbnail(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		in           File
		out          string
		opts         map[string]any
		wantW, wantH int
	}{
		{writeImage(t, dir, "big.png", 1000, 500), "", nil, 256, 128},
		{writeImage(t, dir, "big.jpg", 500, 1000), "jpg", nil, 128, 256},
		{writeImage(t, dir, "crop.png", 1000, 500), "png", map[string]any{"width": 100, "height": 100, "fit": "crop"}, 100, 100},
		{writeImage(t, dir, "onlyw.png", 1000, 500), "png", map[string]any{"width": 100}, 100, 50},
		{writePDF(t, dir, "doc.pdf", 2, 600, 300, nil), "png", nil, 256, 128},
		{writePDF(t, dir, "doc2.pdf", 1, 300, 600, nil), "jpg", map[string]any{"width": 64, "height": 64, "fit": "crop"}, 64, 64},
	}
	for _, tc := range tests {
		t.Run(tc.in.Name, func(t *testing.T) {
			res := mustRun(t, Request{Operation: "thumbnail", Inputs: []File{tc.in}, OutputFormat: tc.out, Options: tc.opts})
			if len(res.Files) != 1 {
				t.Fatalf("files %+v", res.Files)
			}
			img, _ := decodeFile(t, res.Files[0].Path)
			if b := img.Bounds(); b.Dx() < tc.wantW-1 || b.Dx() > tc.wantW+1 || b.Dy() < tc.wantH-1 || b.Dy() > tc.wantH+1 {
				t.Fatalf("thumbnail %dx%d, want %dx%d", b.Dx(), b.Dy(), tc.wantW, tc.wantH)
			}
		})
	}
}

func TestMetadata(t *testing.T) {
	dir := t.TempDir()
	t.Run("pdf", func(t *testing.T) {
		pdf := writePDF(t, dir, "doc.pdf", 4, 200, 100, map[string]string{"Title": "Quarterly report", "Author": "Ada"})
		res := mustRun(t, Request{Operation: "metadata", Inputs: []File{pdf}})
		md := res.Metadata
		if md["PageCount"] != 4 || md["Title"] != "Quarterly report" || md["Author"] != "Ada" || md["FileType"] != "PDF" {
			t.Fatalf("metadata %v", md)
		}
		if md["PageWidth"] != 200.0 || md["PageHeight"] != 100.0 {
			t.Fatalf("page size %v x %v", md["PageWidth"], md["PageHeight"])
		}
		if _, ok := md["Producer"]; !ok {
			t.Fatalf("no Producer in %v", md)
		}
	})
	t.Run("png", func(t *testing.T) {
		md := mustRun(t, Request{Operation: "metadata", Inputs: []File{writeImage(t, dir, "a.png", 33, 22)}}).Metadata
		if md["ImageWidth"] != 33 || md["ImageHeight"] != 22 || md["FileType"] != "PNG" || md["MIMEType"] != "image/png" {
			t.Fatalf("metadata %v", md)
		}
	})
	t.Run("jpeg exif", func(t *testing.T) {
		md := mustRun(t, Request{Operation: "metadata", Inputs: []File{jpegWithExif(t, dir, "cam.jpg")}}).Metadata
		if md["Make"] != "TestCam" || md["Orientation"] != 6 || md["DateTimeOriginal"] != "2024:05:06 07:08:09" {
			t.Fatalf("exif %v", md)
		}
		if md["ImageWidth"] != 40 || md["FileType"] != "JPEG" {
			t.Fatalf("metadata %v", md)
		}
	})
	t.Run("webp", func(t *testing.T) {
		md := mustRun(t, Request{Operation: "metadata", Inputs: []File{{Name: "s.webp", Path: "testdata/sample.webp"}}}).Metadata
		if md["FileType"] != "WEBP" || md["ImageWidth"].(int) <= 0 {
			t.Fatalf("metadata %v", md)
		}
	})
}

func TestArchive(t *testing.T) {
	dir := t.TempDir()
	inputs := []File{
		writeRaw(t, dir, "a.txt", []byte("alpha")),
		{Name: "../../etc/passwd", Path: writeRaw(t, dir, "b.txt", []byte("bravo")).Path},
		{Name: "a.txt", Path: writeRaw(t, dir, "c.txt", []byte("charlie")).Path}, // duplicate name
		{Name: `..\..\win.ini`, Path: writeRaw(t, dir, "d.txt", []byte("delta")).Path},
	}
	want := map[string]string{"a.txt": "alpha", "passwd": "bravo", "a (2).txt": "charlie", "win.ini": "delta"}
	for _, format := range []string{"zip", "tar", "tar.gz", "tgz"} {
		t.Run(format, func(t *testing.T) {
			res := mustRun(t, Request{Operation: "archive", Inputs: inputs, OutputFormat: format})
			if len(res.Files) != 1 || res.Engine != "goarchive" {
				t.Fatalf("result %+v", res)
			}
			got := readArchive(t, res.Files[0].Path, normFormat(format))
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("entries %v, want %v", got, want)
			}
		})
	}
	_, err := run(t, Request{Operation: "archive", Inputs: inputs, OutputFormat: "rar"})
	wantCode(t, err, CodeUnsupportedConversion)
}

func readArchive(t *testing.T, path, format string) map[string]string {
	t.Helper()
	got := map[string]string{}
	if format == "zip" {
		zr, err := zip.OpenReader(path)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(rc)
			rc.Close()
			got[f.Name] = string(b)
		}
		return got
	}
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var r io.Reader = fh
	if format == "tar.gz" {
		gz, err := gzip.NewReader(fh)
		if err != nil {
			t.Fatal(err)
		}
		r = gz
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		got[h.Name] = string(b)
	}
	return got
}

func TestUnsupported(t *testing.T) {
	dir := t.TempDir()
	png := writeImage(t, dir, "a.png", 10, 10)
	pdf := writePDF(t, dir, "a.pdf", 1, 10, 10, nil)
	tests := []struct {
		req      Request
		mentions string
	}{
		{Request{Operation: "convert", Inputs: []File{png}, OutputFormat: "mp4"}, "bmp, gif, jpg, pdf, png, tiff"},
		{Request{Operation: "convert", Inputs: []File{pdf}, OutputFormat: "docx"}, "convert makes: jpg, png, webp"},
		{Request{Operation: "convert", Inputs: []File{writeRaw(t, dir, "a.mp3", []byte("ID3"))}, OutputFormat: "wav"}, "mp3"},
		{Request{Operation: "thumbnail", Inputs: []File{png}, OutputFormat: "gif"}, "jpg, png"},
		{Request{Operation: "pdf/ocr", Inputs: []File{pdf}}, "real CloudConvert service only"},
		{Request{Operation: "watermrk", Inputs: []File{png}}, `did you mean "watermark"`},
	}
	for _, tc := range tests {
		t.Run(tc.req.Operation+"-"+tc.req.OutputFormat, func(t *testing.T) {
			_, err := run(t, tc.req)
			e := wantCode(t, err, CodeUnsupportedConversion)
			if !strings.Contains(e.Message, tc.mentions) {
				t.Fatalf("message %q does not mention %q", e.Message, tc.mentions)
			}
		})
	}
}

func TestCorruptInput(t *testing.T) {
	dir := t.TempDir()
	good := writePDF(t, dir, "good.pdf", 1, 50, 50, nil)
	data, _ := os.ReadFile(good.Path)
	truncated := writeRaw(t, dir, "truncated.pdf", data[:len(data)/3])
	garbagePDF := writeRaw(t, dir, "garbage.pdf", append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte{0xde, 0xad}, 500)...))
	notPDF := writeRaw(t, dir, "text.pdf", []byte("hello"))
	pngData, _ := os.ReadFile(writeImage(t, dir, "ok.png", 64, 64).Path)
	badPNG := writeRaw(t, dir, "bad.png", pngData[:len(pngData)/2])
	headerOnly := writeRaw(t, dir, "header.jpg", []byte{0xff, 0xd8, 0xff, 0xe0, 0, 16})
	hugePNG := writeRaw(t, dir, "bomb.png", func() []byte {
		// A valid IHDR announcing 100000 x 100000 pixels.
		var buf bytes.Buffer
		png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1)))
		b := buf.Bytes()
		copy(b[16:24], []byte{0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0})
		binary.BigEndian.PutUint32(b[29:33], crc32.ChecksumIEEE(b[12:29]))
		return b
	}())
	tests := []struct {
		op, out string
		in      File
	}{
		{"convert", "png", truncated},
		{"convert", "png", garbagePDF},
		{"convert", "png", notPDF},
		{"thumbnail", "png", garbagePDF},
		{"metadata", "", garbagePDF},
		{"metadata", "", notPDF},
		{"optimize", "", garbagePDF},
		{"merge", "pdf", garbagePDF},
		{"convert", "jpg", badPNG},
		{"convert", "png", headerOnly},
		{"thumbnail", "png", badPNG},
		{"metadata", "", headerOnly},
		{"optimize", "", badPNG},
		{"convert", "pdf", badPNG},
		{"convert", "png", hugePNG},
	}
	for _, tc := range tests {
		t.Run(tc.op+"-"+tc.in.Name, func(t *testing.T) {
			_, err := run(t, Request{Operation: tc.op, Inputs: []File{tc.in}, OutputFormat: tc.out})
			wantCode(t, err, CodeInvalidFile)
		})
	}
	// The pool must still work after the failures above.
	mustRun(t, Request{Operation: "convert", Inputs: []File{good}, OutputFormat: "png"})
}

func TestOptionsValidation(t *testing.T) {
	png := writeImage(t, t.TempDir(), "a.png", 10, 10)
	for _, opts := range []map[string]any{
		{"width": "wide"}, {"width": -5}, {"quality": 101}, {"fit": "stretch"}, {"width": 1.5},
	} {
		_, err := run(t, Request{Operation: "convert", Inputs: []File{png}, OutputFormat: "jpg", Options: opts})
		wantCode(t, err, CodeInvalidOptions)
	}
	_, err := run(t, Request{Operation: "convert", OutputFormat: "jpg"})
	wantCode(t, err, CodeInvalidOptions)
}

func TestEngineNotAvailable(t *testing.T) {
	r := NewRegistry(Options{LibreOfficePath: "-", ChromiumPath: "/nonexistent/chromium"})
	defer r.Close()
	dir := t.TempDir()
	doc := writeRaw(t, dir, "letter.docx", []byte("PK\x03\x04"))
	_, err := r.Run(context.Background(), Request{Operation: "convert", Inputs: []File{doc}, OutputFormat: "pdf", OutDir: dir}, nil)
	if e := wantCode(t, err, CodeEngineNotAvailable); !strings.Contains(e.Message, "LibreOffice") {
		t.Fatalf("message %q", e.Message)
	}
	_, err = r.Run(context.Background(), Request{Operation: "capture-website", OutputFormat: "png", Options: map[string]any{"url": "https://example.com"}, OutDir: dir}, nil)
	if e := wantCode(t, err, CodeEngineNotAvailable); !strings.Contains(e.Message, "apt-get install chromium") {
		t.Fatalf("message %q", e.Message)
	}
	html := writeRaw(t, dir, "page.html", []byte("<h1>hi</h1>"))
	_, err = r.Run(context.Background(), Request{Operation: "convert", Inputs: []File{html}, OutputFormat: "pdf", OutDir: dir}, nil)
	if e := wantCode(t, err, CodeEngineNotAvailable); !strings.Contains(e.Message, "convert from html to pdf needs Chromium") || !strings.Contains(e.Message, "apt-get install chromium") {
		t.Fatalf("message %q", e.Message)
	}
	for _, c := range r.Catalogue() {
		if (c.Engine == "chromium" || c.Engine == "libreoffice") && (c.Available || !strings.Contains(c.Note, "apt-get install")) {
			t.Fatalf("capability %+v should be unavailable with a note", c)
		}
	}
	for _, e := range r.Engines() {
		if (e.Name == "libreoffice" || e.Name == "chromium") && (e.Available || e.Note == "") {
			t.Fatalf("engine %+v should be unavailable with a note", e)
		}
	}
}

func TestEngines(t *testing.T) {
	names := map[string]EngineInfo{}
	for _, e := range registry(t).Engines() {
		names[e.Name] = e
	}
	for _, n := range []string{"goimage", "pdfium", "pdfcpu", "goarchive", "libreoffice", "chromium"} {
		e, ok := names[n]
		if !ok || len(e.Handles) == 0 {
			t.Fatalf("engine %s missing or empty: %+v", n, e)
		}
	}
	if !names["pdfium"].Available || names["pdfcpu"].Version == "" {
		t.Fatalf("engines %+v", names)
	}
}

func TestLibreOffice(t *testing.T) {
	r := registry(t)
	if r.libreoffice == "" {
		t.Skip("LibreOffice (soffice) is not installed; install the libreoffice package to run this test")
	}
	if testing.Short() {
		t.Skip("LibreOffice conversion is slow; skipped in -short mode")
	}
	dir := t.TempDir()
	txt := writeRaw(t, dir, "notes.txt", []byte("Hello from the local CloudConvert engine.\nSecond line.\n"))
	res := mustRun(t, Request{Operation: "convert", Inputs: []File{txt}, OutputFormat: "pdf"})
	if res.Engine != "libreoffice" || !strings.Contains(res.EngineVersion, "LibreOffice") {
		t.Fatalf("engine %q %q", res.Engine, res.EngineVersion)
	}
	if res.Files[0].Name != "notes.pdf" || pageCount(t, res.Files[0].Path) != 1 {
		t.Fatalf("files %+v", res.Files)
	}
	res = mustRun(t, Request{Operation: "convert", Inputs: []File{txt}, OutputFormat: "docx"})
	if b, _ := os.ReadFile(res.Files[0].Path); !bytes.HasPrefix(b, []byte("PK")) {
		t.Fatal("docx is not a zip")
	}
}

func TestCaptureWebsite(t *testing.T) {
	r := registry(t)
	if r.chromium == "" {
		t.Skip("Chromium is not installed; install the chromium package to run this test")
	}
	if testing.Short() {
		t.Skip("Chromium capture is slow; skipped in -short mode")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `<html><body style="background:#c00"><h1>Captured</h1></body></html>`)
	}))
	defer srv.Close()
	for _, out := range []string{"png", "pdf"} {
		t.Run(out, func(t *testing.T) {
			res := mustRun(t, Request{Operation: "capture-website", OutputFormat: out,
				Options: map[string]any{"url": srv.URL, "screen_width": 800, "screen_height": 600}})
			if res.Engine != "chromium" || len(res.Files) != 1 {
				t.Fatalf("result %+v", res)
			}
			f := res.Files[0]
			if out == "png" {
				img, _ := decodeFile(t, f.Path)
				if b := img.Bounds(); b.Dx() != 800 || b.Dy() != 600 {
					t.Fatalf("screenshot %v", b)
				}
				if r, _, _, _ := img.At(400, 500).RGBA(); r>>8 < 0xb0 {
					t.Fatalf("page background not captured: %v", img.At(400, 500))
				}
			} else if pageCount(t, f.Path) < 1 {
				t.Fatal("no pages")
			}
		})
	}
	_, err := run(t, Request{Operation: "capture-website", OutputFormat: "png", Options: map[string]any{"url": "file:///etc/passwd"}})
	wantCode(t, err, CodeInvalidOptions)
}

// TestConcurrentRuns exercises the shared PDFium pool and pdfcpu from
// several goroutines; run with -race.
func TestConcurrentRuns(t *testing.T) {
	dir := t.TempDir()
	pdf := writePDF(t, dir, "doc.pdf", 2, 100, 100, nil)
	png := writeImage(t, dir, "a.png", 100, 100)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 8 {
		wg.Go(func() {
			reqs := []Request{
				{Operation: "convert", Inputs: []File{pdf}, OutputFormat: "png"},
				{Operation: "merge", Inputs: []File{pdf, png}, OutputFormat: "pdf"},
				{Operation: "metadata", Inputs: []File{pdf}},
				{Operation: "thumbnail", Inputs: []File{png}},
			}
			req := reqs[i%len(reqs)]
			req.OutDir = t.TempDir()
			if _, err := registry(t).Run(context.Background(), req, nil); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	png := writeImage(t, t.TempDir(), "a.png", 10, 10)
	_, err := registry(t).Run(ctx, Request{Operation: "convert", Inputs: []File{png}, OutputFormat: "jpg", OutDir: t.TempDir()}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestSafeName(t *testing.T) {
	for in, want := range map[string]string{
		"../../etc/passwd": "passwd", `..\..\x.txt`: "x.txt", "": "file", "..": "file", ".hidden": "hidden",
		"a/b/c.png": "c.png", "ok name.pdf": "ok name.pdf", "nul\x00.txt": "nul_.txt", "/": "file",
	} {
		if got := SafeName(in); got != want {
			t.Errorf("SafeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParsePages(t *testing.T) {
	for spec, want := range map[string]string{"": "[1 2 3 4 5]", "2": "[2]", "1-3": "[1 2 3]", "4-": "[4 5]", "5,1,1-2": "[1 2 5]"} {
		got, err := parsePages(spec, 5, 100)
		if err != nil || fmt.Sprint(got) != want {
			t.Errorf("parsePages(%q) = %v, %v; want %s", spec, got, err, want)
		}
	}
	for _, spec := range []string{"0", "6", "3-2", "a", "1-x"} {
		if _, err := parsePages(spec, 5, 100); err == nil {
			t.Errorf("parsePages(%q) accepted", spec)
		}
	}
}

func BenchmarkPDFToPNGOnePage(b *testing.B) {
	dir := b.TempDir()
	pdf := writePDF(b, dir, "doc.pdf", 1, 595, 842, nil) // A4
	r := registry(b)
	start := time.Now()
	if _, err := r.Run(context.Background(), Request{Operation: "convert", Inputs: []File{pdf}, OutputFormat: "png", OutDir: b.TempDir()}, nil); err != nil {
		b.Fatal(err)
	}
	b.Logf("first render (includes pool start if not yet started): %s; pool init %s", time.Since(start), r.PDFiumInitTime())
	b.ResetTimer()
	for b.Loop() {
		out := b.TempDir()
		if _, err := r.Run(context.Background(), Request{Operation: "convert", Inputs: []File{pdf}, OutputFormat: "png", OutDir: out}, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkImageConvertPNGToJPG(b *testing.B) {
	dir := b.TempDir()
	png := writeImage(b, dir, "a.png", 1024, 768)
	r := registry(b)
	for b.Loop() {
		if _, err := r.Run(context.Background(), Request{Operation: "convert", Inputs: []File{png}, OutputFormat: "jpg", OutDir: b.TempDir()}, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkImageConvertPNGToWebP: the same image as PNGToJPG, written by
// libwebp on wazero (lossy at the default quality, and lossless).
func BenchmarkImageConvertPNGToWebP(b *testing.B) {
	dir := b.TempDir()
	png := writeImage(b, dir, "a.png", 1024, 768)
	if os.Getenv("WEBP_BENCH_BIG") != "" {
		png = writeImage(b, dir, "a.png", 2048, 1536)
	}
	r := registry(b)
	for _, lossless := range []bool{false, true} {
		b.Run(fmt.Sprintf("lossless=%v", lossless), func(b *testing.B) {
			for b.Loop() {
				if _, err := r.Run(context.Background(), Request{Operation: "convert", Inputs: []File{png}, OutputFormat: "webp",
					OutDir: b.TempDir(), Options: map[string]any{"lossless": lossless}}, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPDFiumInit measures starting the PDFium WebAssembly pool, cold
// and with wazero's on-disk compilation cache (Options.PDFiumCacheDir) warm.
func BenchmarkPDFiumInit(b *testing.B) {
	start := func(b *testing.B, cacheDir string) {
		r := NewRegistry(Options{PDFiumCacheDir: cacheDir})
		defer r.Close()
		if _, err := r.pool(); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			start(b, "")
		}
	})
	b.Run("warm-cache", func(b *testing.B) {
		dir := b.TempDir()
		start(b, dir) // fill the cache
		b.ResetTimer()
		for b.Loop() {
			start(b, dir)
		}
	})
}
