package engine

import (
	"image"
	"io"

	webpenc "github.com/gen2brain/webp"
)

// WebP is written by libwebp compiled to WebAssembly and run on wazero
// (github.com/gen2brain/webp; it uses a system libwebp.so instead when one
// can be loaded): no pure-Go WebP encoder is among the served modules, and
// this one needs no cgo and no external program, like PDFium.

// maxWebPSide is the largest width or height the WebP format can store.
const maxWebPSide = 16383

// webpCost is what encoding costs per pixel besides the image itself,
// measured: the module's memory (a Go slice that wazero grows by copying,
// so old copies are held until collected) peaks at about 52 bytes per
// pixel over the Go heap for lossy and 67 for lossless encoding of a
// 2048x1536 image. With the default 256 MiB budget a lossy WebP is at
// most about 4.4 megapixels; larger ones are refused before encoding
// with a message asking for a smaller width or height.
func webpCost(lossless bool) int64 {
	if lossless {
		return 72
	}
	return 56
}

func encodeWebP(w io.Writer, img image.Image, enc encoding) error {
	b := img.Bounds()
	if b.Dx() > maxWebPSide || b.Dy() > maxWebPSide {
		return newError(CodeInvalidOptions, nil, "WebP images are at most %d pixels wide and high, this one would be %dx%d: ask for a smaller width or height",
			maxWebPSide, b.Dx(), b.Dy())
	}
	return guard("the WebP encoder", func() error {
		return webpenc.Encode(w, img, webpenc.Options{Quality: enc.quality, Lossless: enc.lossless, Method: webpenc.DefaultMethod})
	})
}
