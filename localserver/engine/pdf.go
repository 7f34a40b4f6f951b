package engine

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
)

// pdfcpuBase is pdfcpu's default configuration with its config directory
// disabled. pdfcpu keeps that switch in a process-wide variable and by
// default writes ~/.config/pdfcpu on first use, racing with concurrent
// callers; flipping it exactly once, before any other pdfcpu call of ours,
// is the only race-free way. This is the package's one piece of global state.
var pdfcpuBase = sync.OnceValue(func() model.Configuration {
	api.DisableConfigDir()
	return *model.NewDefaultConfiguration()
})

// pdfConf returns a fresh configuration: pdfcpu's API mutates the one it gets.
func pdfConf() *model.Configuration {
	c := pdfcpuBase()
	c.ValidationMode = model.ValidationRelaxed
	return &c
}

func pdfResult() Result { return Result{Engine: enginePDFCPU, EngineVersion: pdfcpuVersion()} }

// pdfCall runs a pdfcpu call on a file, turning errors and panics into
// INVALID_FILE naming the input.
func pdfCall(display string, fn func() error) error {
	if err := guard(display, fn); err != nil {
		return asInvalid(err, "%s is not a readable PDF", display)
	}
	return nil
}

// isPDF checks the magic bytes; PDF readers accept junk before %PDF, so
// look within the first KiB like they do.
func isPDF(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 1024)
	n, _ := io.ReadFull(f, head)
	return bytes.Contains(head[:n], []byte("%PDF-"))
}

func checkPDF(in File) error {
	if !isPDF(in.Path) {
		return newError(CodeInvalidFile, nil, "%s is not a PDF file", displayName(in))
	}
	return nil
}

// imagePDFBytes makes a one-page PDF whose page is the image's size.
// JPEGs are embedded as they are; other formats are decoded and stored as
// PNG (lossless), which also normalizes webp/bmp/gif for pdfcpu. The cost
// is budgeted first: pdfcpu decodes a PNG once more to embed it.
func imagePDFBytes(ctx context.Context, in File, lim Limits) ([]byte, error) {
	display := displayName(in)
	info, err := probeImage(in.Path, display)
	if err != nil {
		return nil, err
	}
	size := in.Size
	if st, err := os.Stat(in.Path); err == nil {
		size = st.Size()
	}
	cost := add(mul(size, 2), mul(info.decoded, 2)) // the file, pdfcpu's decode and its re-encoded stream
	if info.format != "png" && info.format != "jpg" {
		cost = add(cost, info.decoded) // our decode before pdfcpu's
	}
	if info.format == "jpg" {
		cost = mul(size, 3) // embedded as it is
	}
	if cost > lim.MaxImageMemory {
		return nil, newError(CodeInvalidFile, nil, "%s is %dx%d pixels; placing it into a PDF needs %s, more than the limit of %s per image",
			display, info.cfg.Width, info.cfg.Height, human(cost), human(lim.MaxImageMemory))
	}
	var data []byte
	if info.format == "jpg" || info.format == "png" {
		if data, err = os.ReadFile(in.Path); err != nil {
			return nil, newError(CodeInvalidFile, err, "%s cannot be read", display)
		}
	} else {
		img, err := decodeImage(ctx, in.Path, display, info)
		if err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		if err := encodeImage(ctxWriter{ctx, &buf}, img, "png", encoding{}); err != nil {
			return nil, fmt.Errorf("encode %s: %w", display, err)
		}
		data = buf.Bytes()
	}
	var out bytes.Buffer
	err = guard(display, func() error {
		return api.ImportImages(nil, &out, []io.Reader{bytes.NewReader(data)}, pdfcpu.DefaultImportConfig(), pdfConf())
	})
	if err != nil {
		return nil, asInvalid(err, "%s could not be placed into a PDF", display)
	}
	return out.Bytes(), nil
}

// readPDF reads a PDF for pdfcpu, which holds a parsed copy of it in memory
// (several times the file), so inputs are capped at maxPDFBytes.
func readPDF(in File, total *int64) ([]byte, error) {
	st, err := os.Stat(in.Path)
	if err != nil {
		return nil, newError(CodeInvalidFile, err, "%s cannot be opened", displayName(in))
	}
	if *total += st.Size(); *total > maxPDFBytes {
		return nil, newError(CodeInvalidFile, nil, "the PDF input is larger than %s, the limit of PDF processing", human(maxPDFBytes))
	}
	data, err := os.ReadFile(in.Path)
	if err != nil {
		return nil, newError(CodeInvalidFile, err, "%s cannot be read", displayName(in))
	}
	return data, nil
}

func writeBytes(dir, name string, data []byte) (File, error) {
	path, name := uniquePath(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return File{}, fmt.Errorf("write %s: %w", name, err)
	}
	return statFile(name, path)
}

// convertImagesToPDF makes one PDF per input image.
func (r *Registry) convertImagesToPDF(ctx context.Context, req Request, progress func(int)) (Result, error) {
	res := pdfResult()
	for i, in := range req.Inputs {
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		data, err := imagePDFBytes(ctx, in, r.limitsFor(req))
		if err != nil {
			return Result{}, err
		}
		out, err := writeBytes(req.OutDir, outputNames(req, baseName(in), "pdf", nil)[0], data)
		if err != nil {
			return Result{}, err
		}
		res.Files = append(res.Files, out)
		progress((i + 1) * 100 / (len(req.Inputs) + 1))
	}
	return res, nil
}

// merge joins PDFs and images, in input order, into one PDF.
func (r *Registry) merge(ctx context.Context, req Request, progress func(int)) (Result, error) {
	if req.OutputFormat != "pdf" {
		return Result{}, newError(CodeUnsupportedConversion, nil, "merge to %q is not supported; merge supports: pdf", req.OutputFormat)
	}
	readers := make([]io.ReadSeeker, 0, len(req.Inputs))
	var total int64
	for i, in := range req.Inputs {
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		f := formatOf(in.Name, in.Path)
		switch {
		case isPDF(in.Path):
			data, err := readPDF(in, &total)
			if err != nil {
				return Result{}, err
			}
			readers = append(readers, bytes.NewReader(data))
		case isImageInput(f) || f == "":
			data, err := imagePDFBytes(ctx, in, r.limitsFor(req))
			if err != nil {
				return Result{}, err
			}
			if total += int64(len(data)); total > maxPDFBytes {
				return Result{}, newError(CodeInvalidFile, nil, "the merged PDF would be larger than %s, the limit of PDF processing", human(maxPDFBytes))
			}
			readers = append(readers, bytes.NewReader(data))
		default:
			return Result{}, newError(CodeUnsupportedConversion, nil,
				"merge cannot take %s (%s); merge supports pdf and images (%s)", displayName(in), f, strings.Join(imageInputs, ", "))
		}
		progress((i + 1) * 80 / len(req.Inputs))
	}
	var out bytes.Buffer
	if len(readers) == 1 {
		// pdfcpu wants two sources; one input is a validated copy.
		err := pdfCall(displayName(req.Inputs[0]), func() error {
			_, err := api.PageCount(readers[0], pdfConf())
			return err
		})
		if err != nil {
			return Result{}, err
		}
		if _, err := readers[0].Seek(0, io.SeekStart); err != nil {
			return Result{}, err
		}
		if _, err := io.Copy(&out, readers[0]); err != nil {
			return Result{}, err
		}
	} else {
		err := pdfCall("merge input", func() error { return api.MergeRaw(readers, &out, false, pdfConf()) })
		if err != nil {
			return Result{}, err
		}
	}
	stem := "merged"
	if len(req.Inputs) > 0 {
		stem = baseName(req.Inputs[0])
	}
	f, err := writeBytes(req.OutDir, outputNames(req, stem, "pdf", nil)[0], out.Bytes())
	if err != nil {
		return Result{}, err
	}
	res := pdfResult()
	res.Files = []File{f}
	return res, nil
}

func (r *Registry) optimizePDF(ctx context.Context, req Request, in File) (File, error) {
	if err := checkPDF(in); err != nil {
		return File{}, err
	}
	var total int64
	data, err := readPDF(in, &total)
	if err != nil {
		return File{}, err
	}
	var out bytes.Buffer
	if err := pdfCall(displayName(in), func() error { return api.Optimize(bytes.NewReader(data), &out, pdfConf()) }); err != nil {
		return File{}, err
	}
	if err := ctx.Err(); err != nil {
		return File{}, err
	}
	result := out.Bytes()
	if len(data) <= len(result) {
		result = data // never make it bigger
	}
	return writeBytes(req.OutDir, outputNames(req, baseName(in), "pdf", nil)[0], result)
}

// pdfMetadata reports exiftool-style keys, which is what CloudConvert's
// metadata task returns.
func pdfMetadata(in File) (map[string]any, error) {
	if err := checkPDF(in); err != nil {
		return nil, err
	}
	f, err := os.Open(in.Path)
	if err != nil {
		return nil, newError(CodeInvalidFile, err, "%s cannot be opened", displayName(in))
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > maxPDFBytes {
		return nil, newError(CodeInvalidFile, nil, "%s is larger than %s, the limit of PDF processing", displayName(in), human(maxPDFBytes))
	}
	var info *pdfcpu.PDFInfo
	err = pdfCall(displayName(in), func() error {
		var ierr error
		info, ierr = api.PDFInfo(f, displayName(in), nil, false, pdfConf())
		return ierr
	})
	if err != nil {
		return nil, err
	}
	md := map[string]any{
		"FileName":   displayName(in),
		"FileType":   "PDF",
		"MIMEType":   "application/pdf",
		"PDFVersion": info.Version,
		"PageCount":  info.PageCount,
		"Linearized": yesNo(info.Linearized),
		"Encrypted":  yesNo(info.Encrypted),
		"Tagged":     yesNo(info.Tagged),
	}
	if st, err := f.Stat(); err == nil {
		md["FileSize"] = st.Size()
	}
	for k, v := range map[string]string{
		"Title": info.Title, "Author": info.Author, "Subject": info.Subject, "Producer": info.Producer,
		"Creator": info.Creator, "CreateDate": info.CreationDate, "ModifyDate": info.ModificationDate,
	} {
		if v != "" {
			md[k] = v
		}
	}
	if len(info.Keywords) > 0 {
		md["Keywords"] = strings.Join(info.Keywords, ", ")
	}
	for k, v := range info.Properties {
		if _, taken := md[k]; !taken && v != "" {
			md[k] = v
		}
	}
	if len(info.PageBoundaries) > 0 {
		mb := info.PageBoundaries[0].MediaBox()
		if mb != nil {
			md["PageWidth"], md["PageHeight"] = round2(mb.Width()), round2(mb.Height())
		}
	}
	return md, nil
}

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

func round2(f float64) float64 { return float64(int(f*100+0.5)) / 100 }

// convertPDFToImages rasterizes the selected pages of each input through PDFium.
func (r *Registry) convertPDFToImages(ctx context.Context, req Request, progress func(int)) (Result, error) {
	enc, err := readEncoding(req.Options, 90)
	if err != nil {
		return Result{}, err
	}
	dpi, err := pixelDensity(req.Options)
	if err != nil {
		return Result{}, err
	}
	size, err := readSizeOpts(req.Options, 0, 0, "max")
	if err != nil {
		return Result{}, err
	}
	res := Result{Engine: enginePDFium, EngineVersion: pdfiumVersion()}
	for i, in := range req.Inputs {
		if err := checkPDF(in); err != nil {
			return Result{}, err
		}
		span := 100 / len(req.Inputs)
		files, err := r.renderPages(ctx, in, renderSpec{
			pages: optString(req.Options, "pages"), dpi: dpi, size: size,
			format: req.OutputFormat, enc: enc, outDir: req.OutDir, req: req, limits: r.limitsFor(req),
		}, func(p int) { progress(i*span + p*span/100) })
		if err != nil {
			return Result{}, err
		}
		res.Files = append(res.Files, files...)
	}
	return res, nil
}

// pixelDensity reads CloudConvert's pixel_density (alias density), in DPI.
func pixelDensity(opts map[string]any) (int, error) {
	key := "pixel_density"
	if _, ok := opts[key]; !ok {
		key = "density"
	}
	return optRange(opts, key, 10, 1200, 150)
}

type renderSpec struct {
	pages  string
	dpi    int
	size   sizeOpts
	format string
	enc    encoding
	outDir string
	req    Request
	first  bool // thumbnail: only the first page, always a single output
	limits Limits
}

// outputPageNames names the rendered pages of in.
func outputPageNames(spec renderSpec, in File, pages []int) []string {
	if spec.first {
		return outputNames(spec.req, baseName(in), spec.format, nil)
	}
	return outputNames(spec.req, baseName(in), spec.format, pages)
}

// encodePage resizes a rendered page and writes it; plan was budgeted
// before the page was rendered.
func encodePage(ctx context.Context, img image.Image, plan resizePlan, spec renderSpec, name string) (File, error) {
	img, err := applyResize(ctx, img, plan)
	if err != nil {
		return File{}, err
	}
	return writeImageFile(ctx, spec.outDir, name, img, spec.format, spec.enc)
}

// tempDir makes a scratch directory; call the returned func to remove it.
func tempDir(pattern string) (string, func(), error) {
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		return "", nil, fmt.Errorf("temp dir: %w", err)
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}
