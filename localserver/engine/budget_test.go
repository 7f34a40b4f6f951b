package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"
)

// pngHeader is a PNG that announces w x h pixels (bit depth and colour type
// as given) without any pixel data: enough for DecodeConfig, which is all a
// budget check may read.
func pngHeader(w, h uint32, depth, colorType byte) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		c := append([]byte(typ), data...)
		b.Write(c)
		binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(c))
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = depth, colorType
	chunk("IHDR", ihdr)
	chunk("IEND", nil)
	return b.Bytes()
}

// tallPNG is a real 1 x 20000 one-bit PNG, a little over 100 bytes.
func tallPNG(t testing.TB) []byte {
	img := image.NewPaletted(image.Rect(0, 0, 1, 20000), color.Palette{color.Black, color.White})
	var b bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// allocated runs fn and returns the bytes it allocated.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestFinding1TallThumbnailBudget: a tiny 1 x 20000 PNG with width 20000
// and fit scale|upscale|crop derives a 20000 x 400000000 output (32 TB);
// the budget refuses it from the header, before decoding or allocating.
func TestFinding1TallThumbnailBudget(t *testing.T) {
	data := tallPNG(t)
	t.Logf("input: %d bytes", len(data))
	in := writeRaw(t, t.TempDir(), "tall.png", data)
	for _, op := range []string{"convert", "thumbnail"} {
		for _, fit := range []string{"scale", "upscale", "crop"} {
			t.Run(op+"-"+fit, func(t *testing.T) {
				var err error
				n := allocated(func() {
					_, err = run(t, Request{Operation: op, Inputs: []File{in}, OutputFormat: "png",
						Options: map[string]any{"width": 20000, "fit": fit}})
				})
				e := wantCode(t, err, CodeInvalidOptions)
				if !strings.Contains(e.Message, "20000x400000000") || !strings.Contains(e.Message, "limit is 256.0 MiB") {
					t.Errorf("message %q does not name the size and the limit", e.Message)
				}
				if n > 16<<20 {
					t.Errorf("the refused task allocated %s", human(int64(n)))
				}
			})
		}
	}
	// fit=max never enlarges: the same request is cheap and succeeds.
	res := mustRun(t, Request{Operation: "thumbnail", Inputs: []File{in}, OutputFormat: "png", Options: map[string]any{"width": 20000, "fit": "max"}})
	if img, _ := decodeFile(t, res.Files[0].Path); img.Bounds().Dx() != 1 || img.Bounds().Dy() != 20000 {
		t.Errorf("max fit: %v", img.Bounds())
	}
}

// TestFinding9PixelBudget: what decoding an input costs is width x height x
// bytes per pixel of its colour model (plus the decoder's scratch), refused
// before decoding when over the budget; the budget is configurable.
func TestFinding9PixelBudget(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name   string
		file   []byte
		limits Limits
		opts   map[string]any
		out    string
		code   string // "" = succeeds
		msg    string
	}{
		{"16-bit 10000x10000 RGBA PNG", pngHeader(10000, 10000, 16, 6), Limits{}, nil, "jpg", CodeInvalidFile, "decoding it needs 762.9 MiB"},
		{"8-bit 10000x10000 gray PNG fits", pngHeader(10000, 10000, 8, 0), Limits{}, nil, "png", CodeInvalidFile, "damaged"},
		{"100000 x 100000 gray", pngHeader(100000, 100000, 8, 0), Limits{}, nil, "png", CodeInvalidFile, "decoding it needs 9.3 GiB"},
		{"max uint32 sides do not overflow", pngHeader(math.MaxInt32, math.MaxInt32, 16, 6), Limits{}, nil, "png", CodeInvalidFile, ""},
		{"small budget refuses 300x300", encodePNG(t, 300, 300), Limits{MaxImageMemory: 256 << 10}, nil, "png", CodeInvalidFile, "limit of 256.0 KiB"},
		{"small budget still takes 100x100", encodePNG(t, 100, 100), Limits{MaxImageMemory: 256 << 10}, nil, "png", "", ""},
		{"JPEG flattening copy counts", encodePNG(t, 200, 200), Limits{MaxImageMemory: 256 << 10}, nil, "jpg", CodeInvalidOptions, "needs 312.5 KiB"},
		{"upscale output counts", encodePNG(t, 100, 100), Limits{MaxImageMemory: 256 << 10}, map[string]any{"width": 1000, "fit": "upscale"}, "png", CodeInvalidOptions, "makes a 1000x1000 image"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := writeRaw(t, dir, strings.ReplaceAll(c.name, " ", "_")+".png", c.file)
			_, err := run(t, Request{Operation: "convert", Inputs: []File{in}, OutputFormat: c.out, Options: c.opts, Limits: c.limits})
			if c.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			e := wantCode(t, err, c.code)
			if !strings.Contains(e.Message, c.msg) {
				t.Errorf("message %q lacks %q", e.Message, c.msg)
			}
		})
	}
	// The registry's default applies when a request sets none.
	small := NewRegistry(Options{Limits: Limits{MaxImageMemory: 64 << 10}, LibreOfficePath: "-", ChromiumPath: "-"})
	defer small.Close()
	in := writeRaw(t, dir, "p.png", encodePNG(t, 300, 300))
	_, err := small.Run(context.Background(), Request{Operation: "convert", Inputs: []File{in}, OutputFormat: "png", OutDir: t.TempDir()}, nil)
	wantCode(t, err, CodeInvalidFile)
}

func encodePNG(t testing.TB, w, h int) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, testImage(w, h)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestFinding9PDFPageBudget: the page cap is checked before the first
// render, and each page's pixel size before PDFium allocates its bitmap.
func TestFinding9PDFPageBudget(t *testing.T) {
	dir := t.TempDir()
	doc := writeRaw(t, dir, "ten.pdf", textPDF(10, 600, 800))
	cases := []struct {
		name   string
		op     string
		opts   map[string]any
		limits Limits
		code   string
		msg    string
		files  int
	}{
		{"over the page cap", "convert", nil, Limits{MaxPages: 5}, CodeInvalidOptions, "10 pages are selected for rendering; the limit is 5 pages", 0},
		{"a selection under the cap", "convert", map[string]any{"pages": "2-4"}, Limits{MaxPages: 5}, "", "", 3},
		{"overlapping selections count once", "convert", map[string]any{"pages": "1-3,2-5,5"}, Limits{MaxPages: 5}, "", "", 5},
		{"page too big at 1200 DPI", "convert", map[string]any{"pixel_density": 1200, "pages": "1"}, Limits{}, CodeInvalidOptions, "renders to 10000x13334 pixels at 1200 DPI", 0},
		{"thumbnail size too big", "thumbnail", map[string]any{"width": 20000, "height": 20000}, Limits{}, CodeInvalidOptions, "renders to 20000x20000 pixels", 0},
		{"resized page too big", "convert", map[string]any{"pages": "1", "width": 20000, "fit": "scale"}, Limits{}, CodeInvalidOptions, "makes a 20000x26672 image", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := run(t, Request{Operation: c.op, Inputs: []File{doc}, OutputFormat: "png", Options: c.opts, Limits: c.limits})
			if c.code == "" {
				if err != nil || len(res.Files) != c.files {
					t.Fatalf("%v, %d files", err, len(res.Files))
				}
				return
			}
			e := wantCode(t, err, c.code)
			if !strings.Contains(e.Message, c.msg) {
				t.Errorf("message %q lacks %q", e.Message, c.msg)
			}
		})
	}
}

// TestFinding9EnginesStopOnContext: image work ends soon after its context
// does, mid-decode or mid-render, with the context's error.
func TestFinding9EnginesStopOnContext(t *testing.T) {
	dir := t.TempDir()
	big := writeRaw(t, dir, "big.png", encodePNG(t, 3000, 3000))
	doc := writeRaw(t, dir, "many.pdf", textPDF(400, 600, 800))
	for _, c := range []struct {
		name string
		req  Request
	}{
		{"image", Request{Operation: "convert", Inputs: []File{big}, OutputFormat: "jpg", Options: map[string]any{"width": 2999, "fit": "scale"}}},
		{"pdf", Request{Operation: "convert", Inputs: []File{doc}, OutputFormat: "png"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			c.req.OutDir = t.TempDir()
			start := time.Now()
			_, err := registry(t).Run(ctx, c.req, nil)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want the context's deadline", err)
			}
			t.Logf("stopped after %v", time.Since(start))
		})
	}
}

// textPDF is a PDF of pages w x h points with a line of text each, cheap to
// build at any page count.
func textPDF(pages, w, h int) []byte {
	objs := []string{"<< /Type /Catalog /Pages 2 0 R >>", "", "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"}
	var kids []string
	for i := range pages {
		kids = append(kids, fmt.Sprintf("%d 0 R", 4+2*i))
		stream := fmt.Sprintf("BT /F1 24 Tf 40 40 Td (page %d) Tj ET", i+1)
		objs = append(objs,
			fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>", w, h, 5+2*i),
			fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(stream)+1, stream))
	}
	objs[1] = fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), pages)
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

func TestBudgetArithmetic(t *testing.T) {
	cases := []struct {
		got, want int64
	}{
		{mul(2, 3, 4), 24},
		{mul(math.MaxInt32, math.MaxInt32, 8), math.MaxInt64},
		{mul(1<<62, 2), math.MaxInt64},
		{mul(-1, 2), math.MaxInt64},
		{add(math.MaxInt64, 1), math.MaxInt64},
		{add(1, 2, 3), 6},
	}
	for i, c := range cases {
		if c.got != c.want {
			t.Errorf("case %d: %d, want %d", i, c.got, c.want)
		}
	}
}

// FuzzFinding1PlanStep: no header and option combination panics the
// planner, and whatever it accepts fits the budget.
func FuzzFinding1PlanStep(f *testing.F) {
	f.Add(1, 20000, 20000, 0, "scale", "png")
	f.Add(20000, 1, 0, 20000, "crop", "jpg")
	f.Add(math.MaxInt32, math.MaxInt32, 1, 1, "max", "gif")
	f.Fuzz(func(t *testing.T, sw, sh, w, h int, fit, format string) {
		if sw <= 0 || sh <= 0 || w < 0 || h < 0 || w > 20000 || h > 20000 {
			return
		}
		const budget = 256 << 20
		src := mul(int64(sw), int64(sh), 4)
		if src > budget {
			return
		}
		c, err := planStep("x", sw, sh, src, false, sizeOpts{width: w, height: h, fit: fit}, format, false, budget)
		if err != nil {
			return
		}
		if add(src, c.out) > budget || (c.plan.resize && mul(c.plan.dw, c.plan.dh, 4) > budget) {
			t.Fatalf("accepted %dx%d -> %+v costing %d", sw, sh, c.plan, add(src, c.out))
		}
		if !c.plan.crop.In(image.Rect(0, 0, sw, sh)) || c.plan.crop.Empty() {
			t.Fatalf("crop %v outside %dx%d", c.plan.crop, sw, sh)
		}
	})
}
