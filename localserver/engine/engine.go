// Package engine performs the real file work behind the local
// CloudConvert-compatible server: image conversion, PDF rendering, merging,
// optimizing, metadata extraction, archives, and (when installed) office
// conversion through LibreOffice and website capture through Chromium.
//
// Everything that can be done in pure Go is done in pure Go, so the server
// works on a bare machine: images with the standard library and
// golang.org/x/image, PDF structure with pdfcpu, and PDF rasterizing with
// PDFium compiled to WebAssembly and run on wazero. External programs are
// detected once, when a Registry is built, and a task that needs a missing
// one fails with ENGINE_NOT_AVAILABLE, like a real CloudConvert task fails
// with a code and a message instead of an HTTP error.
package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/klippa-app/go-pdfium"

	"github.com/cctoolkit/cloudconvert/localserver/internal/filename"
)

// File is a file on local disk, used both for inputs and results.
type File struct {
	Name string // display name, e.g. "report.pdf" (never a path)
	Path string // absolute or relative path on local disk
	Size int64  // size in bytes; 0 for inputs means "unknown"
	// Dir is the folder of a result inside its archive (archive/extract),
	// "a/b" style; "" for the top level and for every other result.
	Dir string
}

// Request describes one CloudConvert task to perform.
type Request struct {
	// Operation is the CloudConvert operation: one that Registry.Operations
	// lists ("convert", "watermark", "pdf/split-pages", ...).
	Operation string
	Inputs    []File
	// InputFormat may be empty: it is then derived from the first input's
	// extension. OutputFormat is required for convert, thumbnail, merge,
	// archive and capture-website.
	InputFormat, OutputFormat string
	// Options holds the task payload's other fields as decoded from JSON
	// (numbers are float64 or json.Number; strings, bools): width, height,
	// fit, quality, pages, pixel_density, filename, url, ...
	Options map[string]any
	// OutDir is an existing directory where results are written.
	OutDir string
	// Limits overrides the registry's limits for this request where set.
	Limits Limits
	// Image is the watermark image of a watermark task whose image option
	// is set; the caller resolves that option (a task's file, a URL) to a
	// local file, as the engines never fetch anything themselves.
	Image *File
	// Dial, when set, is how Chromium reaches the network (capture-website
	// and HTML conversion):
	// every connection it opens goes through a local proxy that dials with
	// it (the server passes one that refuses private addresses).
	Dial DialFunc
}

// Result is what a successful Run produced.
type Result struct {
	Files         []File
	Metadata      map[string]any // set by the metadata operation
	Engine        string         // e.g. "goimage", "pdfium", "pdfcpu", "libreoffice"
	EngineVersion string
}

// Error codes, matching the spirit of CloudConvert's task error codes.
const (
	CodeUnsupportedConversion = "UNSUPPORTED_CONVERSION"
	CodeInvalidFile           = "INVALID_FILE"
	CodeEngineNotAvailable    = "ENGINE_NOT_AVAILABLE"
	CodeInvalidOptions        = "INVALID_OPTIONS"
	// CodeEngineFailed means an external program ran but did not produce a
	// result (crash, timeout, non-zero exit).
	CodeEngineFailed = "ENGINE_FAILED"
)

// Error is the typed error every engine failure is reported as, so the
// server can copy Code and Message into the failed task. Use errors.As.
type Error struct {
	Code    string
	Message string
	Err     error // underlying cause, may be nil
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Message + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

func newError(code string, err error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// Options configures NewRegistry. The zero value detects everything on PATH.
type Options struct {
	// LibreOfficePath and ChromiumPath override detection. Set to a path
	// that does not exist (or "-") to force "not installed".
	LibreOfficePath string
	ChromiumPath    string
	// PDFiumWorkers bounds concurrent PDF renders; default runtime.NumCPU().
	PDFiumWorkers int
	// PDFiumCacheDir, when set, keeps wazero's compiled PDFium module on disk
	// so that later processes start much faster.
	PDFiumCacheDir string
	// ExternalTimeout bounds one LibreOffice or Chromium run; default 2 min.
	ExternalTimeout time.Duration
	// Limits are the default budgets of every request (see Limits).
	Limits Limits
}

// EngineInfo describes one engine for listings such as `cloudconvert engines`.
type EngineInfo struct {
	Name      string   `json:"name"`
	Version   string   `json:"version"`
	Available bool     `json:"available"`
	Path      string   `json:"path,omitempty"` // binary, for external engines
	Handles   []string `json:"handles"`        // human-readable capabilities
	Note      string   `json:"note,omitempty"` // e.g. how to install it
}

// Registry dispatches requests to engines. It is safe for concurrent use.
// Build one per process and Close it when done: the PDFium WebAssembly pool
// it starts lazily costs seconds to build and is reused across requests.
type Registry struct {
	opts        Options
	libreoffice string // "" when not installed
	chromium    string
	caps        []Capability // the catalogue, fixed once the engines are detected
	ops         []string     // its operations, sorted

	pdfiumMu       sync.Mutex
	pdfiumPool     pdfium.Pool
	pdfiumInitTime time.Duration
	closed         bool

	versionsOnce sync.Once
	loVersion    string
	chVersion    string
}

// NewRegistry detects the external engines once. It does not start PDFium;
// that happens on the first PDF render (see PDFiumInitTime).
func NewRegistry(opts Options) *Registry {
	if opts.PDFiumWorkers <= 0 {
		opts.PDFiumWorkers = runtime.NumCPU()
	}
	if opts.ExternalTimeout <= 0 {
		opts.ExternalTimeout = 2 * time.Minute
	}
	r := &Registry{opts: opts}
	r.libreoffice = detect(opts.LibreOfficePath, "soffice", "libreoffice")
	r.chromium = detect(opts.ChromiumPath, "chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
	r.caps = r.buildCatalogue()
	r.ops = operationsOf(r.caps)
	return r
}

// Close releases the PDFium pool if it was started; PDF rendering fails
// afterwards, everything else keeps working.
func (r *Registry) Close() error {
	r.pdfiumMu.Lock()
	defer r.pdfiumMu.Unlock()
	r.closed = true
	if r.pdfiumPool == nil {
		return nil
	}
	err := r.pdfiumPool.Close()
	r.pdfiumPool = nil
	return err
}

// Run performs req. progress, if not nil, is called with 0..100. Failures
// are *Error values (or the context's error when ctx ends first). The
// request is checked against the catalogue first: an operation, format
// pair or option the catalogue does not list is refused before any work.
func (r *Registry) Run(ctx context.Context, req Request, progress func(percent int)) (res Result, err error) {
	defer func() {
		// Last line of defence: third-party decoders are guarded closer to
		// the call, but a task must never take the server down.
		if p := recover(); p != nil {
			res, err = Result{}, newError(CodeInvalidFile, nil, "the engine crashed on this input: %v", p)
		}
	}()
	if progress == nil {
		progress = func(int) {}
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	req.Operation = strings.ToLower(strings.TrimSpace(req.Operation))
	req.OutputFormat = normFormat(req.OutputFormat)
	req.InputFormat = normFormat(req.InputFormat)
	if req.InputFormat == "" && len(req.Inputs) > 0 {
		req.InputFormat = formatOf(req.Inputs[0].Name, req.Inputs[0].Path)
		if !r.knownInput(req.Operation, req.InputFormat) {
			// A name without a known extension: trust the content.
			if f := sniffFormat(req.Inputs[0].Path); f != "" {
				req.InputFormat = f
			}
		}
	}
	if req.Operation != "capture-website" && len(req.Inputs) == 0 {
		return Result{}, newError(CodeInvalidOptions, nil, "%s needs at least one input file", req.Operation)
	}
	if req.OutDir == "" {
		return Result{}, newError(CodeInvalidOptions, nil, "no output directory given")
	}
	if _, err := r.validate(&req); err != nil {
		return Result{}, err
	}
	if secs, ok, _ := optInt(req.Options, "timeout"); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, time.Duration(secs)*time.Second, errOptionTimeout)
		defer cancel()
	}
	progress(0)
	switch req.Operation {
	case "convert":
		res, err = r.convert(ctx, req, progress)
	case "optimize":
		res, err = r.optimize(ctx, req, progress)
	case "thumbnail":
		res, err = r.thumbnail(ctx, req, progress)
	case "merge":
		res, err = r.merge(ctx, req, progress)
	case "metadata":
		res, err = r.metadata(ctx, req, progress)
	case "metadata/write":
		res, err = r.metadataWrite(ctx, req, progress)
	case "archive":
		res, err = r.archive(ctx, req, progress)
	case "archive/extract":
		res, err = r.extract(ctx, req, progress)
	case "capture-website":
		res, err = r.captureWebsite(ctx, req, progress)
	case "watermark":
		res, err = r.watermark(ctx, req, progress)
	case "pdf/split-pages", "pdf/extract-pages", "pdf/rotate-pages", "pdf/encrypt", "pdf/decrypt":
		res, err = r.pdfPages(ctx, req, progress)
	default: // the catalogue lists an operation no case handles: a bug
		return Result{}, newError(CodeUnsupportedConversion, nil, "operation %s is listed but not implemented by the local engines", req.Operation)
	}
	if err != nil {
		if errors.Is(context.Cause(ctx), errOptionTimeout) {
			secs, _, _ := optInt(req.Options, "timeout")
			return Result{}, newError(CodeEngineFailed, err, "%s did not finish within the %d seconds of its timeout option", req.Operation, secs)
		}
		return Result{}, err
	}
	progress(100)
	return res, nil
}

// errOptionTimeout is the cause of a context ended by the timeout option.
var errOptionTimeout = errors.New("the task's timeout option ran out")

// knownInput reports whether op takes input format in.
func (r *Registry) knownInput(op, in string) bool {
	if in == "" {
		return false
	}
	for _, f := range r.inputsOf(op) {
		if f == in || f == "*" {
			return true
		}
	}
	return false
}

// sniffFormat names a file's format from its first bytes: PDF, the
// images, and the archives; "" when none matches.
func sniffFormat(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	if format, _, _ := decoderFor(head); format != "" {
		return format
	}
	switch {
	case bytes.Contains(head, []byte("%PDF-")):
		return "pdf"
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), bytes.HasPrefix(head, []byte("PK\x05\x06")):
		return "zip"
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return "tar.gz"
	case len(head) >= 262 && string(head[257:262]) == "ustar":
		return "tar"
	}
	return ""
}

// PDFiumInitTime reports how long starting the PDFium pool took (zero if
// it has not been started).
func (r *Registry) PDFiumInitTime() time.Duration {
	r.pdfiumMu.Lock()
	defer r.pdfiumMu.Unlock()
	return r.pdfiumInitTime
}

// Engines lists every engine with its version, availability and what it
// handles (derived from the catalogue). Versions of external programs are
// asked once (running `--version`), on first call.
func (r *Registry) Engines() []EngineInfo {
	r.versionsOnce.Do(func() {
		if r.libreoffice != "" {
			r.loVersion = programVersion(r.libreoffice)
		}
		if r.chromium != "" {
			r.chVersion = programVersion(r.chromium)
		}
	})
	caps := r.caps
	return []EngineInfo{
		{Name: engineGoImage, Version: goVersion(), Available: true, Handles: handles(caps, engineGoImage),
			Note: "Go's image packages; WebP is written by libwebp compiled to WebAssembly, run on wazero"},
		{Name: enginePDFium, Version: pdfiumVersion(), Available: true, Handles: handles(caps, enginePDFium),
			Note: "PDFium compiled to WebAssembly, run on wazero; no external program"},
		{Name: enginePDFCPU, Version: pdfcpuVersion(), Available: true, Handles: handles(caps, enginePDFCPU)},
		{Name: engineArchive, Version: goVersion(), Available: true, Handles: handles(caps, engineArchive)},
		{Name: engineLibreOffice, Version: r.loVersion, Available: r.libreoffice != "", Path: r.libreoffice,
			Handles: handles(caps, engineLibreOffice), Note: notInstalledNote(r.libreoffice, engineLibreOffice)},
		{Name: engineChromium, Version: r.chVersion, Available: r.chromium != "", Path: r.chromium,
			Handles: handles(caps, engineChromium), Note: notInstalledNote(r.chromium, engineChromium)},
	}
}

// installHint says how to install an external engine.
func installHint(eng string) string {
	switch eng {
	case engineLibreOffice:
		// One package per component: documents, spreadsheets, presentations.
		return "on Debian or Ubuntu: apt-get install libreoffice-writer-nogui libreoffice-calc-nogui libreoffice-impress-nogui"
	case engineChromium:
		return "on Debian or Ubuntu: apt-get install chromium"
	}
	return ""
}

// notInstalledNote is an external engine's note: "" when it is installed.
func notInstalledNote(path, eng string) string {
	if path != "" {
		return ""
	}
	return engineTitle(eng) + " is not installed; " + installHint(eng)
}

func goVersion() string { return strings.TrimPrefix(runtime.Version(), "go") }

func pdfcpuVersion() string { return moduleVersion("github.com/pdfcpu/pdfcpu", "v0.15.0") }

// pdfiumVersion names the go-pdfium release: the WebAssembly PDFium build is
// embedded in it and carries no version string of its own.
func pdfiumVersion() string {
	return "go-pdfium " + moduleVersion("github.com/klippa-app/go-pdfium", "v1.21.4") + " (wasm)"
}

// moduleVersion reads a dependency's version from the build info, so the
// reported version follows go.mod; fallback covers binaries built without it.
func moduleVersion(path, fallback string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == path {
				if d.Replace != nil {
					return d.Replace.Version
				}
				return d.Version
			}
		}
	}
	return fallback
}

// normFormat lowercases a format and folds aliases (jpeg -> jpg, tif -> tiff, tgz -> tar.gz).
func normFormat(f string) string {
	f = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(f, ".")))
	switch f {
	case "jpeg":
		return "jpg"
	case "tif":
		return "tiff"
	case "tgz":
		return "tar.gz"
	}
	return f
}

// formatOf derives a format from a file name (or path when name is empty).
func formatOf(name, path string) string {
	if name == "" {
		name = path
	}
	lower := strings.ToLower(name)
	if strings.HasSuffix(lower, ".tar.gz") {
		return "tar.gz"
	}
	return normFormat(filepath.Ext(lower))
}

// baseName is the display name without its extension, safe as a file name.
func baseName(f File) string {
	name := f.Name
	if name == "" {
		name = filepath.Base(f.Path)
	}
	name = SafeName(name)
	if strings.HasSuffix(strings.ToLower(name), ".tar.gz") {
		return name[:len(name)-len(".tar.gz")]
	}
	if ext := filepath.Ext(name); ext != "" && ext != name {
		name = strings.TrimSuffix(name, ext)
	}
	return name
}

// SafeName reduces a user-supplied file name to a single safe path element:
// no directories, no "..", no control characters. It never returns "".
func SafeName(name string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	name = filepath.Base(filepath.Clean("/" + name))
	if name == "/" {
		return "file"
	}
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '/' || r == ':' {
			return '_'
		}
		return r
	}, name)
	name = strings.TrimLeft(name, ".")
	if name == "" {
		return "file"
	}
	return filename.Truncate(name, 200)
}

// outputNames decides result names: the "filename" option wins for a single
// output; several outputs get "-1", "-2", ... (or the given numbers) after
// the stem, as CloudConvert does for multi-page renders.
func outputNames(req Request, stem, ext string, numbers []int) []string {
	if fn := optString(req.Options, "filename"); fn != "" {
		fn = SafeName(fn)
		if len(numbers) <= 1 {
			if filepath.Ext(fn) == "" {
				fn += "." + ext
			}
			return []string{fn}
		}
		stem = strings.TrimSuffix(fn, filepath.Ext(fn))
	}
	if len(numbers) <= 1 {
		return []string{stem + "." + ext}
	}
	names := make([]string, len(numbers))
	for i, n := range numbers {
		names[i] = fmt.Sprintf("%s-%d.%s", stem, n, ext)
	}
	return names
}

// uniquePath returns dir/name, adding " (2)" etc. when the name is taken, so
// two inputs with the same name never overwrite each other's results.
func uniquePath(dir, name string) (string, string) {
	p := filepath.Join(dir, name)
	if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
		return p, name
	}
	ext := filepath.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	for i := 2; ; i++ {
		n := fmt.Sprintf("%s (%d)%s", stem, i, ext)
		p = filepath.Join(dir, n)
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			return p, n
		}
	}
}

func statFile(name, path string) (File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return File{}, fmt.Errorf("stat result: %w", err)
	}
	return File{Name: name, Path: path, Size: st.Size()}, nil
}

// unsupported builds the UNSUPPORTED_CONVERSION error listing what the
// input format can become (or which inputs op takes), so the message is
// actionable.
func (r *Registry) unsupported(op, in, out string) *Error {
	targets := r.targets(op, in)
	if in == "" {
		in = "(unknown)"
	}
	if len(targets) == 0 {
		return newError(CodeUnsupportedConversion, nil, "%s of %s files is not supported by the local engines; %s takes: %s (the real CloudConvert service handles more formats)",
			op, in, op, strings.Join(r.inputsOf(op), ", "))
	}
	return newError(CodeUnsupportedConversion, nil, "%s from %s to %s is not supported by the local engines; from %s, %s makes: %s",
		op, in, orNone(out), in, op, strings.Join(targets, ", "))
}

// guard runs fn and turns a panic inside a third-party decoder into an
// INVALID_FILE error naming the input.
func guard(what string, fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = newError(CodeInvalidFile, nil, "%s: the file could not be read (decoder crashed: %v)", what, p)
		}
	}()
	return fn()
}

// Heavy reports whether a request of op on inputs of these formats (or
// file names) uses PDFium, pdfcpu on PDFs, LibreOffice or Chromium, or
// unpacks an archive: work that takes seconds to minutes. The server runs such tasks on at most
// half of its workers, so that quick image, import and export work is not
// starved behind them.
func Heavy(op string, inputs ...string) bool {
	switch strings.ToLower(strings.TrimSpace(op)) {
	case "capture-website", "archive/extract", "metadata/write":
		return true
	case "convert", "thumbnail", "optimize", "merge", "metadata", "watermark":
		for _, in := range inputs {
			f := formatOf(in, "")
			if f == "" {
				f = normFormat(in)
			}
			if f == "pdf" || officeFamilyOf(f) != nil || slices.Contains(htmlInputs, f) {
				return true
			}
		}
	}
	if strings.HasPrefix(strings.ToLower(strings.TrimSpace(op)), "pdf/") {
		return true
	}
	return false
}
