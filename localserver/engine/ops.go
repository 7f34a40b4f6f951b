package engine

import (
	"context"
	"slices"
)

// convert picks the engine from the (input, output) pair.
func (r *Registry) convert(ctx context.Context, req Request, progress func(int)) (Result, error) {
	in, out := req.InputFormat, req.OutputFormat
	if out == "" {
		return Result{}, newError(CodeInvalidOptions, nil, "convert needs an output_format")
	}
	switch {
	case isImageInput(in) && isImageOutput(out):
		return r.convertImages(ctx, req, progress)
	case isImageInput(in) && out == "pdf":
		return r.convertImagesToPDF(ctx, req, progress)
	case in == "pdf" && (out == "png" || out == "jpg" || out == "webp"):
		return r.convertPDFToImages(ctx, req, progress)
	case slices.Contains(htmlInputs, in):
		return r.convertHTML(ctx, req, progress)
	}
	if fam := officeFamilyOf(in); fam != nil && fam.canOutput(out) {
		return r.convertOffice(ctx, req, progress)
	}
	return Result{}, r.unsupported("convert", in, out)
}

// optimize keeps the input format: png, jpg or pdf.
func (r *Registry) optimize(ctx context.Context, req Request, progress func(int)) (Result, error) {
	var res Result
	for i, in := range req.Inputs {
		format := formatOf(in.Name, in.Path)
		if i == 0 && req.InputFormat != "" {
			format = req.InputFormat
		}
		var (
			f   File
			err error
		)
		switch format {
		case "png", "jpg":
			res.Engine, res.EngineVersion = engineGoImage, goVersion()
			f, err = r.optimizeImage(ctx, req, in, format)
		case "pdf":
			res.Engine, res.EngineVersion = enginePDFCPU, pdfcpuVersion()
			f, err = r.optimizePDF(ctx, req, in)
		default:
			return Result{}, newError(CodeUnsupportedConversion, nil, "optimize of %s files is not supported; optimize supports: jpg, pdf, png", orUnknown(format))
		}
		if err != nil {
			return Result{}, err
		}
		res.Files = append(res.Files, f)
		progress((i + 1) * 100 / (len(req.Inputs) + 1))
	}
	return res, nil
}

func orUnknown(f string) string {
	if f == "" {
		return "(unknown)"
	}
	return f
}

// thumbnail makes a small png/jpg of an image or of a PDF's first page.
// Defaults: png, fit inside 256x256.
func (r *Registry) thumbnail(ctx context.Context, req Request, progress func(int)) (Result, error) {
	out := req.OutputFormat
	if out == "" {
		out = "png"
	}
	if out != "png" && out != "jpg" && out != "webp" {
		return Result{}, newError(CodeUnsupportedConversion, nil, "thumbnail to %s is not supported; thumbnail supports: jpg, png, webp", out)
	}
	req.OutputFormat = out
	_, hasW := req.Options["width"]
	_, hasH := req.Options["height"]
	defW, defH := 256, 256
	if hasW || hasH {
		defW, defH = 0, 0 // one given: derive the other from the aspect ratio
	}
	size, err := readSizeOpts(req.Options, defW, defH, "max")
	if err != nil {
		return Result{}, err
	}
	enc, err := readEncoding(req.Options, 85)
	if err != nil {
		return Result{}, err
	}
	var res Result
	for i, in := range req.Inputs {
		format := formatOf(in.Name, in.Path)
		if i == 0 && req.InputFormat != "" {
			format = req.InputFormat
		}
		switch {
		case format == "pdf" || (format == "" && isPDF(in.Path)):
			res.Engine, res.EngineVersion = enginePDFium, pdfiumVersion()
			if err := checkPDF(in); err != nil {
				return Result{}, err
			}
			files, err := r.renderPages(ctx, in, renderSpec{
				dpi: 72, size: size, format: out, enc: enc, outDir: req.OutDir, req: req, first: true, limits: r.limitsFor(req),
			}, func(int) {})
			if err != nil {
				return Result{}, err
			}
			res.Files = append(res.Files, files...)
		case isImageInput(format):
			res.Engine, res.EngineVersion = engineGoImage, goVersion()
			f, err := imageStep(ctx, r.limitsFor(req), in, size, out, enc, req.OutDir, outputNames(req, baseName(in), out, nil)[0])
			if err != nil {
				return Result{}, err
			}
			res.Files = append(res.Files, f)
		default:
			return Result{}, newError(CodeUnsupportedConversion, nil, "thumbnail of %s files is not supported; thumbnail supports pdf and images (%s)", orUnknown(format), joinList(imageInputs))
		}
		progress((i + 1) * 100 / (len(req.Inputs) + 1))
	}
	return res, nil
}

// metadata reads the first input: images (size, format, EXIF) and PDFs
// (page count, Info dictionary). Keys follow exiftool, as CloudConvert's do.
func (r *Registry) metadata(ctx context.Context, req Request, progress func(int)) (Result, error) {
	in := req.Inputs[0]
	format := req.InputFormat
	if format == "pdf" || (!isImageInput(format) && isPDF(in.Path)) {
		md, err := pdfMetadata(in)
		if err != nil {
			return Result{}, err
		}
		res := pdfResult()
		res.Metadata = md
		return res, nil
	}
	if isImageInput(format) || format == "" {
		md, err := imageMetadata(in)
		if err != nil {
			return Result{}, err
		}
		return Result{Engine: engineGoImage, EngineVersion: goVersion(), Metadata: md}, nil
	}
	return Result{}, newError(CodeUnsupportedConversion, nil, "metadata of %s files is not supported; metadata supports pdf and images (%s)", format, joinList(imageInputs))
}

func joinList(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += ", "
		}
		out += v
	}
	return out
}
