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

// webpCost is what encoding costs per pixel besides the image itself: the
// RGBA copy handed to the module, the copy in its memory, and libwebp's
// working buffers and output (more for the lossless encoder's hash chains).
func webpCost(lossless bool) int64 {
	if lossless {
		return 24
	}
	return 12
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
