package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cctoolkit/cloudconvert/accounts"
	"github.com/cctoolkit/cloudconvert/integration/invoke"
	"github.com/cctoolkit/cloudconvert/localserver"
	"github.com/cctoolkit/cloudconvert/localserver/engine"
	"github.com/cctoolkit/cloudconvert/luaruntime"
	"github.com/cctoolkit/cloudconvert/sdk"
)

// demoExample is the docs' first create_job example ("Convert a PDF to
// PNG", from the spec through the generated reference), run verbatim
// except for its import: example.com is not reachable here, and the local
// server fetches public addresses only, so the sample PDF goes in as an
// import/base64 task (same task name, same chain) instead of import/url.
const demoExample = "Convert a PDF to PNG"

// demoImport is the example's import task, replaced by import/base64.
var demoImport = regexp.MustCompile(`operation = "import/url",(\s*)url = "https://example\.com/document\.pdf"`)

// docExample returns the Lua code of the reference's example titled title.
func docExample(title string) (string, error) {
	page := descriptor().Doc("integrations." + descriptor().Slug)
	if page == nil {
		return "", fmt.Errorf("the docs have no reference page")
	}
	text := page.Text
	i := strings.Index(text, "#### "+title+"\n")
	if i < 0 {
		return "", fmt.Errorf("the reference has no example %q", title)
	}
	rest := text[i:]
	j := strings.Index(rest, "```lua\n")
	if j < 0 {
		return "", fmt.Errorf("example %q has no Lua code", title)
	}
	code := rest[j+len("```lua\n"):]
	k := strings.Index(code, "```")
	if k < 0 {
		return "", fmt.Errorf("example %q is not terminated", title)
	}
	return code[:k], nil
}

func newDemoCmd(c *cli) *cobra.Command {
	var outDir string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Convert a sample PDF to a PNG through a local CloudConvert server (no network, no API key)",
		Long: `demo starts a local CloudConvert server in this process (on a temporary data
directory), runs the docs' first create_job example (import -> convert ->
export/url) through the Lua runtime with a sample PDF as its input (sent as
import/base64: the server fetches public URLs only, so neither example.com nor
a loopback file server would do), waits for the job on the sync endpoint,
downloads the PNG (into a new temporary directory unless --out says where) and
prints where it is.

The first run compiles PDFium (WebAssembly) to native code, which takes some
seconds once; the result is cached with the local server's data.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Minute)
			defer cancel()
			fail := func(format string, a ...any) error {
				return &exitError{code: exitFailure, msg: fmt.Sprintf(format, a...)}
			}
			if outDir == "" {
				dir, err := os.MkdirTemp("", "cloudconvert-demo-")
				if err != nil {
					return fail("creating the output directory: %v", err)
				}
				outDir = dir
			}
			dataDir, err := os.MkdirTemp("", "cloudconvert-demo-data-")
			if err != nil {
				return fail("creating the server's data directory: %v", err)
			}
			defer os.RemoveAll(dataDir)
			// The PDFium compile cache is the background server's: one
			// compile for both.
			pdfiumCache := filepath.Join(c.localDataDir(), "wazero-cache")
			srv, err := localserver.Start(ctx, localserver.Config{DataDir: dataDir, Addr: "127.0.0.1:0",
				Logger:        slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
				EngineOptions: engine.Options{PDFiumCacheDir: pdfiumCache}})
			if err != nil {
				return fail("starting the local server: %v", err)
			}
			defer srv.Close()
			fmt.Fprintf(c.stderr, "cloudconvert: started a local CloudConvert server for the demo at %s\n", srv.APIURL())
			if pdfiumCold(pdfiumCache) && isTerminal(c.stderr, c.getenv) {
				fmt.Fprintln(c.stderr, "cloudconvert: compiling PDFium to native code for the first PDF conversion (once; some seconds)")
			}

			// The input: a sample PDF, inline.
			pdf := localserver.SamplePDF(1, "Hello from the local CloudConvert server")

			acct := &accounts.Account{Name: accounts.DefaultName, APIKey: accounts.NewSecret(localserver.DefaultAPIKey),
				BaseURL: srv.APIURL(), SyncURL: srv.SyncURL(), SocketIOURL: srv.SocketIOURL(), Source: "the demo's local server"}
			inv, err := invoke.New(invoke.Options{Integration: descriptor(), Accounts: accounts.NewSet(acct), Policy: invoke.Headless(true), UserAgent: "cloudconvert-cli-demo"})
			if err != nil {
				return fail("%v", err)
			}
			rt, err := luaruntime.New(luaruntime.Options{Invoker: inv})
			if err != nil {
				return fail("%v", err)
			}
			example, err := docExample(demoExample)
			if err != nil {
				return fail("%v", err)
			}
			if !demoImport.MatchString(example) || !strings.Contains(example, "local jobId") {
				return fail("the example %q changed: it no longer imports https://example.com/document.pdf into jobId", demoExample)
			}
			script := demoImport.ReplaceAllString(example, `operation = "import/base64",${1}file = "`+base64.StdEncoding.EncodeToString(pdf)+`"`) + "\nreturn jobId\n"
			fmt.Fprintf(c.stderr, "cloudconvert: running the reference example %q with a sample PDF (%d bytes) as import/base64\n", demoExample, len(pdf))
			res := rt.Execute(ctx, script)
			fmt.Fprint(c.stdout, res.Output)
			if res.Error != nil {
				return fail("the example script failed: %v", res.Error)
			}
			jobID, _ := firstValue(res.Values).(string)
			if jobID == "" {
				return fail("the example script returned no job id")
			}
			client, err := sdk.New(acct.APIKey.Reveal(), sdk.WithBaseURL(acct.BaseURL), sdk.WithSyncURL(acct.SyncURL), sdk.WithSocketURL(acct.SocketIOURL))
			if err != nil {
				return fail("%v", err)
			}
			job, err := client.WaitJob(ctx, jobID, nil)
			if err != nil {
				return fail("waiting for job %s: %v", jobID, err)
			}
			fmt.Fprintf(c.stdout, "Job %s: %s\n", jobID, job.Status)
			if job.Status != "finished" {
				if job.Tasks != nil {
					for _, t := range *job.Tasks {
						if t.Status == "error" {
							msg, _ := t.Message.Get()
							return fail("task %s (%s) failed: %s", deref(t.Name), t.Operation, msg)
						}
					}
				}
				return fail("job %s ended with status %s", jobID, job.Status)
			}
			if err := os.MkdirAll(outDir, 0o755); err != nil {
				return fail("%v", err)
			}
			paths, err := client.DownloadJob(ctx, job, outDir, &sdk.DownloadOptions{Overwrite: true})
			if err != nil {
				return fail("download: %v", err)
			}
			for _, p := range paths {
				abs, _ := filepath.Abs(p)
				fmt.Fprintf(c.stdout, "PNG written to %s\n", abs)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&outDir, "out", "", "directory for the PNG (default: a new temporary directory, printed)")
	return cmd
}

// pdfiumCold says whether PDFium's compile cache is empty: the first PDF
// conversion will compile it.
func pdfiumCold(dir string) bool {
	entries, err := os.ReadDir(dir)
	return err != nil || len(entries) == 0
}

func firstValue(v []any) any {
	if len(v) == 0 {
		return nil
	}
	return v[0]
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
