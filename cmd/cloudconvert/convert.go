package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cctoolkit/cloudconvert/accounts"
	"github.com/cctoolkit/cloudconvert/apierror"
	"github.com/cctoolkit/cloudconvert/internal/suggest"
	"github.com/cctoolkit/cloudconvert/sdk"
)

func newConvertCmd(c *cli) *cobra.Command {
	var (
		to, outDir, tag, account string
		options                  []string
		overwrite, asJSON, merge bool
		parallel                 int
		timeout                  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "convert FILE|DIR... --to FORMAT",
		Short: "Convert local files: upload, convert, download the results",
		Long: `Convert local files in one CloudConvert job: upload each file, convert it
to FORMAT, export the results and download them into the output directory
(the current one unless -o says otherwise). A directory stands for the
files under it (hidden ones and anything but regular files are skipped, and
said so). With --merge the files become one PDF instead.

Uploads and downloads run a few at a time (--parallel). A result never
replaces a file: a taken name gets -1, -2, ... before its extension
(--overwrite replaces instead), and each file is written under a hidden
temporary name first, so nothing half-written ever has a final name.

The paths written are printed, one a line; progress goes to stderr (bars for
the whole batch on a terminal, plain lines otherwise).

Ctrl-C during the uploads deletes the job (it could never run); after them
the job goes on without this process, and the command prints how to finish:
cloudconvert wait JOB_ID -o DIR (files already downloaded are kept).

With no API key configured, the local CloudConvert server does the work
(started in the background if it is not running).`,
		Example: `  cloudconvert convert report.docx --to pdf
  cloudconvert convert sample.pdf --to png -o pages
  cloudconvert convert a.png b.jpg --to pdf
  cloudconvert convert scans/ --to pdf --parallel 8
  cloudconvert convert a.png b.jpg c.pdf --merge -o out
  cloudconvert convert photo.heic --to jpg --option quality=80`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if parallel < 1 || parallel > 64 {
				return usageErr("convert: --parallel must be between 1 and 64, got %d", parallel)
			}
			req, skipped, err := convertRequest(args, to, outDir, options, merge)
			if err != nil {
				return err
			}
			if len(skipped) > 0 && !c.isQuiet() {
				fmt.Fprintln(c.stderr, "cloudconvert: "+skippedLine(skipped))
			}
			req.Tag, req.Overwrite, req.Parallel = tag, overwrite, parallel
			req.Wait.Function = "convert"
			ctx, stop := commandContext(cmd.Context(), timeout)
			defer stop()
			cl, err := c.sdkClient(ctx, account, timeout)
			if err != nil {
				return err
			}
			c.pdfiumNotice(req)
			pr := newProgress(c, c.isQuiet())
			req.Progress = pr.convertEvent
			res, err := sdk.ConvertFiles(ctx, cl, req)
			pr.close()
			if asJSON && res != nil && res.Job != nil {
				writeJSON(c.stdout, convertJSON(res, err))
			}
			if !asJSON && res != nil {
				for _, f := range res.Files {
					fmt.Fprintln(c.stdout, f)
				}
			}
			if err != nil {
				msg := describeErr(ctx, err, timeout)
				if res != nil && res.Deleted && !strings.Contains(msg, "was deleted") {
					msg += fmt.Sprintf(" (job %s was deleted: nothing was converted)", res.Job.Id)
				}
				if res != nil && res.Job != nil && res.Resumable && res.Job.Status != "error" {
					// The job goes on (or is done) without us.
					msg += fmt.Sprintf("; job %s goes on: cloudconvert wait %s -o %s finishes it (files already downloaded are kept)", res.Job.Id, res.Job.Id, orDefault(outDir, "."))
				}
				return &exitError{code: exitFailure, msg: msg}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&to, "to", "t", "", "output format (pdf, png, jpg, docx, ...); with --merge, pdf")
	f.StringVarP(&outDir, "output-dir", "o", "", "where to write the results (default: the current directory; created if needed)")
	f.StringArrayVar(&options, "option", nil, "a convert task option as key=value (value read as JSON when it parses); repeatable, e.g. --option pages=1-3 --option quality=80")
	f.StringVar(&tag, "tag", "", `the job's tag (default "cctoolkit-convert")`)
	f.BoolVar(&overwrite, "overwrite", false, `replace existing files (default: write "name-1.ext")`)
	f.BoolVar(&merge, "merge", false, "combine the inputs into one PDF (a merge task) instead of converting each")
	f.IntVarP(&parallel, "parallel", "j", sdk.DefaultParallel, "uploads and downloads at once")
	f.BoolVar(&asJSON, "json", false, "print the job ID, status and files written as JSON")
	f.StringVar(&account, "account", "", "the account to use (default: the default account, else the local server)")
	f.DurationVar(&timeout, "timeout", 0, "give up after this long (default: no limit)")
	return cmd
}

// maxInputs bounds the files of one convert (a directory walk stops there).
const maxInputs = 1000

// convertRequest checks the arguments before anything is sent: at least
// one file, each a regular file (a directory stands for the regular files
// under it, hidden ones left out: skipped lists what was left out), a
// known output format, well-formed options, an output directory that is
// one.
func convertRequest(args []string, to, outDir string, options []string, merge bool) (sdk.ConvertRequest, []string, error) {
	var req sdk.ConvertRequest
	if len(args) == 0 {
		return req, nil, usageErr("convert: no input files (usage: cloudconvert convert FILE... --to FORMAT)")
	}
	var missing, files, skipped []string
	for _, f := range args {
		st, err := os.Stat(f)
		switch {
		case errors.Is(err, os.ErrNotExist):
			missing = append(missing, f)
		case err != nil:
			return req, nil, usageErr("convert: %v", err)
		case st.IsDir():
			found, skip, err := walkInputs(f, maxInputs-len(files))
			if err != nil {
				return req, nil, err
			}
			if len(found) == 0 {
				return req, nil, usageErr("convert: %s holds no file to convert%s", f, skippedSuffix(skip))
			}
			files, skipped = append(files, found...), append(skipped, skip...)
		case !st.Mode().IsRegular():
			return req, nil, usageErr("convert: %s is not a regular file", f)
		default:
			files = append(files, f)
		}
		if len(files) > maxInputs {
			return req, nil, usageErr("convert: more than %d files; convert them in parts", maxInputs)
		}
	}
	if len(missing) > 0 {
		return req, nil, usageErr("convert: no such file: %s", strings.Join(missing, ", "))
	}
	to = sdk.NormalizeFormat(to)
	switch {
	case merge && to == "":
		to = "pdf"
	case merge && to != "pdf":
		return req, nil, usageErr("convert: --merge makes one PDF; leave out --to or give --to pdf (got %s)", to)
	case to == "":
		return req, nil, usageErr("convert: no output format: give --to FORMAT (e.g. --to pdf)")
	case !sdk.KnownFormat(to):
		return req, nil, usageErr("convert: unknown output format %q%s", to, formatHint(to))
	}
	opts := map[string]any{}
	for _, o := range options {
		k, v, ok := strings.Cut(o, "=")
		k = strings.TrimSpace(k)
		switch {
		case !ok || k == "":
			return req, nil, usageErr("convert: --option %q: want key=value", o)
		case k == "output_format":
			return req, nil, usageErr("convert: --option output_format: use --to")
		case k == "input":
			return req, nil, usageErr("convert: --option %s: the input is the files given", k)
		}
		opts[k] = paramValue(v)
	}
	if outDir != "" {
		if st, err := os.Stat(outDir); err == nil && !st.IsDir() {
			return req, nil, usageErr("convert: -o %s is not a directory", outDir)
		}
	}
	req.Files, req.To, req.OutDir, req.Merge = files, to, outDir, merge
	if len(opts) > 0 {
		req.Options = opts
	}
	return req, skipped, nil
}

// walkInputs lists the regular files under dir, in lexical order, at most
// limit of them (one more says there are too many). Hidden files and
// folders (a leading dot) and anything that is not a regular file
// (symbolic links, devices, sockets) are left out and listed in skipped.
func walkInputs(dir string, limit int) (files, skipped []string, err error) {
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, werr error) error {
		if werr != nil {
			if p == dir {
				return werr
			}
			skipped = append(skipped, p+" (unreadable)")
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if p == dir {
			return nil
		}
		hidden := strings.HasPrefix(d.Name(), ".")
		switch {
		case d.IsDir() && hidden:
			skipped = append(skipped, p+string(filepath.Separator)+" (hidden)")
			return fs.SkipDir
		case d.IsDir():
			return nil
		case hidden:
			skipped = append(skipped, p+" (hidden)")
		case !d.Type().IsRegular():
			skipped = append(skipped, p+" (not a regular file)")
		default:
			files = append(files, p)
			if len(files) > limit {
				return fs.SkipAll
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, usageErr("convert: reading %s: %v", dir, err)
	}
	return files, skipped, nil
}

// skippedLine says what a directory walk left out: the count and the
// first few.
func skippedLine(skipped []string) string {
	const show = 5
	list := skipped
	more := ""
	if len(list) > show {
		list, more = list[:show], fmt.Sprintf(", and %d more", len(skipped)-show)
	}
	noun := "entries"
	if len(skipped) == 1 {
		noun = "entry"
	}
	return fmt.Sprintf("convert: skipped %d %s: %s%s", len(skipped), noun, strings.Join(list, ", "), more)
}

func skippedSuffix(skipped []string) string {
	if len(skipped) == 0 {
		return ""
	}
	return " (" + strings.TrimPrefix(skippedLine(skipped), "convert: ") + ")"
}

// formatHint suggests a known format for a misspelt one: the nearest by
// edit distance, else one with the same letters ("pgn" -> "png").
func formatHint(to string) string {
	if h := suggest.DidYouMean(to, sdk.Formats()); h != "" {
		return h
	}
	sorted := func(s string) string {
		b := []byte(s)
		slices.Sort(b)
		return string(b)
	}
	for _, f := range sdk.Formats() {
		if len(f) == len(to) && sorted(f) == sorted(to) {
			return fmt.Sprintf(" (did you mean %q?)", f)
		}
	}
	return ""
}

type convertOutput struct {
	JobID  string   `json:"job_id"`
	Status string   `json:"status"`
	Files  []string `json:"files"`
	Error  string   `json:"error,omitempty"`
}

func convertJSON(res *sdk.ConvertResult, err error) convertOutput {
	out := convertOutput{JobID: res.Job.Id, Status: string(res.Job.Status), Files: res.Files}
	if out.Files == nil {
		out.Files = []string{}
	}
	if err != nil {
		out.Error = err.Error()
	}
	return out
}

// commandContext is the command's context, cancelled by Ctrl-C and, when
// timeout > 0, by the timeout.
func commandContext(parent context.Context, timeout time.Duration) (context.Context, func()) {
	ctx, stop := signal.NotifyContext(parent, os.Interrupt)
	if timeout <= 0 {
		return ctx, stop
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	return ctx, func() { cancel(); stop() }
}

// describeErr turns a failure into its one line: the job's failed tasks,
// the API's error, or why the context ended.
func describeErr(ctx context.Context, err error, timeout time.Duration) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
		return fmt.Sprintf("gave up after %s (--timeout)", timeout)
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return "interrupted"
	case errors.Is(err, apierror.ErrUnauthorized):
		return err.Error() + " (the server refused the API key, or wants one: check CLOUDCONVERT_API_KEY or the account's key)"
	}
	return err.Error()
}

// sdkClient returns a client for the account ("" = the default; with no
// default account configured, the background local server, found or
// started now). timeout is the command's --timeout, for messages.
func (c *cli) sdkClient(ctx context.Context, account string, timeout time.Duration) (*sdk.Client, error) {
	set, err := c.loadAccounts(ctx, timeout)
	if err != nil {
		return nil, err
	}
	acct, err := set.Get(account)
	if err != nil {
		var ue *accounts.UnknownError
		if errors.As(err, &ue) {
			return nil, usageErr("%v", err)
		}
		return nil, &exitError{code: exitFailure, msg: err.Error()}
	}
	opts := []sdk.Option{sdk.WithUserAgent("cloudconvert-cli/" + sdk.Version)}
	switch {
	case acct.BaseURL != "":
		opts = append(opts, sdk.WithBaseURL(acct.BaseURL),
			// The sync host: the account's, else the same host's /sync/v2
			// (waiting falls back to polling where there is none).
			sdk.WithSyncURL(acct.ServerURL("sync", false, "", "", "")),
			// The realtime host likewise: the account's, else none (waiting
			// then reports progress by polling).
			sdk.WithSocketURL(acct.ServerURL("socketio", false, "", "", "")))
	case acct.Region != "":
		opts = append(opts, sdk.WithRegion(acct.Region))
	case acct.Sandbox:
		opts = append(opts, sdk.WithSandbox())
	}
	if acct.BaseURL == "" && acct.SyncURL != "" {
		opts = append(opts, sdk.WithSyncURL(acct.SyncURL))
	}
	if acct.BaseURL == "" && acct.SocketIOURL != "" {
		opts = append(opts, sdk.WithSocketURL(acct.SocketIOURL))
	}
	if acct.APIKey.IsZero() {
		opts = append(opts, sdk.WithoutAPIKey())
	}
	// Tasks are checked against the server's catalogue before any upload.
	opts = append(opts, sdk.WithCatalogue(c.newCatalogues().forClient()))
	cl, err := sdk.New(acct.APIKey.Reveal(), opts...)
	if err != nil {
		return nil, usageErr("account %s (%s): %v", acct.Name, acct.Source, err)
	}
	return cl, nil
}

// pdfiumNotice says, on a terminal, that the local server's first PDF
// rendering compiles PDFium, so that the wait is explained.
func (c *cli) pdfiumNotice(req sdk.ConvertRequest) {
	if c.local != nil && !c.isQuiet() && isTerminal(c.stderr, c.getenv) && rendersPDF(req) &&
		pdfiumCold(filepath.Join(c.local.DataDir, "wazero-cache")) {
		fmt.Fprintln(c.stderr, "cloudconvert: the local server compiles PDFium to native code for its first PDF conversion (once; some seconds)")
	}
}

// rendersPDF says whether the conversion renders a PDF (PDFium's work).
func rendersPDF(req sdk.ConvertRequest) bool {
	if req.To == "pdf" {
		return false
	}
	for _, f := range req.Files {
		if strings.EqualFold(filepath.Ext(f), ".pdf") {
			return true
		}
	}
	return false
}

func orDefault(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
