package engine

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"io"
	"math"
	"math/bits"
)

// Limits bound what one request may cost. They are checked from file
// headers and options before anything is decoded or allocated, so a tiny
// file that announces a huge image fails fast instead of exhausting memory.
// Zero fields take the registry's Options.Limits, then the defaults.
type Limits struct {
	// MaxImageMemory bounds the memory one image step holds at once: the
	// decoded input (width x height x bytes per pixel of its colour model,
	// plus the decoder's scratch), the resized output (4 bytes per pixel),
	// the resampler's scratch and the copy an encoder makes (JPEG
	// flattening, GIF palette, TIFF compression). A rendered PDF page
	// counts at 4 bytes per pixel. Default DefaultMaxImageMemory.
	MaxImageMemory int64
	// MaxPages bounds how many PDF pages one task renders (each page is a
	// stored file and an entry in every answer about the task). Default
	// DefaultMaxPages.
	MaxPages int
	// MaxArchiveEntries bounds the entries of an archive to extract (each
	// is a stored file and an entry in every answer about the task).
	// Default DefaultMaxArchiveEntries.
	MaxArchiveEntries int
	// MaxExtractBytes bounds the bytes an extraction writes, counted as
	// they are decompressed (the sizes an archive announces may lie).
	// Default DefaultMaxExtractBytes.
	MaxExtractBytes int64
}

const (
	// DefaultMaxImageMemory (256 MiB) fits an 8192 x 8192 RGBA image, or a
	// 50-megapixel photo converted or resized, and refuses a 16-bit
	// 10000 x 10000 PNG (763 MiB decoded). With the server's default of
	// four workers the image work of a whole server stays near 1 GiB.
	DefaultMaxImageMemory = 256 << 20
	// DefaultMaxPages (5000) is above any ordinary document; a crafted PDF
	// with tens of thousands of tiny pages fails before the first render,
	// and the task time limit bounds what is below the cap.
	DefaultMaxPages = 5000
	// DefaultMaxArchiveEntries (5000) matches the page cap: one task's
	// results stay a list a client can page through.
	DefaultMaxArchiveEntries = 5000
	// DefaultMaxExtractBytes (1 GiB) matches the server's default file
	// size limit: what an upload may be, an extraction may make.
	DefaultMaxExtractBytes = 1 << 30
)

// limitsFor resolves the limits of one request.
func (r *Registry) limitsFor(req Request) Limits {
	l := req.Limits
	if l.MaxImageMemory <= 0 {
		l.MaxImageMemory = r.opts.Limits.MaxImageMemory
	}
	if l.MaxImageMemory <= 0 {
		l.MaxImageMemory = DefaultMaxImageMemory
	}
	if l.MaxPages <= 0 {
		l.MaxPages = r.opts.Limits.MaxPages
	}
	if l.MaxPages <= 0 {
		l.MaxPages = DefaultMaxPages
	}
	if l.MaxArchiveEntries <= 0 {
		l.MaxArchiveEntries = r.opts.Limits.MaxArchiveEntries
	}
	if l.MaxArchiveEntries <= 0 {
		l.MaxArchiveEntries = DefaultMaxArchiveEntries
	}
	if l.MaxExtractBytes <= 0 {
		l.MaxExtractBytes = r.opts.Limits.MaxExtractBytes
	}
	if l.MaxExtractBytes <= 0 {
		l.MaxExtractBytes = DefaultMaxExtractBytes
	}
	return l
}

// mul multiplies non-negative sizes, saturating at MaxInt64 instead of
// overflowing, so a crafted header cannot wrap a cost around to a small
// number.
func mul(f ...int64) int64 {
	p := uint64(1)
	for _, v := range f {
		if v < 0 {
			return math.MaxInt64
		}
		hi, lo := bits.Mul64(p, uint64(v))
		if hi != 0 || lo > math.MaxInt64 {
			return math.MaxInt64
		}
		p = lo
	}
	return int64(p)
}

// add sums non-negative sizes, saturating.
func add(f ...int64) int64 {
	var s int64
	for _, v := range f {
		if v < 0 || s > math.MaxInt64-v {
			return math.MaxInt64
		}
		s += v
	}
	return s
}

// human prints a byte count for messages.
func human(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n), 0
	for f >= unit && i < 5 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", f, "KMGTPE"[i-1])
}

// bytesPerPixel is what a decoder allocates per pixel for a colour model.
func bytesPerPixel(m color.Model) int64 {
	if _, ok := m.(color.Palette); ok { // a slice: compare it before ==
		return 1
	}
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.YCbCrModel:
		return 3 // 4:4:4, the worst subsampling
	case color.RGBAModel, color.NRGBAModel, color.CMYKModel, color.NYCbCrAModel:
		return 4
	case color.RGBA64Model, color.NRGBA64Model:
		return 8
	}
	return 8
}

// opaqueModel reports colour models without alpha (no flattening copy for JPEG).
func opaqueModel(m color.Model) bool {
	if _, ok := m.(color.Palette); ok {
		return false
	}
	switch m {
	case color.GrayModel, color.Gray16Model, color.YCbCrModel, color.CMYKModel:
		return true
	}
	return false
}

// resizePlan is the geometry of one resize, computed without allocating.
type resizePlan struct {
	resize bool
	dw, dh int64
	crop   image.Rectangle // source rectangle, relative to the source's origin
	kernel bool            // BiLinear (needs scratch) rather than ApproxBiLinear
}

// planSize applies CloudConvert's fit semantics to a sw x sh source:
//   - max: fit inside width x height keeping the aspect ratio, never enlarge;
//   - upscale: like max, but enlarges small images;
//   - crop: cover width x height, then cut the excess from the centre;
//   - scale: exactly width x height, ignoring the aspect ratio.
//
// A missing width or height is derived from the other by the aspect ratio.
// All arithmetic is in int64 or float64: the result may be absurdly large,
// and it is the caller's budget check that refuses it.
func planSize(sw, sh int, s sizeOpts) resizePlan {
	full := image.Rect(0, 0, sw, sh)
	if (s.width == 0 && s.height == 0) || sw <= 0 || sh <= 0 {
		return resizePlan{crop: full}
	}
	w, h := int64(s.width), int64(s.height)
	if w == 0 {
		w = max(1, int64(sw)*h/int64(sh))
	}
	if h == 0 {
		h = max(1, int64(sh)*w/int64(sw))
	}
	clamp := func(f float64) int64 { return int64(min(max(f, 1), 1<<40)) }
	switch s.fit {
	case "scale":
		return resizePlan{resize: w != int64(sw) || h != int64(sh), dw: w, dh: h, crop: full}
	case "crop":
		scale := max(float64(w)/float64(sw), float64(h)/float64(sh))
		cw, ch := int(min(clamp(float64(w)/scale+0.5), int64(sw))), int(min(clamp(float64(h)/scale+0.5), int64(sh)))
		x0, y0 := (sw-cw)/2, (sh-ch)/2
		return resizePlan{resize: true, dw: w, dh: h, crop: image.Rect(x0, y0, x0+cw, y0+ch)}
	default: // max, upscale
		scale := min(float64(w)/float64(sw), float64(h)/float64(sh))
		if scale >= 1 && s.fit == "max" {
			return resizePlan{crop: full}
		}
		dw, dh := clamp(float64(sw)*scale+0.5), clamp(float64(sh)*scale+0.5)
		return resizePlan{resize: dw != int64(sw) || dh != int64(sh), dw: dw, dh: dh, crop: full}
	}
}

// imageCost is what an image step needs besides its decoded input.
type imageCost struct {
	plan resizePlan
	// out is the memory after the input: resized output, scratch, the
	// encoder's copy.
	out int64
}

// planStep budgets one image step: a decoded sw x sh source of srcBytes
// (already checked), resized by size, then encoded as format (lossless: WebP's lossless encoder). It picks the
// resampler: BiLinear when its dw x sh scratch (32 bytes per cell) fits,
// else ApproxBiLinear, which needs none.
func planStep(display string, sw, sh int, srcBytes int64, srcOpaque bool, size sizeOpts, format string, lossless bool, budget int64) (imageCost, error) {
	p := planSize(sw, sh, size)
	var c imageCost
	ow, oh := int64(sw), int64(sh)
	if p.resize {
		ow, oh = p.dw, p.dh
		c.out = mul(p.dw, p.dh, 4)
		if add(srcBytes, c.out) > budget {
			return c, newError(CodeInvalidOptions, nil,
				"resizing %s (%dx%d) to width %s, height %s with fit=%s makes a %dx%d image (%s in memory); the limit is %s per image: ask for a smaller width or height",
				display, sw, sh, dim(size.width), dim(size.height), size.fit, p.dw, p.dh, human(c.out), human(budget))
		}
	}
	switch format { // the encoder's own copy
	case "jpg":
		if !srcOpaque { // flattening onto white (a scaled opaque image stays opaque)
			c.out = add(c.out, mul(ow, oh, 4))
		}
	case "gif":
		c.out = add(c.out, mul(ow, oh, 1))
	case "tiff":
		c.out = add(c.out, mul(ow, oh, 4))
	case "webp":
		c.out = add(c.out, mul(ow, oh, webpCost(lossless)))
	}
	if total := add(srcBytes, c.out); total > budget {
		return c, newError(CodeInvalidOptions, nil, "writing %s as a %dx%d %s needs %s in memory; the limit is %s per image: ask for a smaller width or height",
			display, ow, oh, format, human(total), human(budget))
	}
	if p.resize {
		if scratch := mul(p.dw, int64(p.crop.Dy()), 32); add(srcBytes, c.out, scratch) <= budget {
			p.kernel = true
			c.out = add(c.out, scratch)
		}
	}
	c.plan = p
	return c, nil
}

func dim(n int) string {
	if n == 0 {
		return "auto"
	}
	return fmt.Sprint(n)
}

// ctxReader fails reads once the context ends, so a decoder stops early.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// ctxWriter fails writes once the context ends, so an encoder stops early.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
