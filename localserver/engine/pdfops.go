package engine

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/klippa-app/go-pdfium"
	"github.com/klippa-app/go-pdfium/references"
	"github.com/klippa-app/go-pdfium/requests"
	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
	"golang.org/x/text/secure/precis"
	"golang.org/x/text/unicode/norm"
)

// pdfPages performs the pdf/* page and security operations with pdfcpu,
// one input at a time.
func (r *Registry) pdfPages(ctx context.Context, req Request, progress func(int)) (Result, error) {
	res := pdfResult()
	if req.Operation == "pdf/decrypt" {
		res.Engine, res.EngineVersion = enginePDFium, pdfiumVersion()
	}
	for i, in := range req.Inputs {
		if err := checkPDF(in); err != nil {
			return Result{}, err
		}
		var (
			files []File
			err   error
		)
		switch req.Operation {
		case "pdf/split-pages":
			files, err = r.splitPages(ctx, req, in)
		case "pdf/extract-pages":
			files, err = r.extractPages(ctx, req, in)
		case "pdf/rotate-pages":
			files, err = r.rotatePages(ctx, req, in)
		case "pdf/encrypt":
			files, err = r.encryptPDF(ctx, req, in)
		case "pdf/decrypt":
			files, err = r.decryptPDF(ctx, req, in)
		}
		if err != nil {
			for _, f := range res.Files {
				os.Remove(f.Path)
			}
			return Result{}, err
		}
		res.Files = append(res.Files, files...)
		progress((i + 1) * 100 / (len(req.Inputs) + 1))
	}
	return res, nil
}

// pdfErr explains a pdfcpu failure, naming passwords where they are the cause.
func pdfErr(err error, display string) error {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, pdfcpu.ErrWrongPassword):
		return newError(CodeInvalidOptions, nil, "%s is encrypted and the password does not open it: give its password (the password option of pdf/decrypt)", display)
	case errors.Is(err, pdfcpu.ErrEncrypted):
		return newError(CodeInvalidFile, nil, "%s is encrypted: decrypt it first with a pdf/decrypt task and its password", display)
	}
	return newError(CodeInvalidFile, err, "%s is not a readable PDF", display)
}

// readContext parses a PDF for the page operations; its page count is
// checked against the page cap.
func readContext(in File, conf *model.Configuration, lim Limits) (*model.Context, error) {
	var total int64
	data, err := readPDF(in, &total)
	if err != nil {
		return nil, err
	}
	display := displayName(in)
	var pc *model.Context
	err = guard(display, func() error {
		var rerr error
		pc, rerr = api.ReadValidateAndOptimize(bytes.NewReader(data), conf)
		return rerr
	})
	if err != nil {
		return nil, pdfErr(err, display)
	}
	if pc.PageCount > lim.MaxPages {
		return nil, newError(CodeInvalidFile, nil, "%s has %d pages, more than %d, the limit of pages per task", display, pc.PageCount, lim.MaxPages)
	}
	return pc, nil
}

// writeContext writes a pdfcpu context as a result file.
func writeContext(ctx context.Context, pc *model.Context, dir, name, display string) (File, error) {
	path, name := uniquePath(dir, name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return File{}, fmt.Errorf("create %s: %w", name, err)
	}
	bw := bufio.NewWriterSize(ctxWriter{ctx, f}, 1<<16)
	err = guard(display, func() error { return api.WriteContext(pc, bw) })
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
		return File{}, pdfErr(err, display)
	}
	return statFile(name, path)
}

// splitPages writes one PDF per page, name-1.pdf, name-2.pdf, ...
func (r *Registry) splitPages(ctx context.Context, req Request, in File) ([]File, error) {
	display := displayName(in)
	pc, err := readContext(in, pdfConf(), r.limitsFor(req))
	if err != nil {
		return nil, err
	}
	numbers := make([]int, pc.PageCount)
	for i := range numbers {
		numbers[i] = i + 1
	}
	names := outputNames(req, baseName(in), "pdf", numbers)
	var files []File
	for i, p := range numbers {
		if err := ctx.Err(); err != nil {
			return removeAll(files, err)
		}
		var one *model.Context
		err := guard(display, func() error {
			var eerr error
			one, eerr = pdfcpu.ExtractPages(pc, []int{p}, false)
			return eerr
		})
		if err != nil {
			return removeAll(files, pdfErr(err, display))
		}
		f, err := writeContext(ctx, one, req.OutDir, names[i], display)
		if err != nil {
			return removeAll(files, err)
		}
		files = append(files, f)
	}
	return files, nil
}

func removeAll(files []File, err error) ([]File, error) {
	for _, f := range files {
		os.Remove(f.Path)
	}
	return nil, err
}

// extractPages keeps the selected pages, in document order.
func (r *Registry) extractPages(ctx context.Context, req Request, in File) ([]File, error) {
	display := displayName(in)
	lim := r.limitsFor(req)
	pc, err := readContext(in, pdfConf(), lim)
	if err != nil {
		return nil, err
	}
	pages, err := parsePages(optString(req.Options, "pages"), pc.PageCount, lim.MaxPages)
	if err != nil {
		return nil, err
	}
	var out *model.Context
	err = guard(display, func() error {
		var eerr error
		out, eerr = pdfcpu.ExtractPages(pc, pages, false)
		return eerr
	})
	if err != nil {
		return nil, pdfErr(err, display)
	}
	f, err := writeContext(ctx, out, req.OutDir, outputNames(req, baseName(in), "pdf", nil)[0], display)
	if err != nil {
		return nil, err
	}
	return []File{f}, nil
}

// rotatePages turns the selected pages (default all) clockwise.
func (r *Registry) rotatePages(ctx context.Context, req Request, in File) ([]File, error) {
	display := displayName(in)
	lim := r.limitsFor(req)
	rotation, ok, err := optInt(req.Options, "rotation")
	if err != nil {
		return nil, err
	}
	if !ok {
		rotation = 90
	}
	if rotation%90 != 0 || rotation == 0 || rotation < -270 || rotation > 270 {
		return nil, newError(CodeInvalidOptions, nil, "option rotation must be 90, 180, 270 or their negatives, got %d", rotation)
	}
	pc, err := readContext(in, pdfConf(), lim)
	if err != nil {
		return nil, err
	}
	pages, err := parsePages(optString(req.Options, "pages"), pc.PageCount, lim.MaxPages)
	if err != nil {
		return nil, err
	}
	set := make(types.IntSet, len(pages))
	for _, p := range pages {
		set[p] = true
	}
	if err := guard(display, func() error { return pdfcpu.RotatePages(pc, set, rotation) }); err != nil {
		return nil, pdfErr(err, display)
	}
	f, err := writeContext(ctx, pc, req.OutDir, outputNames(req, baseName(in), "pdf", nil)[0], display)
	if err != nil {
		return nil, err
	}
	return []File{f}, nil
}

// permissions turns the allow_* options into the PDF permission bits
// (ISO 32000-1, table 22) the way qpdf's --print, --modify, --extract and
// --accessibility do.
func permissions(opts map[string]any) (model.PermissionFlags, error) {
	p := model.PermissionsNone // the reserved bits that must be set
	switch v := optString(opts, "allow_print"); v {
	case "", "full":
		p |= model.PermissionPrintRev2 | model.PermissionPrintRev3
	case "low":
		p |= model.PermissionPrintRev2
	case "none":
	default:
		return 0, newError(CodeInvalidOptions, nil, "option allow_print must be full, low or none, got %q", short(v))
	}
	switch v := optString(opts, "allow_modify"); v {
	case "", "all":
		p |= model.PermissionModify | model.PermissionModAnnFillForm | model.PermissionFillRev3 | model.PermissionAssembleRev3
	case "annotate":
		p |= model.PermissionModAnnFillForm | model.PermissionFillRev3 | model.PermissionAssembleRev3
	case "form":
		p |= model.PermissionFillRev3 | model.PermissionAssembleRev3
	case "assembly":
		p |= model.PermissionAssembleRev3
	case "none":
	default:
		return 0, newError(CodeInvalidOptions, nil, "option allow_modify must be all, annotate, form, assembly or none, got %q", short(v))
	}
	extract, err := optBool(opts, "allow_extract", true)
	if err != nil {
		return 0, err
	}
	if extract {
		p |= model.PermissionExtract
	}
	access, err := optBool(opts, "allow_accessibility", true)
	if err != nil {
		return 0, err
	}
	if access {
		p |= model.PermissionExtractRev3
	}
	return p, nil
}

// encryptPDF encrypts with AES-256: set_password opens the file,
// set_owner_password (default: set_password) lifts the restrictions.
func (r *Registry) encryptPDF(ctx context.Context, req Request, in File) ([]File, error) {
	user, owner := rawString(req.Options, "set_password"), rawString(req.Options, "set_owner_password")
	if user == "" && owner == "" {
		return nil, newError(CodeInvalidOptions, nil, "pdf/encrypt needs set_password (to open the PDF), set_owner_password (to lift its restrictions) or both")
	}
	if owner == "" {
		owner = user
	}
	perms, err := permissions(req.Options)
	if err != nil {
		return nil, err
	}
	conf := pdfConf()
	conf.UserPW, conf.OwnerPW = user, owner
	conf.EncryptUsingAES, conf.EncryptKeyLength = true, 256
	if !aes256Password(user) || !aes256Password(owner) {
		conf.EncryptKeyLength = 128
	}
	conf.Permissions = perms
	return r.pdfTransform(ctx, req, in, func(data []byte, w *bytes.Buffer) error {
		return api.Encrypt(bytes.NewReader(data), w, conf)
	})
}

// decryptPDF removes the encryption with PDFium, which opens a document
// with its user or its owner password under every standard security
// handler (pdfcpu refuses AES-256 passwords with spaces), and saves a copy
// without security.
func (r *Registry) decryptPDF(ctx context.Context, req Request, in File) ([]File, error) {
	pw := rawString(req.Options, "password")
	var out []byte
	err := r.withPDFiumPassword(ctx, in, pw, func(inst pdfium.Pdfium, doc references.FPDF_DOCUMENT) error {
		rev, err := inst.FPDF_GetSecurityHandlerRevision(&requests.FPDF_GetSecurityHandlerRevision{Document: doc})
		if err != nil {
			return newError(CodeInvalidFile, err, "%s: its encryption cannot be read", displayName(in))
		}
		if rev.SecurityHandlerRevision < 0 {
			return newError(CodeInvalidFile, nil, "%s is not encrypted", displayName(in))
		}
		saved, err := inst.FPDF_SaveAsCopy(&requests.FPDF_SaveAsCopy{Document: doc, Flags: requests.SaveFlagRemoveSecurity})
		if err != nil || saved.FileBytes == nil {
			return newError(CodeInvalidFile, err, "%s could not be saved without its encryption", displayName(in))
		}
		out = *saved.FileBytes
		return nil
	})
	if err != nil {
		return nil, err
	}
	f, err := writeBytes(req.OutDir, outputNames(req, baseName(in), "pdf", nil)[0], out)
	if err != nil {
		return nil, err
	}
	return []File{f}, nil
}

// aes256Password reports whether pdfcpu can take pw under AES-256: it
// prepares such passwords with the PRECIS identifier profile, which
// refuses spaces and most symbols. Others are encrypted with AES-128.
func aes256Password(pw string) bool {
	_, err := precis.NewIdentifier(precis.BidiRule, precis.Norm(norm.NFKC)).String(pw)
	return pw == "" || err == nil
}

// pdfTransform runs a whole-file pdfcpu call and writes its output.
func (r *Registry) pdfTransform(ctx context.Context, req Request, in File, fn func(data []byte, w *bytes.Buffer) error) ([]File, error) {
	display := displayName(in)
	var total int64
	data, err := readPDF(in, &total)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := guard(display, func() error { return fn(data, &out) }); err != nil {
		if msg := err.Error(); strings.Contains(msg, "not encrypted") {
			return nil, newError(CodeInvalidFile, nil, "%s is not encrypted", display)
		}
		return nil, pdfErr(err, display)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := writeBytes(req.OutDir, outputNames(req, baseName(in), "pdf", nil)[0], out.Bytes())
	if err != nil {
		return nil, err
	}
	return []File{f}, nil
}

// rawString is a string option as given (passwords keep their spaces).
func rawString(opts map[string]any, key string) string {
	if s, ok := opts[key].(string); ok {
		return s
	}
	return optString(opts, key)
}

// metadataWrite sets entries of each PDF's document information
// dictionary; an empty value removes the entry.
func (r *Registry) metadataWrite(ctx context.Context, req Request, progress func(int)) (Result, error) {
	md, _ := req.Options["metadata"].(map[string]any)
	set, drop := map[string]string{}, []string{}
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) > 100 {
		return Result{}, newError(CodeInvalidOptions, nil, "option metadata has %d entries; at most 100 can be written at once", len(keys))
	}
	for _, k := range keys {
		if k == "" || len(k) > 127 || strings.ContainsAny(k, "()/<>[]{}% \t\r\n") {
			return Result{}, newError(CodeInvalidOptions, nil, "option metadata: %q is not a usable entry name (letters and digits, e.g. Title, Author)", short(k))
		}
		var v string
		switch x := md[k].(type) {
		case string:
			v = x
		case float64:
			v = strconv.FormatFloat(x, 'f', -1, 64)
		case nil:
		default:
			if s := optString(md, k); s != "" {
				if _, err := strconv.ParseFloat(s, 64); err == nil {
					v = s
					break
				}
			}
			return Result{}, newError(CodeInvalidOptions, nil, "option metadata: the value of %s must be a string or a number", k)
		}
		if len(v) > 32<<10 {
			return Result{}, newError(CodeInvalidOptions, nil, "option metadata: the value of %s is longer than 32 KiB", k)
		}
		if v == "" {
			drop = append(drop, k)
		} else {
			set[k] = v
		}
	}
	res := pdfResult()
	for i, in := range req.Inputs {
		if err := checkPDF(in); err != nil {
			return Result{}, err
		}
		files, err := r.pdfTransform(ctx, req, in, func(data []byte, w *bytes.Buffer) error {
			if len(drop) > 0 {
				var tmp bytes.Buffer
				if err := api.RemoveProperties(bytes.NewReader(data), &tmp, drop, pdfConf()); err != nil {
					return err
				}
				data = tmp.Bytes()
			}
			if len(set) == 0 {
				_, err := w.Write(data)
				return err
			}
			return api.AddProperties(bytes.NewReader(data), w, set, pdfConf())
		})
		if err != nil {
			return Result{}, err
		}
		res.Files = append(res.Files, files...)
		progress((i + 1) * 100 / (len(req.Inputs) + 1))
	}
	return res, nil
}
