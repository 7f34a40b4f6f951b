package engine

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
	"golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/gobolditalic"
	"golang.org/x/image/font/gofont/goitalic"
	"golang.org/x/image/font/gofont/gomono"
	"golang.org/x/image/font/gofont/gomonobold"
	"golang.org/x/image/font/gofont/gomonobolditalic"
	"golang.org/x/image/font/gofont/gomonoitalic"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/f64"
	"golang.org/x/image/math/fixed"
)

// wmSpec is a watermark task's options, read and checked once.
type wmSpec struct {
	text                     string
	fontSize                 int
	color                    color.NRGBA
	fontName                 string
	image                    *File
	imageW, imageH, imagePct int
	posV, posH               string
	marginV, marginH         int
	opacity, rotation        int
	pages                    string
	below                    bool
}

const maxWatermarkText = 1000

func readWatermark(req Request) (wmSpec, error) {
	s := wmSpec{text: strings.Join(strings.Fields(optString(req.Options, "text")), " "), image: req.Image,
		posV: optString(req.Options, "position_vertical"), posH: optString(req.Options, "position_horizontal"),
		fontName: optString(req.Options, "font_name"), pages: optString(req.Options, "pages"),
		below: optString(req.Options, "layer") == "below"}
	if name := optString(req.Options, "image"); name != "" && s.image == nil {
		return s, newError(CodeInvalidOptions, nil, "option image %q does not name a task with a file or an http(s) URL that could be read", short(name))
	}
	switch {
	case s.text == "" && s.image == nil:
		return s, newError(CodeInvalidOptions, nil, "watermark needs the option text (the words to stamp) or image (a task or URL of an image)")
	case s.text != "" && s.image != nil:
		return s, newError(CodeInvalidOptions, nil, "watermark takes text or image, not both: make two watermark tasks, one after the other")
	case utf8.RuneCountInString(s.text) > maxWatermarkText:
		return s, newError(CodeInvalidOptions, nil, "option text is longer than %d characters", maxWatermarkText)
	}
	ints := []struct {
		dst         *int
		key         string
		lo, hi, def int
	}{
		{&s.fontSize, "font_size", 1, 1000, 40}, {&s.imageW, "image_width", 1, 20000, 0}, {&s.imageH, "image_height", 1, 20000, 0},
		{&s.imagePct, "image_width_percent", 1, 100, 0}, {&s.marginV, "margin_vertical", 0, 10000, 25},
		{&s.marginH, "margin_horizontal", 0, 10000, 25}, {&s.opacity, "opacity", 0, 100, 100}, {&s.rotation, "rotation", -360, 360, 0},
	}
	for _, o := range ints {
		v, err := optRange(req.Options, o.key, o.lo, o.hi, o.def)
		if err != nil {
			return s, err
		}
		*o.dst = v
	}
	if s.posV == "" {
		s.posV = "center"
	}
	if s.posH == "" {
		s.posH = "center"
	}
	if s.fontName == "" {
		s.fontName = "Helvetica"
	}
	c, err := parseColor(optString(req.Options, "font_color"))
	if err != nil {
		return s, err
	}
	s.color = c
	return s, nil
}

// parseColor reads "#RRGGBB" or "#RGB" (the "#" optional); "" is black.
func parseColor(v string) (color.NRGBA, error) {
	h := strings.TrimPrefix(v, "#")
	if len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	if v == "" {
		return color.NRGBA{A: 255}, nil
	}
	n, err := strconv.ParseUint(h, 16, 32)
	if len(h) != 6 || err != nil {
		return color.NRGBA{}, newError(CodeInvalidOptions, nil, "option font_color must be a hex colour like \"#FF0000\" or \"#F00\", got %q", short(v))
	}
	return color.NRGBA{R: uint8(n >> 16), G: uint8(n >> 8), B: uint8(n), A: 255}, nil
}

// fontStyle splits a font_name into family (sans, serif, mono) and style.
func fontStyle(name string) (family string, bold, italic bool) {
	bold = strings.Contains(name, "Bold")
	italic = strings.Contains(name, "Italic") || strings.Contains(name, "Oblique")
	switch {
	case strings.HasPrefix(name, "Courier"):
		family = "mono"
	case strings.HasPrefix(name, "Times"):
		family = "serif"
	default:
		family = "sans"
	}
	return family, bold, italic
}

// pdfFont is the standard PDF font for a font_name.
func pdfFont(name string) string {
	family, bold, italic := fontStyle(name)
	base, b, i, bi := "Helvetica", "Helvetica-Bold", "Helvetica-Oblique", "Helvetica-BoldOblique"
	switch family {
	case "mono":
		base, b, i, bi = "Courier", "Courier-Bold", "Courier-Oblique", "Courier-BoldOblique"
	case "serif":
		base, b, i, bi = "Times-Roman", "Times-Bold", "Times-Italic", "Times-BoldItalic"
	}
	switch {
	case bold && italic:
		return bi
	case bold:
		return b
	case italic:
		return i
	}
	return base
}

// goFont is the Go font (TrueType) for a font_name; the Go fonts have
// no serif face, so Times maps to the sans one.
func goFont(name string) []byte {
	family, bold, italic := fontStyle(name)
	if family == "mono" {
		switch {
		case bold && italic:
			return gomonobolditalic.TTF
		case bold:
			return gomonobold.TTF
		case italic:
			return gomonoitalic.TTF
		}
		return gomono.TTF
	}
	switch {
	case bold && italic:
		return gobolditalic.TTF
	case bold:
		return gobold.TTF
	case italic:
		return goitalic.TTF
	}
	return goregular.TTF
}

// watermark stamps text or an image on each input: PDFs through pdfcpu,
// images in Go. Each result keeps its input's format.
func (r *Registry) watermark(ctx context.Context, req Request, progress func(int)) (Result, error) {
	spec, err := readWatermark(req)
	if err != nil {
		return Result{}, err
	}
	enc, err := readEncoding(req.Options, 90)
	if err != nil {
		return Result{}, err
	}
	var res Result
	for i, in := range req.Inputs {
		if err := ctx.Err(); err != nil {
			return removeResult(res, err)
		}
		format := sniffFormat(in.Path)
		var f File
		switch {
		case format == "pdf":
			res.Engine, res.EngineVersion = enginePDFCPU, pdfcpuVersion()
			f, err = r.watermarkPDF(ctx, req, in, spec)
		case isImageInput(format):
			res.Engine, res.EngineVersion = engineGoImage, goVersion()
			f, err = r.watermarkImage(ctx, req, in, format, spec, enc)
		default:
			err = newError(CodeUnsupportedConversion, nil, "watermark of %s is not supported: it takes pdf and images (%s)", displayName(in), strings.Join(imageInputs, ", "))
		}
		if err != nil {
			return removeResult(res, err)
		}
		res.Files = append(res.Files, f)
		progress((i + 1) * 100 / (len(req.Inputs) + 1))
	}
	return res, nil
}

func removeResult(res Result, err error) (Result, error) {
	_, err = removeAll(res.Files, err)
	return Result{}, err
}

// pdfAnchor is pdfcpu's position for the two position options, and the
// offset that keeps the margins (PDF y grows upwards).
func pdfAnchor(s wmSpec) (string, int, int) {
	v := map[string]string{"top": "t", "center": "", "bottom": "b"}[s.posV]
	h := map[string]string{"left": "l", "center": "c", "right": "r"}[s.posH]
	dx, dy := 0, 0
	switch s.posH {
	case "left":
		dx = s.marginH
	case "right":
		dx = -s.marginH
	}
	switch s.posV {
	case "top":
		dy = -s.marginV
	case "bottom":
		dy = s.marginV
	}
	if v == "" && h == "c" {
		return "c", dx, dy
	}
	if v == "" {
		return h, dx, dy // "l" or "r": vertically centred
	}
	if h == "c" {
		return v + "c", dx, dy
	}
	return v + h, dx, dy
}

// normRotation maps degrees to pdfcpu's -180..180.
func normRotation(deg int) int {
	d := ((deg % 360) + 360) % 360 // 0..359
	if d > 180 {
		d -= 360
	}
	return d
}

func (r *Registry) watermarkPDF(ctx context.Context, req Request, in File, s wmSpec) (File, error) {
	display := displayName(in)
	lim := r.limitsFor(req)
	pos, dx, dy := pdfAnchor(s)
	desc := fmt.Sprintf("position:%s, offset:%d %d, opacity:%.3f, rotation:%d", pos, dx, dy, float64(s.opacity)/100, normRotation(s.rotation))
	var (
		wm  *model.Watermark
		err error
	)
	if s.image != nil {
		png, w, h, err := watermarkPNG(ctx, *s.image, lim)
		if err != nil {
			return File{}, err
		}
		switch {
		case s.imagePct > 0:
			desc += fmt.Sprintf(", scalefactor:%.4f rel", float64(s.imagePct)/100)
		case s.imageW > 0:
			desc += fmt.Sprintf(", scalefactor:%.6f abs", float64(s.imageW)/float64(w))
		case s.imageH > 0:
			desc += fmt.Sprintf(", scalefactor:%.6f abs", float64(s.imageH)/float64(h))
		default:
			desc += ", scalefactor:1 abs"
		}
		err = guard("the watermark image", func() error {
			var werr error
			wm, werr = api.ImageWatermarkForReader(bytes.NewReader(png), desc, !s.below, false, types.POINTS)
			return werr
		})
		if err != nil {
			return File{}, asInvalid(err, "the watermark image could not be placed into a PDF")
		}
	} else {
		desc += fmt.Sprintf(", fontname:%s, points:%d, fillcolor:#%02x%02x%02x, scalefactor:1 abs",
			pdfFont(s.fontName), s.fontSize, s.color.R, s.color.G, s.color.B)
		err = guard("the watermark text", func() error {
			var werr error
			wm, werr = api.TextWatermark(s.text, desc, !s.below, false, types.POINTS)
			return werr
		})
		if err != nil {
			return File{}, asInvalid(err, "the watermark text could not be set")
		}
	}
	pc, err := readContext(in, pdfConf(), lim)
	if err != nil {
		return File{}, err
	}
	var selected types.IntSet
	if s.pages != "" {
		pages, err := parsePages(s.pages, pc.PageCount, lim.MaxPages)
		if err != nil {
			return File{}, err
		}
		selected = make(types.IntSet, len(pages))
		for _, p := range pages {
			selected[p] = true
		}
	}
	if err := guard(display, func() error { return api.WatermarkContext(pc, selected, wm) }); err != nil {
		return File{}, pdfErr(err, display)
	}
	return writeContext(ctx, pc, req.OutDir, outputNames(req, baseName(in), "pdf", nil)[0], display)
}

// watermarkPNG decodes a watermark image (any supported format, within
// the image budget) and re-encodes it as PNG, which pdfcpu embeds.
func watermarkPNG(ctx context.Context, img File, lim Limits) ([]byte, int, int, error) {
	decoded, err := decodeWatermark(ctx, img, lim.MaxImageMemory)
	if err != nil {
		return nil, 0, 0, err
	}
	var buf bytes.Buffer
	if err := encodeImage(ctxWriter{ctx, &buf}, decoded, "png", encoding{}); err != nil {
		return nil, 0, 0, fmt.Errorf("encode the watermark image: %w", err)
	}
	b := decoded.Bounds()
	return buf.Bytes(), b.Dx(), b.Dy(), nil
}

func decodeWatermark(ctx context.Context, img File, budget int64) (image.Image, error) {
	display := "the watermark image " + displayName(img)
	info, err := probeImage(img.Path, display)
	if err != nil {
		return nil, err
	}
	if err := checkDecode(info, display, budget); err != nil {
		return nil, err
	}
	return decodeImage(ctx, img.Path, display, info)
}

// overlaySize is the size of the watermark before rotation: the text's
// extent in the chosen font, or the scaled image. It allocates nothing.
func overlaySize(s wmSpec, face font.Face, imgW, imgH, baseW int) (int, int) {
	if s.image == nil {
		m := face.Metrics()
		w := font.MeasureString(face, s.text).Ceil()
		return max(w, 1), max((m.Ascent + m.Descent).Ceil(), 1)
	}
	w, h := imgW, imgH
	switch {
	case s.imagePct > 0:
		w = max(1, baseW*s.imagePct/100)
		h = max(1, int(int64(imgH)*int64(w)/int64(imgW)))
	case s.imageW > 0 && s.imageH > 0:
		w, h = s.imageW, s.imageH
	case s.imageW > 0:
		w, h = s.imageW, max(1, int(int64(imgH)*int64(s.imageW)/int64(imgW)))
	case s.imageH > 0:
		w, h = max(1, int(int64(imgW)*int64(s.imageH)/int64(imgH))), s.imageH
	}
	return w, h
}

// rotatedSize is the bounding box of a w x h rectangle turned by deg.
func rotatedSize(w, h, deg int) (int, int) {
	if deg%360 == 0 {
		return w, h
	}
	rad := float64(deg) * math.Pi / 180
	c, s := math.Abs(math.Cos(rad)), math.Abs(math.Sin(rad))
	fw, fh := float64(w)*c+float64(h)*s, float64(w)*s+float64(h)*c
	return int(math.Ceil(min(fw, 1<<30))), int(math.Ceil(min(fh, 1<<30)))
}

func (r *Registry) watermarkImage(ctx context.Context, req Request, in File, format string, s wmSpec, enc encoding) (File, error) {
	display := displayName(in)
	lim := r.limitsFor(req)
	info, err := probeImage(in.Path, display)
	if err != nil {
		return File{}, err
	}
	if err := checkDecode(info, display, lim.MaxImageMemory); err != nil {
		return File{}, err
	}
	W, H := info.cfg.Width, info.cfg.Height
	var (
		face       font.Face
		wmImg      image.Image
		wmInfo     imageInfo
		imgW, imgH int
	)
	if s.image == nil {
		ft, err := opentype.Parse(goFont(s.fontName))
		if err != nil {
			return File{}, fmt.Errorf("font: %w", err)
		}
		face, err = opentype.NewFace(ft, &opentype.FaceOptions{Size: float64(s.fontSize), DPI: 72, Hinting: font.HintingNone})
		if err != nil {
			return File{}, fmt.Errorf("font: %w", err)
		}
		defer face.Close()
	} else {
		if wmInfo, err = probeImage(s.image.Path, "the watermark image"); err != nil {
			return File{}, err
		}
		imgW, imgH = wmInfo.cfg.Width, wmInfo.cfg.Height
	}
	ow, oh := overlaySize(s, face, imgW, imgH, W)
	rw, rh := rotatedSize(ow, oh, s.rotation)
	// Everything held at once: the decoded input, the RGBA canvas, the
	// decoded watermark image, the overlay and its rotated copy; then
	// what the encoder adds (planStep).
	held := add(info.decoded, mul(int64(W), int64(H), 4), wmInfo.decoded, mul(int64(ow), int64(oh), 4), mul(int64(rw), int64(rh), 4))
	if held > lim.MaxImageMemory {
		return File{}, newError(CodeInvalidOptions, nil, "watermarking %s (%dx%d) with a %dx%d watermark needs %s in memory; the limit is %s per image: use a smaller font_size or image",
			display, W, H, ow, oh, human(held), human(lim.MaxImageMemory))
	}
	if _, err := planStep(display, W, H, held, false, sizeOpts{}, format, enc.lossless, lim.MaxImageMemory); err != nil {
		return File{}, err
	}
	src, err := decodeImage(ctx, in.Path, display, info)
	if err != nil {
		return File{}, err
	}
	canvas := image.NewRGBA(image.Rect(0, 0, W, H))
	draw.Draw(canvas, canvas.Bounds(), src, src.Bounds().Min, draw.Src)
	src = nil
	overlay := image.NewRGBA(image.Rect(0, 0, ow, oh))
	if s.image == nil {
		d := font.Drawer{Dst: overlay, Src: image.NewUniform(s.color), Face: face, Dot: fixed.P(0, face.Metrics().Ascent.Ceil())}
		d.DrawString(s.text)
	} else {
		if wmImg, err = decodeImage(ctx, s.image.Path, "the watermark image", wmInfo); err != nil {
			return File{}, err
		}
		draw.BiLinear.Scale(overlay, overlay.Bounds(), wmImg, wmImg.Bounds(), draw.Src, nil)
		wmImg = nil
	}
	if err := ctx.Err(); err != nil {
		return File{}, err
	}
	var placed image.Image = overlay
	if rw != ow || rh != oh || s.rotation%360 != 0 {
		rotated := image.NewRGBA(image.Rect(0, 0, rw, rh))
		rad := float64(s.rotation) * math.Pi / 180
		c, sn := math.Cos(rad), math.Sin(rad)
		// Counter-clockwise on screen, where y grows downwards.
		csx, csy, cdx, cdy := float64(ow)/2, float64(oh)/2, float64(rw)/2, float64(rh)/2
		m := f64.Aff3{c, sn, cdx - (c*csx + sn*csy), -sn, c, cdy - (-sn*csx + c*csy)}
		draw.BiLinear.Transform(rotated, m, overlay, overlay.Bounds(), draw.Over, nil)
		placed = rotated
	}
	x, y := (W-rw)/2, (H-rh)/2
	switch s.posH {
	case "left":
		x = s.marginH
	case "right":
		x = W - rw - s.marginH
	}
	switch s.posV {
	case "top":
		y = s.marginV
	case "bottom":
		y = H - rh - s.marginV
	}
	mask := image.NewUniform(color.Alpha{A: uint8(s.opacity * 255 / 100)})
	draw.DrawMask(canvas, image.Rect(x, y, x+rw, y+rh), placed, image.Point{}, mask, image.Point{}, draw.Over)
	return writeImageFile(ctx, req.OutDir, outputNames(req, baseName(in), format, nil)[0], canvas, format, enc)
}
