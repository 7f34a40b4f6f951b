package engine

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/cctoolkit/cloudconvert/internal/suggest"
)

// Capability is one thing the local engines do: an operation on an input
// format that makes an output format, by one engine, with the options it
// takes. The catalogue of capabilities is the one source for what the
// local server performs: Run refuses a pair or an option not in it, the
// engine listing is derived from it, and the server serves it as
// GET /v2/operations.
type Capability struct {
	Operation string `json:"operation"`
	// InputFormat is a file extension ("png", "tar.gz"); "*" means any
	// file (archive); "website" is capture-website's URL.
	InputFormat string `json:"input_format"`
	// OutputFormat is the format made; "" when the operation makes no
	// file (metadata); "*" when the files keep their own formats
	// (archive/extract).
	OutputFormat string `json:"output_format"`
	Engine       string `json:"engine"`
	// Available is false when the engine is an external program that is
	// not installed; Note then says how to install it.
	Available bool     `json:"available"`
	Note      string   `json:"note,omitempty"`
	Options   []Option `json:"options"`
}

// Option is one task field a capability accepts, as the real API's
// /v2/operations describes them.
type Option struct {
	Name string `json:"name"`
	// Type is "string", "integer", "boolean" or "object".
	Type string `json:"type"`
	// Default is the value used when the option is absent (nil: none).
	Default any `json:"default"`
	// Values lists the accepted values when they are a closed set.
	Values []string `json:"possible_values,omitempty"`
	// Minimum and Maximum bound an integer option.
	Minimum     *int   `json:"minimum,omitempty"`
	Maximum     *int   `json:"maximum,omitempty"`
	Required    bool   `json:"required,omitempty"`
	Description string `json:"description"`
}

// Engine names reported on tasks.
const (
	engineGoImage     = "goimage"
	enginePDFium      = "pdfium"
	enginePDFCPU      = "pdfcpu"
	engineArchive     = "goarchive"
	engineLibreOffice = "libreoffice"
	engineChromium    = "chromium"
)

var (
	imageInputs  = []string{"bmp", "gif", "jpg", "png", "tiff", "webp"}
	imageOutputs = []string{"bmp", "gif", "jpg", "png", "tiff", "webp"}
	// archiveFormats are what archive writes and archive/extract reads.
	archiveFormats = []string{"tar", "tar.gz", "zip"}
	// htmlInputs are rendered by Chromium.
	htmlInputs = []string{"htm", "html"}
)

func isImageInput(f string) bool  { return slices.Contains(imageInputs, f) }
func isImageOutput(f string) bool { return slices.Contains(imageOutputs, f) }

func intp(n int) *int { return &n }

// Option constructors: one place per option, so that the same name means
// the same thing in every capability.
func optInteger(name string, lo, hi int, def any, desc string) Option {
	return Option{Name: name, Type: "integer", Minimum: intp(lo), Maximum: intp(hi), Default: def, Description: desc}
}

func optEnum(name string, def string, values []string, desc string) Option {
	return Option{Name: name, Type: "string", Default: def, Values: values, Description: desc}
}

var (
	optFilename = Option{Name: "filename", Type: "string",
		Description: "Name of the result file; the output format's extension is added when missing. Several results are numbered name-1, name-2, ..."}
	optEngineName = Option{Name: "engine", Type: "string",
		Description: "Accepted for compatibility with the real API and not used: the local server picks the engine from the formats and reports it on the task."}
	optEngineVersion = Option{Name: "engine_version", Type: "string",
		Description: "Accepted for compatibility with the real API and not used (see engine)."}
	optTimeout = optInteger("timeout", 1, 86400, nil,
		"Seconds after which the task fails; the server's per-task time limit applies as well, whichever is shorter.")
	optWidth  = optInteger("width", 1, 20000, nil, "Width of the result in pixels; with only one of width and height, the other follows the aspect ratio.")
	optHeight = optInteger("height", 1, 20000, nil, "Height of the result in pixels; with only one of width and height, the other follows the aspect ratio.")
	optFit    = optEnum("fit", "max", []string{"max", "crop", "scale", "upscale"},
		"How width and height apply: max fits inside them and never enlarges; upscale fits inside them and may enlarge; crop fills them and cuts the excess from the centre; scale stretches to exactly them.")
	optLossless = Option{Name: "lossless", Type: "boolean", Default: false,
		Description: "WebP only: encode losslessly (quality is then ignored)."}
	optPages = Option{Name: "pages", Type: "string",
		Description: `Pages to use: single pages and ranges separated by commas, e.g. "1-3,5" or "2-" (to the end); default all pages.`}
	optPixelDensity = optInteger("pixel_density", 10, 1200, 150, "Resolution of the rendered pages in DPI.")
	optDensity      = optInteger("density", 10, 1200, 150, "Older name of pixel_density.")
)

func optQuality(def int) Option {
	return optInteger("quality", 1, 100, def, "Quality of lossy output (jpg, webp), 1 (smallest) to 100 (best).")
}

// common returns the options every capability of op accepts.
func common(op string) []Option {
	opts := []Option{optEngineName, optEngineVersion, optTimeout}
	switch op {
	case "metadata", "archive/extract":
	default:
		opts = append(opts, optFilename)
	}
	return opts
}

// lossy reports output formats that quality applies to.
func lossy(out string) bool { return out == "jpg" || out == "webp" }

// imageOutOpts are the options of an image output format.
func imageOutOpts(out string, quality int) []Option {
	var opts []Option
	if lossy(out) {
		opts = append(opts, optQuality(quality))
	}
	if out == "webp" {
		opts = append(opts, optLossless)
	}
	return opts
}

// Watermark options; units are pixels on images and points on PDFs.
var (
	watermarkFonts = []string{"Arial", "Arial Bold", "Arial Bold Italic", "Arial Italic",
		"Courier New", "Courier New Bold", "Courier New Bold Italic", "Courier New Italic",
		"Helvetica", "Helvetica Bold", "Helvetica BoldOblique", "Helvetica Oblique",
		"Times New Roman", "Times New Roman Bold", "Times New Roman Bold Italic", "Times New Roman Italic"}
	watermarkCommon = []Option{
		{Name: "text", Type: "string", Description: "Text of the watermark (at most 1000 characters); give text or image."},
		optInteger("font_size", 1, 1000, 40, "Size of the text: points on PDFs, pixels on images."),
		{Name: "font_color", Type: "string", Default: "#000000", Description: `Colour of the text as hex, "#RRGGBB" or "#RGB".`},
		optEnum("font_name", "Helvetica", watermarkFonts,
			"Font of the text. PDFs use the matching standard PDF font (Helvetica for Arial, Times for Times New Roman, Courier for Courier New); images use the Go fonts (sans for Arial, Helvetica and Times New Roman, mono for Courier New)."),
		{Name: "image", Type: "string", Description: "An image to place instead of text (png, jpg, gif, bmp, tiff, webp): the name of another task of the job (its first file), a task ID for a standalone task, or an http(s) URL."},
		optInteger("image_width", 1, 20000, nil, "Width of the watermark image (pixels on images, points on PDFs); default its own width."),
		optInteger("image_height", 1, 20000, nil, "Height of the watermark image; default its own height, or following image_width by the aspect ratio."),
		optInteger("image_width_percent", 1, 100, nil, "Width of the watermark image as a percentage of the page or image width (instead of image_width)."),
		optEnum("position_vertical", "center", []string{"top", "center", "bottom"}, "Vertical position of the watermark."),
		optEnum("position_horizontal", "center", []string{"left", "center", "right"}, "Horizontal position of the watermark."),
		optInteger("margin_vertical", 0, 10000, 25, "Space between the watermark and the top or bottom edge (not used with position_vertical center)."),
		optInteger("margin_horizontal", 0, 10000, 25, "Space between the watermark and the left or right edge (not used with position_horizontal center)."),
		optInteger("opacity", 0, 100, 100, "Opacity in percent: 100 is fully visible."),
		optInteger("rotation", -360, 360, 0, "Rotation of the watermark in degrees, counter-clockwise."),
	}
	watermarkPDF = []Option{
		optPages,
		optEnum("layer", "above", []string{"above", "below"}, "Whether the watermark is drawn above or below the page content."),
	}
)

// Catalogue lists every capability of the local engines, sorted by
// operation, input and output format. Entries whose external engine is not
// installed are included with Available false and a Note. The slice is the
// caller's; the Options in it are shared and must not be changed.
func (r *Registry) Catalogue() []Capability {
	return slices.Clone(r.caps)
}

// buildCatalogue makes the catalogue of the engines NewRegistry detected;
// it is built once because every task is validated against it.
func (r *Registry) buildCatalogue() []Capability {
	var caps []Capability
	add := func(op, in, out, eng string, opts ...Option) {
		all := append(append([]Option{}, opts...), common(op)...)
		sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
		c := Capability{Operation: op, InputFormat: in, OutputFormat: out, Engine: eng, Available: true, Options: all}
		switch eng {
		case engineLibreOffice:
			c.Available, c.Note = r.libreoffice != "", notInstalledNote(r.libreoffice, engineLibreOffice)
		case engineChromium:
			c.Available, c.Note = r.chromium != "", notInstalledNote(r.chromium, engineChromium)
		}
		caps = append(caps, c)
	}
	sizeOpts := []Option{optWidth, optHeight, optFit}
	for _, in := range imageInputs {
		for _, out := range imageOutputs {
			add("convert", in, out, engineGoImage, append(sizeOpts, imageOutOpts(out, 90)...)...)
		}
		add("convert", in, "pdf", enginePDFCPU)
	}
	for _, out := range []string{"jpg", "png", "webp"} {
		add("convert", "pdf", out, enginePDFium, append([]Option{optPages, optPixelDensity, optDensity, optWidth, optHeight, optFit}, imageOutOpts(out, 90)...)...)
	}
	for _, fam := range officeFamilies {
		for _, in := range fam.inputs {
			for _, out := range fam.outputs {
				add("convert", in, out, engineLibreOffice)
			}
		}
	}
	screen := []Option{
		optInteger("screen_width", 16, 10000, 1920, "Width of the browser window in CSS pixels (the page lays out for it; the screenshot's width)."),
		optInteger("screen_height", 16, 10000, 1080, "Height of the browser window in CSS pixels (the screenshot's height)."),
	}
	for _, in := range htmlInputs {
		for _, out := range []string{"jpg", "pdf", "png"} {
			add("convert", in, out, engineChromium, append(slices.Clone(screen), imageOutOpts(out, 90)...)...)
		}
	}
	for _, out := range []string{"jpg", "pdf", "png"} {
		opts := append([]Option{{Name: "url", Type: "string", Required: true, Description: "The http or https URL of the page to capture."},
			optInteger("width", 16, 10000, 1920, "Older name of screen_width."),
			optInteger("height", 16, 10000, 1080, "Older name of screen_height.")}, screen...)
		add("capture-website", "website", out, engineChromium, append(opts, imageOutOpts(out, 90)...)...)
	}
	add("optimize", "jpg", "jpg", engineGoImage, optQuality(75))
	add("optimize", "png", "png", engineGoImage)
	add("optimize", "pdf", "pdf", enginePDFCPU)
	thumbSize := []Option{
		optInteger("width", 1, 20000, 256, "Width of the thumbnail in pixels (default 256 when neither width nor height is given)."),
		optInteger("height", 1, 20000, 256, "Height of the thumbnail in pixels (default 256 when neither width nor height is given)."),
		optFit,
	}
	for _, in := range append(slices.Clone(imageInputs), "pdf") {
		eng := engineGoImage
		if in == "pdf" {
			eng = enginePDFium
		}
		for _, out := range []string{"jpg", "png", "webp"} {
			add("thumbnail", in, out, eng, append(thumbSize, imageOutOpts(out, 85)...)...)
		}
	}
	for _, in := range append(slices.Clone(imageInputs), "pdf") {
		add("merge", in, "pdf", enginePDFCPU)
	}
	for _, out := range archiveFormats {
		add("archive", "*", out, engineArchive)
	}
	for _, in := range archiveFormats {
		add("archive/extract", in, "*", engineArchive)
	}
	for _, in := range imageInputs {
		add("metadata", in, "", engineGoImage)
	}
	add("metadata", "pdf", "", enginePDFCPU)
	add("metadata/write", "pdf", "pdf", enginePDFCPU, Option{Name: "metadata", Type: "object", Required: true,
		Description: `Document information entries to set, e.g. {"Title": "Report", "Author": "Ann"}; values are strings or numbers, an empty string removes the entry.`})
	for _, in := range imageInputs {
		add("watermark", in, in, engineGoImage, append(slices.Clone(watermarkCommon), imageOutOpts(in, 90)...)...)
	}
	add("watermark", "pdf", "pdf", enginePDFCPU, append(slices.Clone(watermarkCommon), watermarkPDF...)...)
	add("pdf/split-pages", "pdf", "pdf", enginePDFCPU)
	add("pdf/extract-pages", "pdf", "pdf", enginePDFCPU, Option{Name: "pages", Type: "string", Required: true,
		Description: `Pages to keep: single pages and ranges separated by commas, e.g. "1-3,5" or "2-" (to the end).`})
	add("pdf/rotate-pages", "pdf", "pdf", enginePDFCPU, optPages,
		Option{Name: "rotation", Type: "integer", Default: 90, Values: []string{"-270", "-180", "-90", "90", "180", "270"},
			Description: `Degrees to turn the pages clockwise ("+90", "90", "180", "270"; negative values turn counter-clockwise).`})
	add("pdf/encrypt", "pdf", "pdf", enginePDFCPU,
		Option{Name: "set_password", Type: "string", Description: "Password needed to open the PDF; give this, set_owner_password or both. Encryption is AES-256, or AES-128 when a password has spaces or symbols."},
		Option{Name: "set_owner_password", Type: "string", Description: "Owner password: with it every restriction below can be lifted. Default: set_password."},
		optEnum("allow_print", "full", []string{"full", "low", "none"}, "Printing allowed without the owner password: full, low (low resolution) or none."),
		optEnum("allow_modify", "all", []string{"all", "annotate", "form", "assembly", "none"},
			"Changes allowed without the owner password: all, annotate (comments, forms, page assembly), form (fill forms, page assembly), assembly (page assembly only) or none."),
		Option{Name: "allow_extract", Type: "boolean", Default: true, Description: "Whether copying text and images is allowed without the owner password."},
		Option{Name: "allow_accessibility", Type: "boolean", Default: true, Description: "Whether screen readers may extract text without the owner password."},
	)
	add("pdf/decrypt", "pdf", "pdf", enginePDFium,
		Option{Name: "password", Type: "string", Description: "The PDF's password (user or owner); may be omitted when the PDF opens without one."})
	SortCapabilities(caps)
	return caps
}

// SortCapabilities orders capabilities as catalogues list them: by
// operation, input and output format, keeping the order of equal ones.
func SortCapabilities(caps []Capability) {
	sort.SliceStable(caps, func(i, j int) bool {
		a, b := caps[i], caps[j]
		if a.Operation != b.Operation {
			return a.Operation < b.Operation
		}
		if a.InputFormat != b.InputFormat {
			return a.InputFormat < b.InputFormat
		}
		return a.OutputFormat < b.OutputFormat
	})
}

// Operations lists the operations the local engines perform, sorted.
func (r *Registry) Operations() []string {
	return slices.Clone(r.ops)
}

// operationsOf lists the operations of a sorted catalogue once each.
func operationsOf(caps []Capability) []string {
	var ops []string
	for _, c := range caps {
		if len(ops) == 0 || ops[len(ops)-1] != c.Operation {
			ops = append(ops, c.Operation)
		}
	}
	return ops
}

// RealServiceOnly maps each operation of the real API that the local
// engines do not perform to the reason, for the task error and listings.
func RealServiceOnly() map[string]string {
	storage := "it reads or writes cloud storage with the credentials given in the task, which the local server does not do"
	return map[string]string{
		"import/s3": storage, "import/azure/blob": storage, "import/google-cloud-storage": storage,
		"import/openstack": storage, "import/sftp": storage,
		"export/s3": storage, "export/azure/blob": storage, "export/google-cloud-storage": storage,
		"export/openstack": storage, "export/sftp": storage,
		"command": "it runs ffmpeg, ImageMagick or GraphicsMagick command lines, which the local server does not run",
		"pdf/a":   "converting to PDF/A needs colour profiles and font embedding that no local engine provides",
		"pdf/ocr": "text recognition needs an OCR engine, which the local server does not have",
	}
}

// capabilityFor finds the capability of op from in to out.
func (r *Registry) capabilityFor(caps []Capability, op, in, out string) (Capability, bool) {
	for _, c := range caps {
		if c.Operation != op || c.OutputFormat != out {
			continue
		}
		if c.InputFormat == in || c.InputFormat == "*" {
			return c, true
		}
	}
	return Capability{}, false
}

// defaultOutput is the output format an operation uses when none is given.
func defaultOutput(op, in string) string {
	switch op {
	case "thumbnail", "capture-website":
		return "png"
	case "watermark", "optimize":
		return in
	case "pdf/split-pages", "pdf/extract-pages", "pdf/rotate-pages", "pdf/encrypt", "pdf/decrypt", "metadata/write":
		return "pdf"
	case "archive/extract":
		return "*"
	}
	return ""
}

// validate checks a request against the catalogue: a known operation, a
// supported pair, known options of the right types and values, and an
// installed engine. It returns the capability.
func (r *Registry) validate(req *Request) (Capability, error) {
	caps, ops := r.caps, r.ops
	if !slices.Contains(ops, req.Operation) {
		if why, ok := RealServiceOnly()[req.Operation]; ok {
			return Capability{}, newError(CodeUnsupportedConversion, nil, "operation %s runs on the real CloudConvert service only: %s", req.Operation, why)
		}
		return Capability{}, newError(CodeUnsupportedConversion, nil, "operation %q is not performed by the local engines%s; supported: %s",
			short(req.Operation), suggest.DidYouMean(req.Operation, ops), strings.Join(ops, ", "))
	}
	in := req.InputFormat
	if req.Operation == "capture-website" {
		in = "website"
	}
	if req.OutputFormat == "" {
		req.OutputFormat = defaultOutput(req.Operation, in)
	}
	c, ok := r.capabilityFor(caps, req.Operation, in, req.OutputFormat)
	if !ok {
		if req.OutputFormat == "" {
			if targets := r.targets(req.Operation, in); len(targets) > 0 {
				return Capability{}, newError(CodeInvalidOptions, nil, "%s needs an output_format; from %s it makes: %s", req.Operation, in, strings.Join(targets, ", "))
			}
		}
		return Capability{}, r.unsupported(req.Operation, in, req.OutputFormat)
	}
	if err := checkOptions(c, req.Options); err != nil {
		return Capability{}, err
	}
	if !c.Available {
		return Capability{}, newError(CodeEngineNotAvailable, nil, "%s needs %s, which is not installed; %s",
			capWhere(c), engineTitle(c.Engine), installHint(c.Engine))
	}
	return c, nil
}

// capWhere names a capability in messages: "convert from png to jpg".
func capWhere(c Capability) string {
	where := c.Operation
	if c.InputFormat != "*" && c.InputFormat != "website" {
		where += " from " + c.InputFormat
	}
	if c.OutputFormat != "" && c.OutputFormat != "*" {
		where += " to " + c.OutputFormat
	}
	return where
}

func orNone(f string) string {
	if f == "" {
		return "(none)"
	}
	return f
}

func engineTitle(eng string) string {
	switch eng {
	case engineLibreOffice:
		return "LibreOffice"
	case engineChromium:
		return "Chromium"
	}
	return eng
}

// checkOptions refuses options the capability does not list, and values
// of the wrong type, outside their range or not among their values.
func checkOptions(c Capability, opts map[string]any) error {
	known := make([]string, len(c.Options))
	byName := make(map[string]Option, len(c.Options))
	for i, o := range c.Options {
		known[i] = o.Name
		byName[o.Name] = o
	}
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	where := capWhere(c)
	for _, k := range keys {
		o, ok := byName[k]
		if !ok {
			return newError(CodeInvalidOptions, nil, "option %q is not an option of %s%s; its options are: %s",
				short(k), where, suggest.DidYouMean(k, known), strings.Join(known, ", "))
		}
		if err := checkValue(o, opts[k]); err != nil {
			return err
		}
	}
	for _, o := range c.Options {
		if v, present := opts[o.Name]; o.Required && (!present || v == nil || v == "") {
			return newError(CodeInvalidOptions, nil, "%s needs the option %s: %s", where, o.Name, o.Description)
		}
	}
	return nil
}

// checkValue checks one option's value; null counts as absent.
func checkValue(o Option, v any) error {
	if v == nil {
		return nil
	}
	var s string
	switch o.Type {
	case "integer":
		n, ok, err := optInt(map[string]any{o.Name: v}, o.Name)
		if err != nil || !ok {
			return err
		}
		if (o.Minimum != nil && n < *o.Minimum) || (o.Maximum != nil && n > *o.Maximum) {
			return newError(CodeInvalidOptions, nil, "option %s must be between %d and %d, got %d", o.Name, *o.Minimum, *o.Maximum, n)
		}
		s = strconv.Itoa(n)
	case "boolean":
		if _, err := optBool(map[string]any{o.Name: v}, o.Name, false); err != nil {
			return err
		}
		return nil
	case "object":
		if _, ok := v.(map[string]any); !ok {
			return newError(CodeInvalidOptions, nil, "option %s must be an object, e.g. {\"Title\": \"Report\"}", o.Name)
		}
		return nil
	default:
		switch v.(type) {
		case map[string]any, []any:
			return newError(CodeInvalidOptions, nil, "option %s must be a string", o.Name)
		}
		s = optString(map[string]any{o.Name: v}, o.Name)
	}
	if len(o.Values) > 0 && s != "" && !slices.Contains(o.Values, s) {
		return newError(CodeInvalidOptions, nil, "option %s must be one of %s; got %q%s", o.Name,
			strings.Join(o.Values, ", "), short(s), suggest.DidYouMean(s, o.Values))
	}
	return nil
}

// optBool reads a boolean option: true/false, or the strings "true",
// "false", "1", "0".
func optBool(opts map[string]any, key string, def bool) (bool, error) {
	switch v := opts[key].(type) {
	case nil:
		return def, nil
	case bool:
		return v, nil
	case string:
		if b, err := strconv.ParseBool(strings.TrimSpace(v)); err == nil {
			return b, nil
		}
	}
	return false, newError(CodeInvalidOptions, nil, "option %s must be true or false", key)
}

// targets lists output formats op can produce from input format in,
// including those whose external engine is not installed.
func (r *Registry) targets(op, in string) []string {
	var out []string
	for _, c := range r.caps {
		if c.Operation == op && (c.InputFormat == in || c.InputFormat == "*") && c.OutputFormat != "" && c.OutputFormat != "*" {
			out = append(out, c.OutputFormat)
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// inputsOf lists the input formats of op.
func (r *Registry) inputsOf(op string) []string {
	var in []string
	for _, c := range r.caps {
		if c.Operation == op {
			in = append(in, c.InputFormat)
		}
	}
	sort.Strings(in)
	return slices.Compact(in)
}

// handles summarizes an engine's capabilities for EngineInfo.Handles:
// one line per operation and output set, e.g. "convert: bmp, gif -> png".
func handles(caps []Capability, eng string) []string {
	type key struct{ op, outs string }
	outs := map[string][]string{} // op + input -> outputs
	var order []string
	for _, c := range caps {
		if c.Engine != eng {
			continue
		}
		k := c.Operation + "\x00" + c.InputFormat
		if _, ok := outs[k]; !ok {
			order = append(order, k)
		}
		if c.OutputFormat != "" {
			outs[k] = append(outs[k], c.OutputFormat)
		}
	}
	ins := map[key][]string{}
	var keys []key
	for _, k := range order {
		op, in, _ := strings.Cut(k, "\x00")
		kk := key{op, strings.Join(outs[k], ", ")}
		if _, ok := ins[kk]; !ok {
			keys = append(keys, kk)
		}
		ins[kk] = append(ins[kk], in)
	}
	var lines []string
	for _, k := range keys {
		line := fmt.Sprintf("%s: %s", k.op, strings.Join(ins[k], ", "))
		if k.outs != "" {
			line += " -> " + k.outs
		}
		lines = append(lines, line)
	}
	return lines
}
