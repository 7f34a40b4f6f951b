package main

import (
	"context"
	"errors"
	"fmt"
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
		overwrite, asJSON        bool
		timeout                  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "convert FILE... --to FORMAT",
		Short: "Convert local files: upload, convert, download the results",
		Long: `Convert local files in one CloudConvert job: upload each file, convert it
to FORMAT, export the results and download them into the output directory
(the current one unless -o says otherwise). The paths written are printed,
one a line; progress goes to stderr (a bar on a terminal, plain lines
otherwise).

With no API key configured, the local CloudConvert server does the work
(started in the background if it is not running).`,
		Example: `  cloudconvert convert report.docx --to pdf
  cloudconvert convert sample.pdf --to png -o pages
  cloudconvert convert a.png b.jpg --to pdf
  cloudconvert convert photo.heic --to jpg --option quality=80`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := convertRequest(args, to, outDir, options)
			if err != nil {
				return err
			}
			req.Tag, req.Overwrite = tag, overwrite
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
			if err != nil {
				msg := describeErr(ctx, err, timeout)
				if ctx.Err() != nil && res != nil && res.Job != nil && res.Job.Status != "finished" && res.Job.Status != "error" {
					// The job goes on without us.
					msg += fmt.Sprintf("; job %s goes on: cloudconvert wait %s -o %s", res.Job.Id, res.Job.Id, orDefault(outDir, "."))
				}
				return &exitError{code: exitFailure, msg: msg}
			}
			if !asJSON {
				for _, f := range res.Files {
					fmt.Fprintln(c.stdout, f)
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&to, "to", "t", "", "output format (pdf, png, jpg, docx, ...)")
	f.StringVarP(&outDir, "output-dir", "o", "", "where to write the results (default: the current directory; created if needed)")
	f.StringArrayVar(&options, "option", nil, "a convert task option as key=value (value read as JSON when it parses); repeatable, e.g. --option pages=1-3 --option quality=80")
	f.StringVar(&tag, "tag", "", `the job's tag (default "cctoolkit-convert")`)
	f.BoolVar(&overwrite, "overwrite", false, `replace existing files (default: write "name (1).ext")`)
	f.BoolVar(&asJSON, "json", false, "print the job ID, status and files written as JSON")
	f.StringVar(&account, "account", "", "the account to use (default: the default account, else the local server)")
	f.DurationVar(&timeout, "timeout", 0, "give up after this long (default: no limit)")
	return cmd
}

// convertRequest checks the arguments before anything is sent: at least
// one file, each a regular file, a known output format, well-formed
// options, an output directory that is one.
func convertRequest(files []string, to, outDir string, options []string) (sdk.ConvertRequest, error) {
	var req sdk.ConvertRequest
	if len(files) == 0 {
		return req, usageErr("convert: no input files (usage: cloudconvert convert FILE... --to FORMAT)")
	}
	var missing []string
	for _, f := range files {
		st, err := os.Stat(f)
		switch {
		case errors.Is(err, os.ErrNotExist):
			missing = append(missing, f)
		case err != nil:
			return req, usageErr("convert: %v", err)
		case st.IsDir():
			return req, usageErr("convert: %s is a directory, not a file", f)
		case !st.Mode().IsRegular():
			return req, usageErr("convert: %s is not a regular file", f)
		}
	}
	if len(missing) > 0 {
		return req, usageErr("convert: no such file: %s", strings.Join(missing, ", "))
	}
	to = sdk.NormalizeFormat(to)
	if to == "" {
		return req, usageErr("convert: no output format: give --to FORMAT (e.g. --to pdf)")
	}
	if !sdk.KnownFormat(to) {
		return req, usageErr("convert: unknown output format %q%s", to, formatHint(to))
	}
	opts := map[string]any{}
	for _, o := range options {
		k, v, ok := strings.Cut(o, "=")
		k = strings.TrimSpace(k)
		switch {
		case !ok || k == "":
			return req, usageErr("convert: --option %q: want key=value", o)
		case k == "output_format":
			return req, usageErr("convert: --option output_format: use --to")
		case k == "input":
			return req, usageErr("convert: --option %s: the input is the files given", k)
		}
		opts[k] = paramValue(v)
	}
	if outDir != "" {
		if st, err := os.Stat(outDir); err == nil && !st.IsDir() {
			return req, usageErr("convert: -o %s is not a directory", outDir)
		}
	}
	req.Files, req.To, req.OutDir = files, to, outDir
	if len(opts) > 0 {
		req.Options = opts
	}
	return req, nil
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
			sdk.WithSyncURL(acct.ServerURL("sync", false, "", "", "")))
	case acct.Region != "":
		opts = append(opts, sdk.WithRegion(acct.Region))
	case acct.Sandbox:
		opts = append(opts, sdk.WithSandbox())
	}
	if acct.BaseURL == "" && acct.SyncURL != "" {
		opts = append(opts, sdk.WithSyncURL(acct.SyncURL))
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
