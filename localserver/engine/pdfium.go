package engine

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"time"

	"github.com/klippa-app/go-pdfium"
	pdfiumerrors "github.com/klippa-app/go-pdfium/errors"
	"github.com/klippa-app/go-pdfium/references"
	"github.com/klippa-app/go-pdfium/requests"
	"github.com/klippa-app/go-pdfium/webassembly"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// maxPDFBytes bounds a PDF input: PDFium holds it twice (Go and
// WebAssembly memory, 4 GiB at most), pdfcpu a parsed copy several times
// its size.
const maxPDFBytes = 256 << 20

// pool returns the PDFium WebAssembly pool, starting it on first use.
// Compiling the 5.8 MB module is the expensive part; instances are cheap.
func (r *Registry) pool() (pdfium.Pool, error) {
	r.pdfiumMu.Lock()
	defer r.pdfiumMu.Unlock()
	if r.closed {
		return nil, errors.New("engine registry is closed")
	}
	if r.pdfiumPool != nil {
		return r.pdfiumPool, nil
	}
	start := time.Now()
	rc := wazero.NewRuntimeConfig().WithCoreFeatures(api.CoreFeaturesV2 | experimental.CoreFeaturesExceptionHandling)
	if r.opts.PDFiumCacheDir != "" {
		if cache, err := wazero.NewCompilationCacheWithDir(r.opts.PDFiumCacheDir); err == nil {
			rc = rc.WithCompilationCache(cache)
		}
	}
	p, err := webassembly.Init(webassembly.Config{
		Context:  context.Background(), // the pool outlives any one request
		MinIdle:  1,
		MaxIdle:  r.opts.PDFiumWorkers,
		MaxTotal: r.opts.PDFiumWorkers,
		// No filesystem: documents are passed as bytes, so a crafted PDF
		// cannot reach the host's files through the WASI mount.
		FSConfig:      wazero.NewFSConfig(),
		RuntimeConfig: rc,
		Stdout:        io.Discard,
		Stderr:        io.Discard,
		ReuseWorkers:  true,
	})
	if err != nil {
		return nil, newError(CodeEngineNotAvailable, err, "PDFium (WebAssembly) could not be started")
	}
	r.pdfiumPool = p
	r.pdfiumInitTime = time.Since(start)
	return p, nil
}

// withPDFium opens in as a PDFium document on a pooled instance and calls fn.
func (r *Registry) withPDFium(ctx context.Context, in File, fn func(inst pdfium.Pdfium, doc references.FPDF_DOCUMENT) error) (err error) {
	return r.withPDFiumPassword(ctx, in, "", fn)
}

// withPDFiumPassword is withPDFium for an encrypted document.
func (r *Registry) withPDFiumPassword(ctx context.Context, in File, password string, fn func(inst pdfium.Pdfium, doc references.FPDF_DOCUMENT) error) (err error) {
	st, err := os.Stat(in.Path)
	if err != nil {
		return newError(CodeInvalidFile, err, "%s cannot be opened", displayName(in))
	}
	if st.Size() > maxPDFBytes {
		return newError(CodeInvalidFile, nil, "%s is larger than %s, the limit of PDF processing", displayName(in), human(maxPDFBytes))
	}
	data, err := os.ReadFile(in.Path)
	if err != nil {
		return newError(CodeInvalidFile, err, "%s cannot be read", displayName(in))
	}
	p, err := r.pool()
	if err != nil {
		return err
	}
	inst, err := p.GetInstanceWithContext(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("pdfium instance: %w", err)
	}
	defer func() {
		if rec := recover(); rec != nil {
			// A trapped module may be in any state: drop it, not reuse it.
			inst.Kill()
			err = newError(CodeInvalidFile, nil, "%s: PDFium crashed while reading the file (%v)", displayName(in), rec)
			return
		}
		inst.Close()
	}()
	open := &requests.OpenDocument{File: &data}
	if password != "" {
		open.Password = &password
	}
	doc, err := inst.OpenDocument(open)
	if errors.Is(err, pdfiumerrors.ErrPassword) {
		if password == "" {
			return newError(CodeInvalidOptions, nil, "%s is encrypted: give its password (the password option of pdf/decrypt)", displayName(in))
		}
		return newError(CodeInvalidOptions, nil, "%s is encrypted and the password does not open it: give its user or owner password", displayName(in))
	}
	if err != nil {
		return newError(CodeInvalidFile, err, "%s is not a readable PDF", displayName(in))
	}
	defer inst.FPDF_CloseDocument(&requests.FPDF_CloseDocument{Document: doc.Document})
	return fn(inst, doc.Document)
}

// renderPages renders the pages selected by spec; progress gets 0..100.
// The page count is checked against the page cap before the first render,
// and every page's pixel size against the image budget before it renders.
func (r *Registry) renderPages(ctx context.Context, in File, spec renderSpec, progress func(int)) ([]File, error) {
	var files []File
	display := displayName(in)
	err := r.withPDFium(ctx, in, func(inst pdfium.Pdfium, doc references.FPDF_DOCUMENT) error {
		pc, err := inst.FPDF_GetPageCount(&requests.FPDF_GetPageCount{Document: doc})
		if err != nil {
			return newError(CodeInvalidFile, err, "%s: page count unreadable", display)
		}
		if pc.PageCount == 0 {
			return newError(CodeInvalidFile, nil, "%s has no pages", display)
		}
		pages := []int{1}
		if !spec.first {
			if pages, err = parsePages(spec.pages, pc.PageCount, spec.limits.MaxPages); err != nil {
				return err
			}
		}
		names := outputPageNames(spec, in, pages)
		for i, page := range pages {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := checkPageBudget(inst, doc, page, spec, display); err != nil {
				return err
			}
			img, cleanup, err := renderPage(inst, doc, page-1, spec)
			if err != nil {
				return newError(CodeInvalidFile, err, "%s: page %d could not be rendered", display, page)
			}
			b := img.Bounds()
			cost, err := planStep(fmt.Sprintf("page %d of %s", page, display), b.Dx(), b.Dy(), mul(int64(b.Dx()), int64(b.Dy()), 4), false, spec.size, spec.format, spec.enc.lossless, spec.limits.MaxImageMemory)
			if err != nil {
				cleanup()
				return err
			}
			f, err := encodePage(ctx, img, cost.plan, spec, names[i])
			cleanup()
			if err != nil {
				return err
			}
			files = append(files, f)
			progress((i + 1) * 100 / len(pages))
		}
		return nil
	})
	if err != nil {
		for _, f := range files {
			os.Remove(f.Path)
		}
		return nil, err
	}
	return files, nil
}

// checkPageBudget refuses a page whose render alone would exceed the image
// budget, from its size in points, before PDFium allocates the bitmap.
func checkPageBudget(inst pdfium.Pdfium, doc references.FPDF_DOCUMENT, page int, spec renderSpec, display string) error {
	var w, h int64
	if pixelRender(spec) {
		w, h = int64(spec.size.width), int64(spec.size.height) // the fit is inside these
	} else {
		sz, err := inst.FPDF_GetPageSizeByIndex(&requests.FPDF_GetPageSizeByIndex{Document: doc, Index: page - 1})
		if err != nil {
			return newError(CodeInvalidFile, err, "%s: the size of page %d is unreadable", display, page)
		}
		px := func(pt float64) int64 { return int64(math.Ceil(min(max(pt, 0), 1e9) * float64(spec.dpi) / 72)) }
		w, h = px(sz.Width), px(sz.Height)
	}
	if cost := mul(w, h, 4); cost > spec.limits.MaxImageMemory {
		return newError(CodeInvalidOptions, nil, "page %d of %s renders to %dx%d pixels at %d DPI (%s); the limit is %s per image: ask for a lower pixel_density or a smaller size",
			page, display, w, h, spec.dpi, human(cost), human(spec.limits.MaxImageMemory))
	}
	return nil
}

// pixelRender: thumbnails with a fit size render straight at that size,
// which is much cheaper than a full-DPI render.
func pixelRender(spec renderSpec) bool {
	return spec.first && spec.size.width > 0 && spec.size.height > 0 && spec.size.fit != "crop" && spec.size.fit != "scale"
}

// renderPage renders one page. The image is only valid until cleanup is
// called (it lives in wasm memory).
func renderPage(inst pdfium.Pdfium, doc references.FPDF_DOCUMENT, index int, spec renderSpec) (image.Image, func(), error) {
	page := requests.Page{ByIndex: &requests.PageByIndex{Document: doc, Index: index}}
	if pixelRender(spec) {
		res, err := inst.RenderPageInPixels(&requests.RenderPageInPixels{
			Page: page, Width: spec.size.width, Height: spec.size.height, RenderForm: true, Document: &doc,
		})
		if err != nil {
			return nil, nil, err
		}
		return res.Result.RenderedImage, res.Cleanup, nil
	}
	res, err := inst.RenderPageInDPI(&requests.RenderPageInDPI{Page: page, DPI: spec.dpi, RenderForm: true, Document: &doc})
	if err != nil {
		return nil, nil, err
	}
	return res.Result.RenderedImage, res.Cleanup, nil
}
