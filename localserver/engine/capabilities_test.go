package engine

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/klippa-app/go-pdfium/requests"
	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	xwebp "golang.org/x/image/webp"
)

// pdfText returns the text PDFium extracts from each page of path, opened
// with password ("" for none).
func pdfText(t testing.TB, path, password string) ([]string, error) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := registry(t).pool()
	if err != nil {
		t.Fatal(err)
	}
	inst, err := p.GetInstance(0)
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	req := &requests.OpenDocument{File: &data}
	if password != "" {
		req.Password = &password
	}
	doc, err := inst.OpenDocument(req)
	if err != nil {
		return nil, err
	}
	defer inst.FPDF_CloseDocument(&requests.FPDF_CloseDocument{Document: doc.Document})
	pc, err := inst.FPDF_GetPageCount(&requests.FPDF_GetPageCount{Document: doc.Document})
	if err != nil {
		t.Fatal(err)
	}
	var pages []string
	for i := range pc.PageCount {
		txt, err := inst.GetPageText(&requests.GetPageText{Page: requests.Page{ByIndex: &requests.PageByIndex{Document: doc.Document, Index: i}}})
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, txt.Text)
	}
	return pages, nil
}

func TestWebPOutput(t *testing.T) {
	dir := t.TempDir()
	src := writeImage(t, dir, "photo.png", 120, 80)
	for _, tc := range []struct {
		name string
		opts map[string]any
	}{
		{"lossy", map[string]any{"quality": 80}},
		{"lossless", map[string]any{"lossless": true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := mustRun(t, Request{Operation: "convert", Inputs: []File{src}, OutputFormat: "webp", Options: tc.opts})
			f := res.Files[0]
			if f.Name != "photo.webp" || res.Engine != "goimage" {
				t.Fatalf("result %+v", res)
			}
			raw, _ := os.ReadFile(f.Path)
			if len(raw) < 12 || string(raw[:4]) != "RIFF" || string(raw[8:12]) != "WEBP" {
				t.Fatalf("not a RIFF/WEBP file: % x", raw[:min(16, len(raw))])
			}
			img, err := xwebp.Decode(bytes.NewReader(raw)) // an independent decoder
			if err != nil {
				t.Fatalf("decode as WebP: %v", err)
			}
			if b := img.Bounds(); b.Dx() != 120 || b.Dy() != 80 {
				t.Fatalf("size %v", b)
			}
			want := testImage(120, 80).NRGBAAt(100, 60)
			got := color.NRGBAModel.Convert(img.At(100, 60)).(color.NRGBA)
			tol := 24 // lossy encoding of a gradient
			if tc.name == "lossless" {
				tol = 0
			}
			if diff(got.R, want.R) > tol || diff(got.G, want.G) > tol || diff(got.B, want.B) > tol {
				t.Fatalf("pixel %v, want %v (tolerance %d)", got, want, tol)
			}
		})
	}
	// The encoder's memory is budgeted before it runs.
	big := writeImage(t, dir, "big.png", 400, 300)
	_, err := run(t, Request{Operation: "convert", Inputs: []File{big}, OutputFormat: "webp", Limits: Limits{MaxImageMemory: 4 << 20}})
	if e := wantCode(t, err, CodeInvalidOptions); !strings.Contains(e.Message, "as a 400x300 webp needs") {
		t.Fatalf("over budget: %s", e.Message)
	}
	pdf := writePDF(t, dir, "doc.pdf", 2, 100, 80, nil)
	res := mustRun(t, Request{Operation: "convert", Inputs: []File{pdf}, OutputFormat: "webp", Options: map[string]any{"pages": "2"}})
	if len(res.Files) != 1 || res.Files[0].Name != "doc.webp" {
		t.Fatalf("pdf -> webp %+v", res.Files)
	}
	if _, format := decodeFile(t, res.Files[0].Path); format != "webp" {
		t.Fatalf("format %s", format)
	}
	res = mustRun(t, Request{Operation: "thumbnail", Inputs: []File{src}, OutputFormat: "webp", Options: map[string]any{"width": 30}})
	if img, _ := decodeFile(t, res.Files[0].Path); img.Bounds().Dx() != 30 {
		t.Fatalf("thumbnail %v", img.Bounds())
	}
}

func diff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

func TestWatermarkPDF(t *testing.T) {
	dir := t.TempDir()
	pdf := writePDF(t, dir, "report.pdf", 3, 400, 300, nil)
	res := mustRun(t, Request{Operation: "watermark", Inputs: []File{pdf}, Options: map[string]any{
		"text": "CONFIDENTIAL 42", "font_size": 30, "font_color": "#ff0000", "opacity": 50, "rotation": 45,
		"position_vertical": "top", "position_horizontal": "left", "margin_vertical": 10, "pages": "2-3"}})
	if res.Engine != "pdfcpu" || len(res.Files) != 1 || res.Files[0].Name != "report.pdf" {
		t.Fatalf("result %+v", res)
	}
	text, err := pdfText(t, res.Files[0].Path, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(text) != 3 || strings.Contains(text[0], "CONFIDENTIAL") || !strings.Contains(text[1], "CONFIDENTIAL 42") || !strings.Contains(text[2], "CONFIDENTIAL 42") {
		t.Fatalf("page texts %q: want the watermark on pages 2 and 3 only", text)
	}

	// An image watermark: a red square in the middle of every page,
	// seen in PDFium's rendering.
	red := writeSolid(t, dir, "logo.png", 50, 50, color.NRGBA{R: 255, A: 255})
	res = mustRun(t, Request{Operation: "watermark", Inputs: []File{pdf}, Image: &red, Options: map[string]any{"image": "logo", "image_width": 100}})
	png := mustRun(t, Request{Operation: "convert", Inputs: []File{res.Files[0]}, OutputFormat: "png", Options: map[string]any{"pages": "1", "pixel_density": 72}})
	img, _ := decodeFile(t, png.Files[0].Path)
	b := img.Bounds()
	if c := color.NRGBAModel.Convert(img.At(b.Dx()/2, b.Dy()/2)).(color.NRGBA); c.R < 200 || c.G > 60 || c.B > 60 {
		t.Fatalf("centre of the page is %v, want the red watermark", c)
	}
	if c := color.NRGBAModel.Convert(img.At(5, 5)).(color.NRGBA); c.R > 200 && c.G < 60 {
		t.Fatalf("corner of the page is red: the watermark is too big")
	}
}

func writeSolid(t testing.TB, dir, name string, w, h int, c color.NRGBA) File {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return writeRaw(t, dir, name, buf.Bytes())
}

// changed returns the bounding box of pixels that differ between a and b.
func changed(a, b image.Image) image.Rectangle {
	var box image.Rectangle
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			ca := color.NRGBAModel.Convert(a.At(x, y)).(color.NRGBA)
			cb := color.NRGBAModel.Convert(b.At(x, y)).(color.NRGBA)
			if diff(ca.R, cb.R)+diff(ca.G, cb.G)+diff(ca.B, cb.B) > 30 {
				box = box.Union(image.Rect(x, y, x+1, y+1))
			}
		}
	}
	return box
}

func TestWatermarkImage(t *testing.T) {
	dir := t.TempDir()
	base := writeSolid(t, dir, "base.png", 400, 300, color.NRGBA{R: 255, G: 255, B: 255, A: 255})
	orig, _ := decodeFile(t, base.Path)
	t.Run("text at the top left", func(t *testing.T) {
		res := mustRun(t, Request{Operation: "watermark", Inputs: []File{base}, Options: map[string]any{
			"text": "DRAFT", "font_size": 40, "font_color": "#000", "position_vertical": "top", "position_horizontal": "left",
			"margin_vertical": 20, "margin_horizontal": 30}})
		if res.Files[0].Name != "base.png" || res.Engine != "goimage" {
			t.Fatalf("result %+v", res)
		}
		img, _ := decodeFile(t, res.Files[0].Path)
		box := changed(orig, img)
		if box.Empty() || box.Min.X < 30 || box.Min.Y < 20 || box.Max.X > 200 || box.Max.Y > 80 {
			t.Fatalf("text drawn at %v, want near (30,20)", box)
		}
	})
	t.Run("rotated text in the centre", func(t *testing.T) {
		res := mustRun(t, Request{Operation: "watermark", Inputs: []File{base}, Options: map[string]any{"text": "SAMPLE TEXT", "rotation": 90}})
		img, _ := decodeFile(t, res.Files[0].Path)
		box := changed(orig, img)
		if box.Dy() <= box.Dx() || box.Min.X < 150 || box.Max.X > 250 {
			t.Fatalf("90-degree text occupies %v: want a tall box around the centre", box)
		}
	})
	t.Run("image at the bottom right, half opaque", func(t *testing.T) {
		logo := writeSolid(t, dir, "logo.png", 20, 10, color.NRGBA{B: 255, A: 255})
		res := mustRun(t, Request{Operation: "watermark", Inputs: []File{base}, Image: &logo, Options: map[string]any{
			"image": "logo", "image_width": 40, "opacity": 50, "position_vertical": "bottom", "position_horizontal": "right",
			"margin_vertical": 10, "margin_horizontal": 10}})
		img, _ := decodeFile(t, res.Files[0].Path)
		if box := changed(orig, img); box != image.Rect(350, 270, 390, 290) {
			t.Fatalf("image drawn at %v, want (350,270)-(390,290)", box)
		}
		c := color.NRGBAModel.Convert(img.At(370, 280)).(color.NRGBA)
		if diff(c.R, 128) > 3 || diff(c.B, 255) > 3 {
			t.Fatalf("half-opaque blue over white is %v, want about (128,128,255)", c)
		}
	})
	t.Run("jpg stays jpg", func(t *testing.T) {
		jpg := writeImage(t, dir, "photo.jpg", 200, 100)
		res := mustRun(t, Request{Operation: "watermark", Inputs: []File{jpg}, Options: map[string]any{"text": "x", "quality": 70}})
		if _, format := decodeFile(t, res.Files[0].Path); format != "jpg" || res.Files[0].Name != "photo.jpg" {
			t.Fatalf("%+v is %s", res.Files[0], format)
		}
	})
	for _, tc := range []struct {
		opts map[string]any
		want string
	}{
		{map[string]any{}, "needs the option text"},
		{map[string]any{"text": "a", "image": "logo"}, "option image"},
		{map[string]any{"text": "a", "font_color": "red"}, "hex colour"},
		{map[string]any{"text": "a", "position_vertical": "centre"}, `did you mean "center"`},
		{map[string]any{"text": "a", "layer": "below"}, `"layer" is not an option of watermark from png`},
		{map[string]any{"text": strings.Repeat("W", 1000), "font_size": 1000}, "the limit is"},
	} {
		_, err := run(t, Request{Operation: "watermark", Inputs: []File{base}, Options: tc.opts})
		if e := wantCode(t, err, CodeInvalidOptions); !strings.Contains(e.Message, tc.want) {
			t.Errorf("%v: message %q does not say %q", tc.opts, e.Message, tc.want)
		}
	}
}

// archiveEntry is one entry of a test archive.
type archiveEntry struct {
	name, body, link string
	dir              bool
}

func makeZip(t testing.TB, dir, name string, entries []archiveEntry) File {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		switch {
		case e.link != "":
			h.SetMode(os.ModeSymlink | 0o777)
		case e.dir:
			h.SetMode(os.ModeDir | 0o755)
		default:
			h.SetMode(0o644)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		body := e.body
		if e.link != "" {
			body = e.link
		}
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return writeRaw(t, dir, name, buf.Bytes())
}

func makeTar(t testing.TB, dir, name string, gz bool, entries []archiveEntry) File {
	t.Helper()
	var buf bytes.Buffer
	var zw *gzip.Writer
	var tw *tar.Writer
	if gz {
		zw = gzip.NewWriter(&buf)
		tw = tar.NewWriter(zw)
	} else {
		tw = tar.NewWriter(&buf)
	}
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: tar.TypeReg}
		switch {
		case e.link != "":
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, e.link, 0
		case e.dir:
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write([]byte(e.body))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		zw.Close()
	}
	return writeRaw(t, dir, name, buf.Bytes())
}

func TestExtract(t *testing.T) {
	dir := t.TempDir()
	three := []archiveEntry{{name: "readme.txt", body: "read me"}, {name: "docs/", dir: true},
		{name: "docs/a.md", body: "# A"}, {name: "docs/img/logo.svg", body: "<svg/>"}}
	for _, in := range []File{
		makeZip(t, dir, "three.zip", three),
		makeTar(t, dir, "three.tar", false, three),
		makeTar(t, dir, "three.tar.gz", true, three),
		makeTar(t, dir, "three.tgz", true, three),
	} {
		t.Run(in.Name, func(t *testing.T) {
			res := mustRun(t, Request{Operation: "archive/extract", Inputs: []File{in}})
			var got []string
			for _, f := range res.Files {
				body, _ := os.ReadFile(f.Path)
				if int64(len(body)) != f.Size {
					t.Errorf("%s: size %d, file has %d bytes", f.Name, f.Size, len(body))
				}
				got = append(got, fmt.Sprintf("%s|%s|%s", f.Dir, f.Name, body))
			}
			want := []string{"|readme.txt|read me", "docs|a.md|# A", "docs/img|logo.svg|<svg/>"}
			if !slices.Equal(got, want) || res.Engine != "goarchive" {
				t.Fatalf("extracted %q, want %q", got, want)
			}
		})
	}
	t.Run("round trip through archive", func(t *testing.T) {
		a := writeRaw(t, dir, "a.bin", bytes.Repeat([]byte{1, 2, 3}, 1000))
		b := writeRaw(t, dir, "b.txt", []byte("bee"))
		packed := mustRun(t, Request{Operation: "archive", Inputs: []File{a, b}, OutputFormat: "tar.gz"})
		res := mustRun(t, Request{Operation: "archive/extract", Inputs: packed.Files})
		if len(res.Files) != 2 || res.Files[0].Name != "a.bin" || res.Files[0].Size != 3000 || res.Files[1].Name != "b.txt" {
			t.Fatalf("round trip %+v", res.Files)
		}
	})

	refused := []struct {
		name  string
		in    File
		lim   Limits
		wants string
	}{
		{"zip-slip zip", makeZip(t, dir, "slip.zip", []archiveEntry{{name: "ok.txt", body: "x"}, {name: "../../evil.sh", body: "rm -rf"}}), Limits{}, "zip-slip"},
		{"zip-slip tar", makeTar(t, dir, "slip.tar", false, []archiveEntry{{name: "a/../../evil.sh", body: "x"}}), Limits{}, "zip-slip"},
		{"windows zip-slip", makeZip(t, dir, "winslip.zip", []archiveEntry{{name: `..\..\evil.bat`, body: "x"}}), Limits{}, "zip-slip"},
		{"absolute path", makeTar(t, dir, "abs.tar.gz", true, []archiveEntry{{name: "/etc/cron.d/evil", body: "x"}}), Limits{}, "absolute path"},
		{"symlink in zip", makeZip(t, dir, "link.zip", []archiveEntry{{name: "passwd", link: "/etc/passwd"}}), Limits{}, "link"},
		{"symlink in tar", makeTar(t, dir, "link.tar", false, []archiveEntry{{name: "ok.txt", body: "x"}, {name: "passwd", link: "../../etc/passwd"}}), Limits{}, "link"},
		{"duplicate entry", makeZip(t, dir, "dup.zip", []archiveEntry{{name: "a.txt", body: "1"}, {name: "./a.txt", body: "2"}}), Limits{}, "two entries"},
		{"too many entries (zip)", makeZip(t, dir, "many.zip", three), Limits{MaxArchiveEntries: 3}, "more than 3"},
		{"too many entries (tar)", makeTar(t, dir, "many.tar", false, three), Limits{MaxArchiveEntries: 3}, "more than 3 entries"},
		{"too big (zip)", makeZip(t, dir, "big.zip", []archiveEntry{{name: "zeros", body: strings.Repeat("\x00", 1<<20)}}), Limits{MaxExtractBytes: 1000}, "unpacks to more than"},
		{"too big (tar.gz)", makeTar(t, dir, "big.tar.gz", true, []archiveEntry{{name: "zeros", body: strings.Repeat("\x00", 1<<20)}}), Limits{MaxExtractBytes: 1000}, "unpacks to more than"},
		{"not an archive", writeRaw(t, dir, "fake.zip", []byte("this is text")), Limits{}, "not a zip, tar or tar.gz"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			_, err := run(t, Request{Operation: "archive/extract", Inputs: []File{tc.in}, OutDir: out, Limits: tc.lim})
			if e := wantCode(t, err, CodeInvalidFile); !strings.Contains(e.Message, tc.wants) {
				t.Fatalf("message %q does not say %q", e.Message, tc.wants)
			}
			if left, _ := os.ReadDir(out); len(left) != 0 {
				t.Fatalf("a refused archive left %d files behind", len(left))
			}
		})
	}
}

// pageRotations reads each page's /Rotate (inherited values included).
func pageRotations(t testing.TB, path string) []int {
	t.Helper()
	ctx, err := api.ReadContextFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rots []int
	for p := 1; p <= ctx.PageCount; p++ {
		_, _, inh, err := ctx.PageDict(p, false)
		if err != nil {
			t.Fatal(err)
		}
		rots = append(rots, inh.Rotate)
	}
	return rots
}

func TestPDFPageOperations(t *testing.T) {
	dir := t.TempDir()
	pdf := writePDF(t, dir, "book.pdf", 3, 200, 100, nil)
	t.Run("split", func(t *testing.T) {
		res := mustRun(t, Request{Operation: "pdf/split-pages", Inputs: []File{pdf}})
		var names []string
		for _, f := range res.Files {
			names = append(names, f.Name)
			if n := pageCount(t, f.Path); n != 1 {
				t.Errorf("%s has %d pages", f.Name, n)
			}
		}
		if !slices.Equal(names, []string{"book-1.pdf", "book-2.pdf", "book-3.pdf"}) {
			t.Fatalf("names %q", names)
		}
	})
	t.Run("extract", func(t *testing.T) {
		res := mustRun(t, Request{Operation: "pdf/extract-pages", Inputs: []File{pdf}, Options: map[string]any{"pages": "3,1"}})
		if pageCount(t, res.Files[0].Path) != 2 {
			t.Fatal("want 2 pages")
		}
		dims, err := api.PageDimsFile(res.Files[0].Path)
		if err != nil || dims[0].Width != 200 || dims[1].Width != 202 { // page i is 200+i points wide
			t.Fatalf("dims %v %v: want pages 1 and 3 in document order", dims, err)
		}
		_, err = run(t, Request{Operation: "pdf/extract-pages", Inputs: []File{pdf}})
		if e := wantCode(t, err, CodeInvalidOptions); !strings.Contains(e.Message, "needs the option pages") {
			t.Fatal(e.Message)
		}
	})
	t.Run("rotate", func(t *testing.T) {
		res := mustRun(t, Request{Operation: "pdf/rotate-pages", Inputs: []File{pdf}, Options: map[string]any{"pages": "2-", "rotation": "+90"}})
		if got := pageRotations(t, res.Files[0].Path); !slices.Equal(got, []int{0, 90, 90}) {
			t.Fatalf("rotations %v", got)
		}
		res = mustRun(t, Request{Operation: "pdf/rotate-pages", Inputs: []File{res.Files[0]}, Options: map[string]any{"rotation": -90}})
		if got := pageRotations(t, res.Files[0].Path); !slices.Equal(got, []int{270, 0, 0}) {
			t.Fatalf("rotations after -90 %v", got)
		}
		_, err := run(t, Request{Operation: "pdf/rotate-pages", Inputs: []File{pdf}, Options: map[string]any{"rotation": 45}})
		wantCode(t, err, CodeInvalidOptions)
	})
	t.Run("encrypt and decrypt", func(t *testing.T) {
		res := mustRun(t, Request{Operation: "pdf/encrypt", Inputs: []File{pdf}, Options: map[string]any{
			"set_password": "open sesame", "set_owner_password": "owner-pw", "allow_print": "none", "allow_extract": false}})
		enc := res.Files[0]
		if _, err := pdfText(t, enc.Path, ""); err == nil {
			t.Fatal("the encrypted PDF opens without a password")
		}
		if _, err := pdfText(t, enc.Path, "wrong"); err == nil {
			t.Fatal("the encrypted PDF opens with a wrong password")
		}
		if pages, err := pdfText(t, enc.Path, "open sesame"); err != nil || len(pages) != 3 {
			t.Fatalf("with the password: %d pages, %v", len(pages), err)
		}
		conf := model.NewDefaultConfiguration()
		conf.UserPW, conf.OwnerPW = "open sesame", "owner-pw"
		f, _ := os.Open(enc.Path)
		perms, err := api.Permissions(f, conf)
		f.Close()
		if err != nil || perms&int(model.PermissionPrintRev3) != 0 || perms&int(model.PermissionExtract) != 0 || perms&int(model.PermissionModify) == 0 {
			t.Fatalf("permissions %b, %v: want no printing, no copying, modifying allowed", perms, err)
		}
		// Other operations say the file is encrypted.
		_, err = run(t, Request{Operation: "pdf/split-pages", Inputs: []File{enc}})
		if e := wantCode(t, err, CodeInvalidOptions); !strings.Contains(e.Message, "password") {
			t.Fatalf("split of an encrypted PDF: %s", e.Message)
		}
		_, err = run(t, Request{Operation: "pdf/decrypt", Inputs: []File{enc}, Options: map[string]any{"password": "nope"}})
		if e := wantCode(t, err, CodeInvalidOptions); !strings.Contains(e.Message, "password does not open it") {
			t.Fatalf("wrong password: %s", e.Message)
		}
		for _, pw := range []string{"open sesame", "owner-pw"} {
			res = mustRun(t, Request{Operation: "pdf/decrypt", Inputs: []File{enc}, Options: map[string]any{"password": pw}})
			if pages, err := pdfText(t, res.Files[0].Path, ""); err != nil || len(pages) != 3 {
				t.Fatalf("decrypted with %q: %d pages, %v", pw, len(pages), err)
			}
		}
		_, err = run(t, Request{Operation: "pdf/encrypt", Inputs: []File{pdf}})
		wantCode(t, err, CodeInvalidOptions)
		// A password without spaces takes the AES-256 path.
		res = mustRun(t, Request{Operation: "pdf/encrypt", Inputs: []File{pdf}, Options: map[string]any{"set_password": "s3cret"}})
		if _, err := pdfText(t, res.Files[0].Path, ""); err == nil {
			t.Fatal("the AES-256 PDF opens without a password")
		}
		if pages, err := pdfText(t, res.Files[0].Path, "s3cret"); err != nil || len(pages) != 3 {
			t.Fatalf("AES-256 with the password: %d pages, %v", len(pages), err)
		}
		_, err = run(t, Request{Operation: "pdf/decrypt", Inputs: []File{pdf}})
		if e := wantCode(t, err, CodeInvalidFile); !strings.Contains(e.Message, "not encrypted") {
			t.Fatalf("decrypting a plain PDF: %s", e.Message)
		}
	})
	t.Run("metadata/write", func(t *testing.T) {
		res := mustRun(t, Request{Operation: "metadata/write", Inputs: []File{pdf}, Options: map[string]any{
			"metadata": map[string]any{"Title": "The Book", "Author": "Ann", "Edition": 2.0}}})
		md := mustRun(t, Request{Operation: "metadata", Inputs: res.Files}).Metadata
		if md["Title"] != "The Book" || md["Author"] != "Ann" || md["Edition"] != "2" {
			t.Fatalf("metadata %v", md)
		}
	})
	t.Run("pages out of range", func(t *testing.T) {
		for _, op := range []Request{
			{Operation: "convert", OutputFormat: "png", Options: map[string]any{"pages": "5"}},
			{Operation: "pdf/extract-pages", Options: map[string]any{"pages": "2-5"}},
		} {
			op.Inputs = []File{pdf}
			_, err := run(t, op)
			e := wantCode(t, err, CodeInvalidOptions)
			if !strings.Contains(e.Message, "asks for page 5") || !strings.Contains(e.Message, "has 3 pages") || strings.Contains(e.Message, "is not a page list") {
				t.Fatalf("%s: %s", op.Operation, e.Message)
			}
		}
	})
}

// TestCatalogue: the catalogue is well formed, and true: every pure-Go
// capability runs on a real input with its required options only.
func TestCatalogue(t *testing.T) {
	r := registry(t)
	caps := r.Catalogue()
	if len(caps) < 100 {
		t.Fatalf("only %d capabilities", len(caps))
	}
	real := RealServiceOnly()
	for _, c := range caps {
		if _, ok := real[c.Operation]; ok {
			t.Errorf("%s is both local and real-service only", c.Operation)
		}
		for _, o := range c.Options {
			if o.Description == "" || !slices.Contains([]string{"string", "integer", "boolean", "object"}, o.Type) {
				t.Errorf("%s %s->%s option %+v", c.Operation, c.InputFormat, c.OutputFormat, o)
			}
		}
	}
	if _, err := json.Marshal(caps); err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{"archive/extract", "watermark", "pdf/split-pages", "pdf/extract-pages", "pdf/rotate-pages", "pdf/encrypt", "pdf/decrypt", "thumbnail", "metadata/write"} {
		if !slices.Contains(r.Operations(), op) {
			t.Errorf("operation %s missing", op)
		}
	}

	dir := t.TempDir()
	inputs := map[string]File{"pdf": writePDF(t, dir, "doc.pdf", 2, 60, 40, nil),
		"webp": {Name: "sample.webp", Path: filepath.Join("testdata", "sample.webp")},
		"zip":  makeZip(t, dir, "a.zip", []archiveEntry{{name: "x.txt", body: "x"}}),
		"tar":  makeTar(t, dir, "a.tar", false, []archiveEntry{{name: "x.txt", body: "x"}}), "tar.gz": makeTar(t, dir, "a.tar.gz", true, []archiveEntry{{name: "x.txt", body: "x"}}),
		"*": writeRaw(t, dir, "any.bin", []byte("anything"))}
	for _, f := range []string{"bmp", "gif", "jpg", "png", "tiff"} {
		inputs[f] = writeImage(t, dir, "img."+f, 40, 30)
	}
	required := map[string]map[string]any{
		"watermark": {"text": "W"}, "pdf/extract-pages": {"pages": "2"}, "pdf/encrypt": {"set_password": "pw"},
		"metadata/write": {"metadata": map[string]any{"Title": "T"}},
	}
	ran := 0
	for _, c := range caps {
		if c.Engine == engineChromium || c.Engine == engineLibreOffice {
			continue
		}
		in, ok := inputs[c.InputFormat]
		if !ok {
			t.Errorf("no test input for %s from %s", c.Operation, c.InputFormat)
			continue
		}
		if c.Operation == "pdf/decrypt" {
			in = mustRun(t, Request{Operation: "pdf/encrypt", Inputs: []File{in}, Options: map[string]any{"set_owner_password": "o"}}).Files[0]
		}
		out := c.OutputFormat
		if out == "*" {
			out = ""
		}
		res, err := run(t, Request{Operation: c.Operation, Inputs: []File{in}, OutputFormat: out, Options: required[c.Operation]})
		if err != nil {
			t.Errorf("%s from %s to %s (%s): %v", c.Operation, c.InputFormat, c.OutputFormat, c.Engine, err)
			continue
		}
		if res.Engine != c.Engine {
			t.Errorf("%s from %s to %s ran on %s, the catalogue says %s", c.Operation, c.InputFormat, c.OutputFormat, res.Engine, c.Engine)
		}
		ran++
	}
	t.Logf("%d capabilities ran", ran)
}

func TestOptionChecks(t *testing.T) {
	dir := t.TempDir()
	png := writeImage(t, dir, "a.png", 10, 10)
	pdf := writePDF(t, dir, "a.pdf", 1, 10, 10, nil)
	tests := []struct {
		req  Request
		want string
	}{
		{Request{Operation: "convert", Inputs: []File{png}, OutputFormat: "jpg", Options: map[string]any{"qualty": 80}}, `did you mean "quality"`},
		{Request{Operation: "convert", Inputs: []File{png}, OutputFormat: "jpg", Options: map[string]any{"pdf_a": true}}, `"pdf_a" is not an option of convert from png to jpg`},
		{Request{Operation: "convert", Inputs: []File{png}, OutputFormat: "png", Options: map[string]any{"quality": 80}}, "its options are: engine, engine_version, filename, fit, height, timeout, width"},
		{Request{Operation: "convert", Inputs: []File{pdf}, OutputFormat: "png", Options: map[string]any{"pixel_densty": 80}}, `did you mean "pixel_density"`},
		{Request{Operation: "convert", Inputs: []File{png}, OutputFormat: "jpg", Options: map[string]any{"fit": "stretch"}}, "must be one of max, crop, scale, upscale"},
		{Request{Operation: "pdf/encrypt", Inputs: []File{pdf}, Options: map[string]any{"set_password": "x", "allow_print": "ful"}}, `did you mean "full"`},
		{Request{Operation: "thumbnail", Inputs: []File{png}, Options: map[string]any{"width": 0}}, "between 1 and 20000"},
		{Request{Operation: "merge", Inputs: []File{pdf}, OutputFormat: "pdf", Options: map[string]any{"pages": "1"}}, `"pages" is not an option of merge from pdf to pdf`},
		{Request{Operation: "convert", Inputs: []File{png}, OutputFormat: "jpg", Options: map[string]any{"timeout": 0}}, "timeout must be between 1 and 86400"},
	}
	for _, tc := range tests {
		_, err := run(t, tc.req)
		if e := wantCode(t, err, CodeInvalidOptions); !strings.Contains(e.Message, tc.want) {
			t.Errorf("%s %v: %q does not say %q", tc.req.Operation, tc.req.Options, e.Message, tc.want)
		}
	}
	// Generic fields every task may carry are accepted.
	mustRun(t, Request{Operation: "convert", Inputs: []File{png}, OutputFormat: "jpg", Options: map[string]any{
		"engine": "imagemagick", "engine_version": "7", "timeout": 60, "filename": "out.jpg", "quality": 80}})
}
