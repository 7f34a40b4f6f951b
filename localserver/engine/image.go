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

	"golang.org/x/image/bmp"
	"golang.org/x/image/draw"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"
)

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

// imageInfo is what the header of an image file says, read without
// decoding any pixel.
type imageInfo struct {
	format string
	cfg    image.Config
	// decoded is what decoding allocates: width x height x bytes per pixel
	// of the colour model, plus the decoder's own scratch.
	decoded int64
}

// probeImage reads the header of path: its real format, size and cost.
func probeImage(path, display string) (imageInfo, error) {
	var info imageInfo
	f, err := os.Open(path)
	if err != nil {
		return info, newError(CodeInvalidFile, err, "%s cannot be opened", display)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	head, _ := br.Peek(32)
	format, _, decodeConfig := decoderFor(head)
	if format == "" {
		return info, newError(CodeInvalidFile, nil, "%s is not a supported image (png, jpg, gif, bmp, tiff, webp)", display)
	}
	err = guard(display, func() error {
		var derr error
		info.cfg, derr = decodeConfig(br)
		return derr
	})
	if err != nil {
		return info, asInvalid(err, "%s is a damaged %s image", display, format)
	}
	w, h := int64(info.cfg.Width), int64(info.cfg.Height)
	if w <= 0 || h <= 0 {
		return info, newError(CodeInvalidFile, nil, "%s has unsupported dimensions %dx%d", display, w, h)
	}
	info.format = format
	pixels := mul(w, h, bytesPerPixel(info.cfg.ColorModel))
	info.decoded = pixels
	switch format {
	case "png":
		if len(head) > 28 && head[28] == 1 { // Adam7: one image per pass, then the result
			info.decoded = add(info.decoded, pixels)
		}
	case "jpg":
		if progressive, comps := jpegFrame(path); progressive { // 64 int32 coefficients per 8x8 block and component
			info.decoded = add(info.decoded, mul(w, h, 4, int64(max(comps, 1))))
		}
	case "tiff", "webp": // whole strips, or the lossless transform buffers
		info.decoded = add(info.decoded, pixels)
	}
	return info, nil
}

// checkDecode refuses an input whose decoding alone exceeds the budget.
func checkDecode(info imageInfo, display string, budget int64) error {
	if info.decoded > budget {
		return newError(CodeInvalidFile, nil, "%s is %dx%d pixels; decoding it needs %s, more than the limit of %s per image",
			display, info.cfg.Width, info.cfg.Height, human(info.decoded), human(budget))
	}
	return nil
}

// jpegFrame reads the start-of-frame marker: progressive JPEGs keep every
// coefficient in memory while decoding.
func jpegFrame(path string) (progressive bool, components int) {
	f, err := os.Open(path)
	if err != nil {
		return false, 0
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var soi [2]byte
	if _, err := io.ReadFull(br, soi[:]); err != nil || soi != [2]byte{0xff, 0xd8} {
		return false, 0
	}
	for range 256 { // the frame header comes after a few metadata segments
		var hdr [4]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil || hdr[0] != 0xff {
			return false, 0
		}
		marker, n := hdr[1], int(hdr[2])<<8|int(hdr[3])-2
		if n < 0 || marker == 0xda || marker == 0xd9 {
			return false, 0
		}
		if marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc {
			var sof [6]byte
			if _, err := io.ReadFull(br, sof[:]); err != nil {
				return false, 0
			}
			return marker == 0xc2 || marker == 0xc6 || marker == 0xca || marker == 0xce, int(sof[5])
		}
		if _, err := br.Discard(n); err != nil {
			return false, 0
		}
	}
	return false, 0
}

// decodeImage decodes the first frame of a probed image file; reading
// stops when ctx ends.
func decodeImage(ctx context.Context, path, display string, info imageInfo) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, newError(CodeInvalidFile, err, "%s cannot be opened", display)
	}
	defer f.Close()
	br := bufio.NewReader(ctxReader{ctx, f})
	head, _ := br.Peek(16)
	format, decode, _ := decoderFor(head)
	if format != info.format {
		return nil, newError(CodeInvalidFile, nil, "%s changed while it was read", display)
	}
	var img image.Image
	err = guard(display, func() error {
		var derr error
		img, derr = decode(br)
		return derr
	})
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		return nil, asInvalid(err, "%s is a damaged %s image", display, format)
	}
	return img, nil
}

// imageStep is one budgeted image conversion: probe the header, check the
// budget for decoding, resizing and encoding, then do it.
func imageStep(ctx context.Context, lim Limits, in File, size sizeOpts, format string, enc encoding, dir, name string) (File, error) {
	display := displayName(in)
	info, err := probeImage(in.Path, display)
	if err != nil {
		return File{}, err
	}
	if err := checkDecode(info, display, lim.MaxImageMemory); err != nil {
		return File{}, err
	}
	cost, err := planStep(display, info.cfg.Width, info.cfg.Height, info.decoded, opaqueModel(info.cfg.ColorModel), size, format, enc.lossless, lim.MaxImageMemory)
	if err != nil {
		return File{}, err
	}
	img, err := decodeImage(ctx, in.Path, display, info)
	if err != nil {
		return File{}, err
	}
	if img, err = applyResize(ctx, img, cost.plan); err != nil {
		return File{}, err
	}
	return writeImageFile(ctx, dir, name, img, format, enc)
}

// asInvalid keeps an *Error as is and wraps anything else as INVALID_FILE.
func asInvalid(err error, format string, args ...any) error {
	if e, ok := err.(*Error); ok {
		return e
	}
	return newError(CodeInvalidFile, err, format, args...)
}

// encoding holds what an encoder is told besides the format.
type encoding struct {
	quality  int  // jpg and webp, 1..100
	bestPNG  bool // png at best compression (optimize)
	lossless bool // webp
}

// readEncoding reads the quality and lossless options.
func readEncoding(opts map[string]any, defQuality int) (encoding, error) {
	q, err := optRange(opts, "quality", 1, 100, defQuality)
	if err != nil {
		return encoding{}, err
	}
	lossless, err := optBool(opts, "lossless", false)
	if err != nil {
		return encoding{}, err
	}
	return encoding{quality: q, lossless: lossless}, nil
}

// encodeImage writes img in format.
func encodeImage(w io.Writer, img image.Image, format string, enc encoding) error {
	switch format {
	case "png":
		pe := png.Encoder{CompressionLevel: png.DefaultCompression}
		if enc.bestPNG {
			pe.CompressionLevel = png.BestCompression
		}
		return pe.Encode(w, img)
	case "jpg":
		return jpeg.Encode(w, flatten(img), &jpeg.Options{Quality: enc.quality})
	case "gif":
		return gif.Encode(w, img, &gif.Options{NumColors: 256})
	case "bmp":
		return bmp.Encode(w, img)
	case "tiff":
		return tiff.Encode(w, img, &tiff.Options{Compression: tiff.Deflate, Predictor: true})
	case "webp":
		return encodeWebP(w, img, enc)
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

// writeImageFile encodes img into dir/name (made unique) and stats it;
// writing stops when ctx ends.
func writeImageFile(ctx context.Context, dir, name string, img image.Image, format string, enc encoding) (File, error) {
	path, name := uniquePath(dir, name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return File{}, fmt.Errorf("create %s: %w", name, err)
	}
	bw := bufio.NewWriterSize(ctxWriter{ctx, f}, 1<<16)
	err = encodeImage(bw, img, format, enc)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		if cerr := ctx.Err(); cerr != nil {
			return File{}, cerr
		}
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

// applyResize performs a planned resize. BiLinear runs in one call (its
// scratch was budgeted); ApproxBiLinear runs in bands of rows so that the
// context is honoured on huge images.
func applyResize(ctx context.Context, img image.Image, p resizePlan) (image.Image, error) {
	if !p.resize {
		return img, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dr := image.Rect(0, 0, int(p.dw), int(p.dh))
	dst := image.NewRGBA(dr)
	sr := p.crop.Add(img.Bounds().Min)
	if p.kernel {
		// CatmullRom is sharp but slow; bilinear is the usual trade-off for
		// a server that resizes on 2 cores.
		draw.BiLinear.Scale(dst, dr, img, sr, draw.Src, nil)
		return dst, ctx.Err()
	}
	const band = 256
	for y := 0; y < dr.Dy(); y += band {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		part := dst.SubImage(image.Rect(0, y, dr.Dx(), min(y+band, dr.Dy()))).(*image.RGBA)
		draw.ApproxBiLinear.Scale(part, dr, img, sr, draw.Src, nil)
	}
	return dst, nil
}

// convertImages handles convert with image inputs and an image output.
func (r *Registry) convertImages(ctx context.Context, req Request, progress func(int)) (Result, error) {
	enc, err := readEncoding(req.Options, 90)
	if err != nil {
		return Result{}, err
	}
	size, err := readSizeOpts(req.Options, 0, 0, "max")
	if err != nil {
		return Result{}, err
	}
	lim := r.limitsFor(req)
	var res Result
	res.Engine, res.EngineVersion = engineGoImage, goVersion()
	for i, in := range req.Inputs {
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		name := outputNames(req, baseName(in), req.OutputFormat, nil)[0]
		out, err := imageStep(ctx, lim, in, size, req.OutputFormat, enc, req.OutDir, name)
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
	display := displayName(in)
	info, err := probeImage(in.Path, display)
	if err != nil {
		return File{}, err
	}
	if info.format != format {
		return File{}, newError(CodeInvalidFile, nil, "%s is named .%s but contains a %s image", display, format, info.format)
	}
	lim := r.limitsFor(req)
	if err := checkDecode(info, display, lim.MaxImageMemory); err != nil {
		return File{}, err
	}
	if _, err := planStep(display, info.cfg.Width, info.cfg.Height, info.decoded, opaqueModel(info.cfg.ColorModel), sizeOpts{}, format, false, lim.MaxImageMemory); err != nil {
		return File{}, err
	}
	img, err := decodeImage(ctx, in.Path, display, info)
	if err != nil {
		return File{}, err
	}
	out, err := writeImageFile(ctx, req.OutDir, outputNames(req, baseName(in), format, nil)[0], img, format, encoding{quality: quality, bestPNG: true})
	if err != nil {
		return File{}, err
	}
	if in.Size <= 0 {
		if st, err := os.Stat(in.Path); err == nil {
			in.Size = st.Size()
		}
	}
	if in.Size > 0 && in.Size <= out.Size { // never make it bigger
		if err := os.Remove(out.Path); err != nil {
			return File{}, fmt.Errorf("replace %s: %w", out.Name, err)
		}
		if err := copyFile(in.Path, out.Path); err != nil {
			return File{}, newError(CodeInvalidFile, err, "%s cannot be read", display)
		}
		return statFile(out.Name, out.Path)
	}
	return out, nil
}
