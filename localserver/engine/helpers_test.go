package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/cctoolkit/cloudconvert/internal/testcache"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

// sharedRegistry is started once per test binary: PDFium takes seconds to
// compile, and the tests also prove that one pool serves many requests.
// Its compile cache lives in a temporary directory of the test binary
// (tests never write into the user's cache), removed by TestMain.
var (
	sharedOnce sync.Once
	sharedReg  *Registry
)

// cacheDir is wazero's compile cache of this test run (see testcache): a
// cold start costs ~8 s, ~90 s under -race, a warm one ~0.2 s.
var cacheDir string

func registry(t testing.TB) *Registry {
	t.Helper()
	sharedOnce.Do(func() { sharedReg = NewRegistry(Options{PDFiumCacheDir: cacheDir}) })
	return sharedReg
}

func TestMain(m *testing.M) {
	dir, cleanup, err := testcache.PDFium("engine-test-wazero-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "engine tests: no temporary directory:", err)
		os.Exit(1)
	}
	cacheDir = dir
	code := m.Run()
	if sharedReg != nil {
		sharedReg.Close()
	}
	cleanup()
	os.Exit(code)
}

// testImage is a gradient with a translucent corner, so encoders and the
// JPEG flattening have something to do.
func testImage(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			a := uint8(255)
			if x < w/4 && y < h/4 {
				a = 128
			}
			img.SetNRGBA(x, y, color.NRGBA{uint8(x * 255 / w), uint8(y * 255 / h), 100, a})
		}
	}
	return img
}

func writeImage(t testing.TB, dir, name string, w, h int) File {
	t.Helper()
	var buf bytes.Buffer
	img := testImage(w, h)
	var err error
	switch formatOf(name, "") {
	case "png":
		err = png.Encode(&buf, img)
	case "jpg":
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95})
	case "gif":
		err = gif.Encode(&buf, img, nil)
	case "bmp":
		err = bmp.Encode(&buf, img)
	case "tiff":
		err = tiff.Encode(&buf, img, nil)
	default:
		t.Fatalf("no encoder for %s", name)
	}
	if err != nil {
		t.Fatal(err)
	}
	return writeRaw(t, dir, name, buf.Bytes())
}

func writeRaw(t testing.TB, dir, name string, data []byte) File {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return File{Name: name, Path: p, Size: int64(len(data))}
}

// writePDF makes a PDF with one page per generated image (each w x h
// points), optionally with Info properties such as Title.
func writePDF(t testing.TB, dir, name string, pages, w, h int, props map[string]string) File {
	t.Helper()
	var readers []io.Reader
	for i := range pages {
		var buf bytes.Buffer
		if err := png.Encode(&buf, testImage(w+i, h)); err != nil {
			t.Fatal(err)
		}
		readers = append(readers, &buf)
	}
	var out bytes.Buffer
	if err := api.ImportImages(nil, &out, readers, pdfcpu.DefaultImportConfig(), pdfConf()); err != nil {
		t.Fatal(err)
	}
	data := out.Bytes()
	if len(props) > 0 {
		var withProps bytes.Buffer
		if err := api.AddProperties(bytes.NewReader(data), &withProps, props, pdfConf()); err != nil {
			t.Fatal(err)
		}
		data = withProps.Bytes()
	}
	return writeRaw(t, dir, name, data)
}

// jpegWithExif builds a JPEG whose APP1 segment carries Make, Orientation
// and (in the Exif sub-IFD) DateTimeOriginal, little-endian.
func jpegWithExif(t testing.TB, dir, name string) File {
	t.Helper()
	var img bytes.Buffer
	if err := jpeg.Encode(&img, testImage(40, 30), nil); err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	var tf bytes.Buffer
	tf.WriteString("II*\x00")
	binary.Write(&tf, le, uint32(8))
	entry := func(tag, typ uint16, count, value uint32) {
		binary.Write(&tf, le, tag)
		binary.Write(&tf, le, typ)
		binary.Write(&tf, le, count)
		binary.Write(&tf, le, value)
	}
	// IFD0 at 8: 3 entries -> 2 + 36 + 4 = 42 bytes, data follows at 50.
	camMake := "TestCam\x00"
	date := "2024:05:06 07:08:09\x00"
	exifIFD := uint32(50 + len(camMake))
	binary.Write(&tf, le, uint16(3))
	entry(0x010f, 2, uint32(len(camMake)), 50)
	entry(0x0112, 3, 1, 6)
	entry(0x8769, 4, 1, exifIFD)
	binary.Write(&tf, le, uint32(0))
	tf.WriteString(camMake)
	// Exif IFD: 1 entry -> 2 + 12 + 4 = 18 bytes, then the date.
	binary.Write(&tf, le, uint16(1))
	entry(0x9003, 2, uint32(len(date)), exifIFD+18)
	binary.Write(&tf, le, uint32(0))
	tf.WriteString(date)

	seg := append([]byte("Exif\x00\x00"), tf.Bytes()...)
	var out bytes.Buffer
	out.Write([]byte{0xff, 0xd8, 0xff, 0xe1})
	binary.Write(&out, binary.BigEndian, uint16(len(seg)+2))
	out.Write(seg)
	out.Write(img.Bytes()[2:])
	return writeRaw(t, dir, name, out.Bytes())
}

func decodeFile(t testing.TB, path string) (image.Image, string) {
	t.Helper()
	info, err := probeImage(path, filepath.Base(path))
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	img, err := decodeImage(context.Background(), path, filepath.Base(path), info)
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	return img, info.format
}

func pageCount(t testing.TB, path string) int {
	t.Helper()
	n, err := api.PageCountFile(path)
	if err != nil {
		t.Fatalf("page count of %s: %v", path, err)
	}
	return n
}

func run(t testing.TB, req Request) (Result, error) {
	t.Helper()
	if req.OutDir == "" {
		req.OutDir = t.TempDir()
	}
	return registry(t).Run(context.Background(), req, nil)
}

func mustRun(t testing.TB, req Request) Result {
	t.Helper()
	res, err := run(t, req)
	if err != nil {
		t.Fatalf("Run(%s %s -> %s): %v", req.Operation, req.InputFormat, req.OutputFormat, err)
	}
	return res
}

func wantCode(t testing.TB, err error, code string) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("want *Error with code %s, got %v", code, err)
	}
	if e.Code != code {
		t.Fatalf("want code %s, got %s (%s)", code, e.Code, e.Message)
	}
	return e
}
