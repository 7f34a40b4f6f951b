package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cctoolkit/cloudconvert/sdk"
)

func newWaitCmd(c *cli) *cobra.Command {
	var (
		outDir, account   string
		asJSON            bool
		overwrite, noSync bool
		parallel          int
		timeout           time.Duration
	)
	cmd := &cobra.Command{
		Use:   "wait JOB_ID",
		Short: "Wait for a job to end, showing its progress; exit status 0 if it finished, 1 if it failed",
		Long: `Wait until a job has finished or failed, through the sync endpoint where
there is one, else by polling. Progress goes to stderr; the job's export
files (name and URL) are printed when it finished, or downloaded with -o
(a few at a time). With -o, a file already there under its name and with
its size is kept rather than downloaded again, so wait -o finishes what an
interrupted convert left; other files never replace one (a taken name gets
-1, -2, ...) unless --overwrite.

Exit status: 0 when the job finished, 1 when it failed (the failed tasks
are named on stderr) or waiting failed, 2 for bad arguments.`,
		Example: `  cloudconvert wait 6559c281-ff36-4e1a-a6a4-7d4ad7aa8b47
  cloudconvert wait 6559c281-ff36-4e1a-a6a4-7d4ad7aa8b47 -o results --timeout 10m`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) == 0:
				return usageErr("wait: no job ID (usage: cloudconvert wait JOB_ID)")
			case len(args) > 1:
				return usageErr("wait: one job ID, got %d arguments", len(args))
			case strings.TrimSpace(args[0]) == "":
				return usageErr("wait: empty job ID")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if parallel < 1 || parallel > 64 {
				return usageErr("wait: --parallel must be between 1 and 64, got %d", parallel)
			}
			ctx, stop := commandContext(cmd.Context(), timeout)
			defer stop()
			cl, err := c.sdkClient(ctx, account, timeout)
			if err != nil {
				return err
			}
			pr := newProgress(c, c.isQuiet())
			job, err := cl.WaitJob(ctx, args[0], &sdk.WaitOptions{Progress: pr.waitProgress, NoSync: noSync, Function: "wait"})
			pr.close()
			if job != nil && asJSON {
				writeJSON(c.stdout, job)
			}
			if err != nil {
				return &exitError{code: exitFailure, msg: describeErr(ctx, err, timeout)}
			}
			files := sdk.ExportFiles(job)
			if outDir != "" {
				if len(files) == 0 {
					return &exitError{code: exitFailure, msg: fmt.Sprintf("wait: job %s finished but has no export/url files to download", job.Id)}
				}
				paths, err := cl.DownloadJob(ctx, job, outDir, &sdk.DownloadOptions{
					Overwrite: overwrite, SkipExisting: true, Parallel: parallel,
					Progress: func(name string, done, total int64) {
						pr.convertEvent(sdk.ConvertEvent{Phase: sdk.PhaseDownload, JobID: job.Id, File: name, Done: done, Total: total})
					},
				})
				pr.close()
				if !asJSON {
					for _, p := range paths {
						fmt.Fprintln(c.stdout, p)
					}
				}
				if err != nil {
					return &exitError{code: exitFailure, msg: describeErr(ctx, err, timeout)}
				}
				return nil
			}
			if asJSON {
				return nil
			}
			fmt.Fprintf(c.stdout, "job %s %s\n", job.Id, job.Status)
			if len(files) > 0 {
				tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
				for _, f := range files {
					fmt.Fprintf(tw, "  %s\t%s\n", f.Filename, *f.Url)
				}
				tw.Flush()
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&outDir, "output-dir", "o", "", "download the job's export files into this directory")
	f.BoolVar(&overwrite, "overwrite", false, "with -o, replace existing files")
	f.IntVarP(&parallel, "parallel", "j", sdk.DefaultParallel, "with -o, downloads at once")
	f.BoolVar(&asJSON, "json", false, "print the final job (with its tasks) as JSON")
	f.BoolVar(&noSync, "poll", false, "poll instead of using the sync endpoint")
	f.StringVar(&account, "account", "", "the account to use (default: the default account, else the local server)")
	f.DurationVar(&timeout, "timeout", 0, "give up after this long (default: no limit)")
	return cmd
}
