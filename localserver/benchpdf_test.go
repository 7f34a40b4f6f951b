package localserver

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"math"
	"strings"
	"testing"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
)

// textPDF builds an ordinary text document of the given number of A4
// pages: a coloured header band, 40 lines of 10 pt running text, a table
// of ruled cells and a bar chart with curves on every page. The font (Go
// Regular, a TrueType font) is embedded, so every renderer rasterizes the
// same glyphs and none depends on the fonts installed on the machine.
// Streams are Flate-compressed, as in PDFs written by office software.
func textPDF(tb testing.TB, pages int) []byte {
	tb.Helper()
	f, err := sfnt.Parse(goregular.TTF)
	if err != nil {
		tb.Fatal(err)
	}
	var sb sfnt.Buffer
	upem := float64(f.UnitsPerEm())
	widths := make([]string, 0, 95)
	for r := rune(32); r <= 126; r++ {
		gi, err := f.GlyphIndex(&sb, r)
		if err != nil {
			tb.Fatal(err)
		}
		adv, err := f.GlyphAdvance(&sb, gi, fixed.I(int(upem)), font.HintingNone)
		if err != nil {
			tb.Fatal(err)
		}
		widths = append(widths, fmt.Sprint(math.Round(float64(adv)/64*1000/upem)))
	}

	var objs []string // objs[i] is object i+1
	add := func(s string) int { objs = append(objs, s); return len(objs) }
	stream := func(dict string, data []byte) string {
		var z bytes.Buffer
		w := zlib.NewWriter(&z)
		w.Write(data)
		w.Close()
		return fmt.Sprintf("<< %s /Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream", dict, z.Len(), z.Bytes())
	}
	catalog := add("") // filled below
	pagesObj := add("")
	fontFile := add(stream(fmt.Sprintf("/Length1 %d", len(goregular.TTF)), goregular.TTF))
	desc := add(fmt.Sprintf("<< /Type /FontDescriptor /FontName /GoRegular /Flags 32 /FontBBox [-200 -250 1200 950] /ItalicAngle 0 /Ascent 930 /Descent -220 /CapHeight 720 /StemV 80 /FontFile2 %d 0 R >>", fontFile))
	fontObj := add(fmt.Sprintf("<< /Type /Font /Subtype /TrueType /BaseFont /GoRegular /FirstChar 32 /LastChar 126 /Widths [%s] /FontDescriptor %d 0 R /Encoding /WinAnsiEncoding >>", strings.Join(widths, " "), desc))

	words := strings.Fields("the local server converts files offline with the same API as the real service; " +
		"jobs import files, convert them and export the results, and every answer is checked against the OpenAPI document " +
		"so that clients written against one work against the other")
	var kids []string
	for p := range pages {
		var c strings.Builder
		c.WriteString("0.15 0.35 0.6 rg 0 792 595 50 re f\n")
		fmt.Fprintf(&c, "BT /F1 20 Tf 1 1 1 rg 40 808 Td (Page %d: a benchmark document) Tj ET\n", p+1)
		c.WriteString("BT /F1 10 Tf 0 0 0 rg 12 TL 40 770 Td\n")
		for l := range 40 {
			var line []string
			for k := range 14 {
				line = append(line, words[(p*7+l*3+k)%len(words)])
			}
			fmt.Fprintf(&c, "(%s) '\n", strings.Join(line, " "))
		}
		c.WriteString("ET\n0.5 w 0.3 0.3 0.3 RG\n")
		for row := range 6 { // a ruled table under the text
			for col := range 5 {
				fmt.Fprintf(&c, "%d %d 100 16 re S\n", 40+col*100, 60+row*16)
			}
		}
		for i := range 10 { // a bar chart with a smooth curve over it
			fmt.Fprintf(&c, "%.2f %.2f %.2f rg %d 170 30 %d re f\n", 0.2+0.06*float64(i), 0.5, 0.8-0.05*float64(i), 60+i*45, 10+((i*37+p*11)%60))
		}
		c.WriteString("1 w 0.8 0.1 0.1 RG 60 180 m 150 260 240 160 330 230 c 420 300 480 180 540 240 c S\n")
		content := add(stream("", []byte(c.String())))
		kids = append(kids, fmt.Sprintf("%d 0 R", add(fmt.Sprintf(
			"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>",
			pagesObj, fontObj, content))))
	}
	objs[catalog-1] = fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R >>", pagesObj)
	objs[pagesObj-1] = fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), pages)

	var out bytes.Buffer
	out.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = out.Len()
		fmt.Fprintf(&out, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := out.Len()
	fmt.Fprintf(&out, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&out, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&out, "trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, catalog, xref)
	return out.Bytes()
}
