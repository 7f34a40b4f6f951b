package engine

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/color"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

func needChromium(t *testing.T) *Registry {
	t.Helper()
	r := registry(t)
	if r.chromium == "" {
		t.Skip("Chromium is not installed, so HTML conversion is not tested; install it with: apt-get install chromium")
	}
	return r
}

func needLibreOffice(t *testing.T) *Registry {
	t.Helper()
	r := registry(t)
	if r.libreoffice == "" {
		t.Skip("LibreOffice is not installed, so office conversion is not tested; install it with: apt-get install " +
			"libreoffice-writer-nogui libreoffice-calc-nogui libreoffice-impress-nogui")
	}
	return r
}

// TestHTMLToPDF converts an HTML file with Chromium. The page also tries
// to pull in a local file and a private address: neither may reach the
// result. (Opened as a file:// URL, the same page does show the local
// file: Chromium lets file:// pages frame other local files.)
func TestHTMLToPDF(t *testing.T) {
	needChromium(t)
	dir := t.TempDir()
	secret := writeRaw(t, dir, "secret.txt", []byte("LOCAL-SECRET-MARKER-991"))
	private := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "PRIVATE-ANSWER-7731")
	}))
	defer private.Close()
	refuseLoopback := func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, _ := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
			return nil, errors.New("loopback refused")
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	page := writeRaw(t, dir, "invoice.html", []byte(`<!doctype html><html><body style="background:#00c">
<h1>Invoice 2024-17 from HTML</h1><p>Total: 42 EUR</p>
<iframe src="file://`+secret.Path+`"></iframe>
<iframe src="`+private.URL+`/"></iframe>
</body></html>`))
	res := mustRun(t, Request{Operation: "convert", Inputs: []File{page}, OutputFormat: "pdf", Dial: refuseLoopback})
	if res.Engine != "chromium" || len(res.Files) != 1 || res.Files[0].Name != "invoice.pdf" {
		t.Fatalf("result %+v", res)
	}
	pages, err := pdfText(t, res.Files[0].Path, "")
	if err != nil || len(pages) == 0 {
		t.Fatalf("the PDF: %v", err)
	}
	text := strings.Join(pages, "\n")
	if !strings.Contains(text, "Invoice 2024-17 from HTML") || !strings.Contains(text, "Total: 42 EUR") {
		t.Fatalf("PDF text %q lacks the page's text", text)
	}
	if strings.Contains(text, "PRIVATE-ANSWER-7731") {
		t.Fatal("the page reached a refused address")
	}
	if strings.Contains(text, "LOCAL-SECRET-MARKER-991") {
		t.Fatal("the page embedded a local file")
	}

	res = mustRun(t, Request{Operation: "convert", Inputs: []File{page}, OutputFormat: "png", Dial: refuseLoopback,
		Options: map[string]any{"screen_width": 640, "screen_height": 480}})
	img, _ := decodeFile(t, res.Files[0].Path)
	if b := img.Bounds(); b.Dx() != 640 || b.Dy() != 480 {
		t.Fatalf("screenshot %v", b)
	}
	if c := color.NRGBAModel.Convert(img.At(600, 450)).(color.NRGBA); c.B < 0xb0 || c.R > 0x40 {
		t.Fatalf("page background not rendered: %v", c)
	}
}

// odp is a minimal OpenDocument presentation with one slide.
func odp(t *testing.T, dir, name, text string) File {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: "mimetype", Method: zip.Store})
	w.Write([]byte("application/vnd.oasis.opendocument.presentation"))
	w, _ = zw.Create("META-INF/manifest.xml")
	w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">
 <manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.presentation"/>
 <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
</manifest:manifest>`))
	w, _ = zw.Create("content.xml")
	w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0" office:version="1.2">
 <office:body><office:presentation><draw:page draw:name="slide1">
  <draw:frame svg:x="2cm" svg:y="2cm" svg:width="20cm" svg:height="3cm"><draw:text-box><text:p>` + text + `</text:p></draw:text-box></draw:frame>
 </draw:page></office:presentation></office:body></office:document-content>`))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return writeRaw(t, dir, name, buf.Bytes())
}

// TestLibreOfficeComponents converts with each LibreOffice component:
// Writer (documents), Calc (spreadsheets) and Impress (presentations),
// and reads the text back out of the PDFs.
func TestLibreOfficeComponents(t *testing.T) {
	needLibreOffice(t)
	if testing.Short() {
		t.Skip("LibreOffice conversion is slow; skipped in -short mode")
	}
	dir := t.TempDir()
	pdfHas := func(t *testing.T, f File, want string) {
		t.Helper()
		pages, err := pdfText(t, f.Path, "")
		if err != nil || !strings.Contains(strings.Join(pages, "\n"), want) {
			t.Fatalf("%s: text %q (%v) lacks %q", f.Name, pages, err, want)
		}
	}
	isZip := func(t *testing.T, f File) {
		t.Helper()
		if b, _ := os.ReadFile(f.Path); !bytes.HasPrefix(b, []byte("PK")) {
			t.Fatalf("%s is not a zip container", f.Name)
		}
	}
	t.Run("writer", func(t *testing.T) {
		txt := writeRaw(t, dir, "letter.txt", []byte("Dear reader,\nthe writer component works.\n"))
		docx := mustRun(t, Request{Operation: "convert", Inputs: []File{txt}, OutputFormat: "docx"}).Files[0]
		isZip(t, docx)
		res := mustRun(t, Request{Operation: "convert", Inputs: []File{docx}, OutputFormat: "pdf"})
		if res.Engine != "libreoffice" {
			t.Fatalf("engine %s", res.Engine)
		}
		pdfHas(t, res.Files[0], "the writer component works")
	})
	t.Run("calc", func(t *testing.T) {
		csv := writeRaw(t, dir, "sheet.csv", []byte("item,amount\nwidgets,1234\ngadgets,5678\n"))
		xlsx := mustRun(t, Request{Operation: "convert", Inputs: []File{csv}, OutputFormat: "xlsx"}).Files[0]
		isZip(t, xlsx)
		pdfHas(t, mustRun(t, Request{Operation: "convert", Inputs: []File{xlsx}, OutputFormat: "pdf"}).Files[0], "5678")
		back := mustRun(t, Request{Operation: "convert", Inputs: []File{xlsx}, OutputFormat: "csv"}).Files[0]
		if b, _ := os.ReadFile(back.Path); !strings.Contains(string(b), "gadgets,5678") {
			t.Fatalf("xlsx -> csv: %q", b)
		}
	})
	t.Run("impress", func(t *testing.T) {
		deck := odp(t, dir, "deck.odp", "Quarterly slide 77")
		pdfHas(t, mustRun(t, Request{Operation: "convert", Inputs: []File{deck}, OutputFormat: "pdf"}).Files[0], "Quarterly slide 77")
		pptx := mustRun(t, Request{Operation: "convert", Inputs: []File{deck}, OutputFormat: "pptx"}).Files[0]
		isZip(t, pptx)
		pdfHas(t, mustRun(t, Request{Operation: "convert", Inputs: []File{pptx}, OutputFormat: "pdf"}).Files[0], "Quarterly slide 77")
	})
}
