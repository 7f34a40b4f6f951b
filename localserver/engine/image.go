package engine

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"slices"

	"golang.org/x/image/bmp"
	"golang.org/x/image/draw"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"
)

var (
	imageInputs  = []string{"bmp", "gif", "jpg", "png", "tiff", "webp"}
	imageOutputs = []string{"bmp", "gif", "jpg", "png", "tiff"}
)

// maxPixels rejects decompression bombs before a decoder allocates.
const maxPixels = 100_000_000

func isImageInput(f string) bool  { return slices.Contains(imageInputs, f) }
func isImageOutput(f string) bool { return slices.Contains(imageOutputs, f) }

// decoders are chosen by sniffed content, not by the name, so a mislabeled
// file still converts; the explicit table avoids the global image.RegisterFormat.
func decoderFor(head []byte) (string, func(io.Reader) (image.Image, error), func(io.Reader) (image.Config, error)) {
	switch {
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return "png", png.Decode, png.DecodeConfig
	case bytes.HasPrefix(head, []byte("\xff\xd8")):
		return "jpg", jpeg.Decode, jpeg.DecodeConfig
	case bytes.HasPrefix(head, []byte("GIF8")):
		return "gif", gif.Decode, gif.DecodeConfig
	case bytes.HasPrefix(head, []byte("BM")):
		return "bmp", bmp.Decode, bmp.DecodeConfig
	case bytes.HasPrefix(head, []byte("II*\x00")), bytes.HasPrefix(head, []byte("MM\x00*")):
		return "tiff", tiff.Decode, tiff.DecodeConfig
	case len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "WEBP":
		return "webp", webp.Decode, webp.DecodeConfig
	}
	return "", nil, nil
}

// sniffImage reads the header of path and returns its real format and size.
func sniffImage(path, display string) (format string, cfg image.Config, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", cfg, newError(CodeInvalidFile, err, "%s cannot be opened", display)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	head, _ := br.Peek(16)
	format, _, decodeConfig := decoderFor(head)
	if format == "" {
		return "", cfg, newError(CodeInvalidFile, nil, "%s is not a supported image (png, jpg, gif, bmp, tiff, webp)", display)
	}
	err = guard(display, func() error {
		var derr error
		cfg, derr = decodeConfig(br)
		return derr
	})
	if err != nil {
		return "", cfg, asInvalid(err, "%s is a damaged %s image", display, format)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > maxPixels {
		return "", cfg, newError(CodeInvalidFile, nil, "%s has unsupported dimensions %dx%d (limit %d pixels)", display, cfg.Width, cfg.Height, maxPixels)
	}
	return format, cfg, nil
}

// decodeImage decodes the first frame of an image file.
func decodeImage(path, display string) (image.Image, string, error) {
	format, _, err := sniffImage(path, display)
	if err != nil {
		return nil, "", err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, "", newError(CodeInvalidFile, err, "%s cannot be opened", display)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	head, _ := br.Peek(16)
	_, decode, _ := decoderFor(head)
	var img image.Image
	err = guard(display, func() error {
		var derr error
		img, derr = decode(br)
		return derr
	})
	if err != nil {
		return nil, "", asInvalid(err, "%s is a damaged %s image", display, format)
	}
	return img, format, nil
}

// asInvalid keeps an *Error as is and wraps anything else as INVALID_FILE.
func asInvalid(err error, format string, args ...any) error {
	if e, ok := err.(*Error); ok {
		return e
	}
	return newError(CodeInvalidFile, err, format, args...)
}

// encodeImage writes img in format. quality applies to jpg (1..100).
func encodeImage(w io.Writer, img image.Image, format string, quality int, bestPNG bool) error {
	switch format {
	case "png":
		enc := png.Encoder{CompressionLevel: png.DefaultCompression}
		if bestPNG {
			enc.CompressionLevel = png.BestCompression
		}
		return enc.Encode(w, img)
	case "jpg":
		return jpeg.Encode(w, flatten(img), &jpeg.Options{Quality: quality})
	case "gif":
		return gif.Encode(w, img, &gif.Options{NumColors: 256})
	case "bmp":
		return bmp.Encode(w, img)
	case "tiff":
		return tiff.Encode(w, img, &tiff.Options{Compression: tiff.Deflate, Predictor: true})
	}
	return fmt.Errorf("no encoder for %s", format)
}

// flatten paints img over white: JPEG has no alpha, and Go's encoder would
// otherwise turn transparent pixels black.
func flatten(img image.Image) image.Image {
	if o, ok := img.(interface{ Opaque() bool }); ok && o.Opaque() {
		return img
	}
	b := img.Bounds()
	dst := image.NewRGBA(b)
	draw.Draw(dst, b, image.NewUniform(color.White), image.Point{}, draw.Src)
	draw.Draw(dst, b, img, b.Min, draw.Over)
	return dst
}

// writeImageFile encodes img into dir/name (made unique) and stats it.
func writeImageFile(dir, name string, img image.Image, format string, quality int, bestPNG bool) (File, error) {
	path, name := uniquePath(dir, name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return File{}, fmt.Errorf("create %s: %w", name, err)
	}
	bw := bufio.NewWriterSize(f, 1<<16)
	err = encodeImage(bw, img, format, quality, bestPNG)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return File{}, fmt.Errorf("encode %s: %w", name, err)
	}
	return statFile(name, path)
}

// sizeOpts are the CloudConvert resize options: width, height, fit.
type sizeOpts struct {
	width, height int
	fit           string // max (default), crop, scale, upscale
}

func readSizeOpts(opts map[string]any, defW, defH int, defFit string) (sizeOpts, error) {
	var s sizeOpts
	var err error
	if s.width, err = optRange(opts, "width", 1, 20000, defW); err != nil {
		return s, err
	}
	if s.height, err = optRange(opts, "height", 1, 20000, defH); err != nil {
		return s, err
	}
	s.fit = optString(opts, "fit")
	if s.fit == "" {
		s.fit = defFit
	}
	switch s.fit {
	case "max", "crop", "scale", "upscale":
	default:
		return s, newError(CodeInvalidOptions, nil, "option fit must be one of max, crop, scale, upscale; got %q", s.fit)
	}
	return s, nil
}

// resize applies CloudConvert's fit semantics:
//   - max: fit inside width x height keeping the aspect ratio, never enlarge;
//   - upscale: like max, but enlarges small images;
//   - crop: cover width x height, then cut the excess from the centre;
//   - scale: exactly width x height, ignoring the aspect ratio.
//
// A missing width or height is derived from the other by the aspect ratio.
func resize(img image.Image, s sizeOpts) image.Image {
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	if (s.width == 0 && s.height == 0) || sw == 0 || sh == 0 {
		return img
	}
	w, h := s.width, s.height
	if w == 0 {
		w = max(1, sw*h/sh)
	}
	if h == 0 {
		h = max(1, sh*w/sw)
	}
	switch s.fit {
	case "scale":
		return scaleTo(img, image.Rect(0, 0, w, h), b)
	case "crop":
		scale := max(float64(w)/float64(sw), float64(h)/float64(sh))
		cw, ch := int(float64(w)/scale+0.5), int(float64(h)/scale+0.5)
		cw, ch = min(max(cw, 1), sw), min(max(ch, 1), sh)
		x0, y0 := b.Min.X+(sw-cw)/2, b.Min.Y+(sh-ch)/2
		return scaleTo(img, image.Rect(0, 0, w, h), image.Rect(x0, y0, x0+cw, y0+ch))
	default: // max, upscale
		scale := min(float64(w)/float64(sw), float64(h)/float64(sh))
		if scale >= 1 && s.fit == "max" {
			return img
		}
		dw, dh := max(1, int(float64(sw)*scale+0.5)), max(1, int(float64(sh)*scale+0.5))
		return scaleTo(img, image.Rect(0, 0, dw, dh), b)
	}
}

func scaleTo(img image.Image, dr, sr image.Rectangle) image.Image {
	if dr.Dx() == sr.Dx() && dr.Dy() == sr.Dy() && sr == img.Bounds() {
		return img
	}
	dst := image.NewRGBA(dr)
	// CatmullRom is sharp but slow; bilinear is the usual trade-off for a
	// server that resizes on 2 cores.
	draw.BiLinear.Scale(dst, dr, img, sr, draw.Src, nil)
	return dst
}

// convertImages handles convert with image inputs and an image output.
func (r *Registry) convertImages(ctx context.Context, req Request, progress func(int)) (Result, error) {
	quality, err := optRange(req.Options, "quality", 1, 100, 90)
	if err != nil {
		return Result{}, err
	}
	size, err := readSizeOpts(req.Options, 0, 0, "max")
	if err != nil {
		return Result{}, err
	}
	var res Result
	res.Engine, res.EngineVersion = engineGoImage, goVersion()
	for i, in := range req.Inputs {
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		img, _, err := decodeImage(in.Path, displayName(in))
		if err != nil {
			return Result{}, err
		}
		img = resize(img, size)
		name := outputNames(req, baseName(in), req.OutputFormat, nil)[0]
		out, err := writeImageFile(req.OutDir, name, img, req.OutputFormat, quality, false)
		if err != nil {
			return Result{}, err
		}
		res.Files = append(res.Files, out)
		progress((i + 1) * 100 / (len(req.Inputs) + 1))
	}
	return res, nil
}

func displayName(f File) string {
	if f.Name != "" {
		return SafeName(f.Name)
	}
	return SafeName(f.Path)
}

// optimizeImage re-encodes png at best compression and jpg at the given
// quality (default 75), keeping the original bytes if they were smaller.
func (r *Registry) optimizeImage(ctx context.Context, req Request, in File, format string) (File, error) {
	quality, err := optRange(req.Options, "quality", 1, 100, 75)
	if err != nil {
		return File{}, err
	}
	img, real, err := decodeImage(in.Path, displayName(in))
	if err != nil {
		return File{}, err
	}
	if real != format {
		return File{}, newError(CodeInvalidFile, nil, "%s is named .%s but contains a %s image", displayName(in), format, real)
	}
	if err := ctx.Err(); err != nil {
		return File{}, err
	}
	var buf bytes.Buffer
	if err := encodeImage(&buf, img, format, quality, true); err != nil {
		return File{}, fmt.Errorf("encode: %w", err)
	}
	name := outputNames(req, baseName(in), format, nil)[0]
	path, name := uniquePath(req.OutDir, name)
	orig, err := os.ReadFile(in.Path)
	if err != nil {
		return File{}, newError(CodeInvalidFile, err, "%s cannot be read", displayName(in))
	}
	data := buf.Bytes()
	if len(orig) <= len(data) {
		data = orig
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return File{}, fmt.Errorf("write %s: %w", name, err)
	}
	return statFile(name, path)
}
