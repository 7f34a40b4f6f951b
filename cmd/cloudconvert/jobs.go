package main

import (
	"fmt"
	"io"
	"iter"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/oapi-codegen/nullable"
	"github.com/spf13/cobra"

	"github.com/cctoolkit/cloudconvert/generated/cloudconvert/client"
	"github.com/cctoolkit/cloudconvert/internal/suggest"
	"github.com/cctoolkit/cloudconvert/sdk"
)

var listStatuses = []string{"waiting", "processing", "finished", "error"}

// listFlags are what jobs and tasks share.
type listFlags struct {
	status, account string
	limit           int
	asJSON          bool
	timeout         time.Duration
}

func (l *listFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&l.status, "status", "", "only this status: "+strings.Join(listStatuses, ", "))
	f.IntVarP(&l.limit, "limit", "n", 25, "show at most this many, newest first (0: all)")
	f.BoolVar(&l.asJSON, "json", false, "print a JSON array")
	f.StringVar(&l.account, "account", "", "the account to use (default: the default account, else the local server)")
	f.DurationVar(&l.timeout, "timeout", 60*time.Second, "give up after this long")
}

func (l *listFlags) check(what string) error {
	if l.status != "" && !slices.Contains(listStatuses, l.status) {
		return usageErr("%s: unknown --status %q%s (one of %s)", what, l.status, suggest.DidYouMean(l.status, listStatuses), strings.Join(listStatuses, ", "))
	}
	if l.limit < 0 {
		return usageErr("%s: --limit must be 0 (all) or more, got %d", what, l.limit)
	}
	return nil
}

// perPage asks for no more than needed (the API's pages hold at most 100).
func (l *listFlags) perPage() *int {
	n := 100
	if l.limit > 0 {
		n = min(l.limit, 100)
	}
	return &n
}

func newJobsCmd(c *cli) *cobra.Command {
	var lf listFlags
	var tag string
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "List jobs, newest first",
		Example: `  cloudconvert jobs
  cloudconvert jobs --status error --limit 10
  cloudconvert jobs --tag invoices --json`,
		Args: noArgs("jobs"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := lf.check("jobs"); err != nil {
				return err
			}
			ctx, stop := commandContext(cmd.Context(), lf.timeout)
			defer stop()
			cl, err := c.sdkClient(ctx, lf.account, lf.timeout)
			if err != nil {
				return err
			}
			params := &sdk.ListJobsParams{PerPage: lf.perPage()}
			if lf.status != "" {
				s := client.ListJobsParamsFilterStatus(lf.status)
				params.FilterStatus = &s
			}
			if tag != "" {
				params.FilterTag = &tag
			}
			jobs, err := collect(cl.Jobs(ctx, params), lf.limit)
			if err != nil {
				return &exitError{code: exitFailure, msg: "jobs: " + describeErr(ctx, err, lf.timeout)}
			}
			if lf.asJSON {
				writeJSON(c.stdout, jobs)
				return nil
			}
			if len(jobs) == 0 {
				fmt.Fprintln(c.stderr, "no jobs")
				return nil
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATUS\tTAG\tCREATED\tENDED")
			for _, j := range jobs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", j.Id, j.Status, orDash(nullStr(j.Tag)),
					shownTime(ptrStr(j.CreatedAt)), shownTime(nullStr(j.EndedAt)))
			}
			return tw.Flush()
		},
	}
	lf.register(cmd)
	cmd.Flags().StringVar(&tag, "tag", "", "only jobs with this tag")
	return cmd
}

func newTasksCmd(c *cli) *cobra.Command {
	var lf listFlags
	var jobID, operation string
	cmd := &cobra.Command{
		Use:   "tasks",
		Short: "List tasks, newest first",
		Example: `  cloudconvert tasks --job-id 6559c281-ff36-4e1a-a6a4-7d4ad7aa8b47
  cloudconvert tasks --operation convert --status error
  cloudconvert tasks --limit 0 --json`,
		Args: noArgs("tasks"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := lf.check("tasks"); err != nil {
				return err
			}
			if operation != "" && !slices.Contains(sdk.Operations(), operation) {
				return usageErr("tasks: unknown --operation %q%s", operation, suggest.DidYouMean(operation, sdk.Operations()))
			}
			ctx, stop := commandContext(cmd.Context(), lf.timeout)
			defer stop()
			cl, err := c.sdkClient(ctx, lf.account, lf.timeout)
			if err != nil {
				return err
			}
			params := &sdk.ListTasksParams{PerPage: lf.perPage()}
			if lf.status != "" {
				s := client.ListTasksParamsFilterStatus(lf.status)
				params.FilterStatus = &s
			}
			if operation != "" {
				op := client.ListTasksParamsFilterOperation(operation)
				params.FilterOperation = &op
			}
			if jobID != "" {
				params.FilterJobId = &jobID
			}
			tasks, err := collect(cl.Tasks(ctx, params), lf.limit)
			if err != nil {
				return &exitError{code: exitFailure, msg: "tasks: " + describeErr(ctx, err, lf.timeout)}
			}
			if lf.asJSON {
				writeJSON(c.stdout, tasks)
				return nil
			}
			if len(tasks) == 0 {
				fmt.Fprintln(c.stderr, "no tasks")
				return nil
			}
			writeTaskTable(c.stdout, tasks)
			return nil
		},
	}
	lf.register(cmd)
	f := cmd.Flags()
	f.StringVar(&jobID, "job-id", "", "only the tasks of this job")
	f.StringVar(&operation, "operation", "", "only this operation (convert, import/upload, export/url, ...)")
	return cmd
}

func writeTaskTable(w io.Writer, tasks []sdk.Task) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tJOB\tNAME\tOPERATION\tSTATUS\t%\tCREATED\tMESSAGE")
	for _, t := range tasks {
		pct := "-"
		if t.Percent != nil {
			pct = strconv.Itoa(*t.Percent)
		}
		if t.Status == "finished" {
			pct = "100"
		}
		msg := nullStr(t.Message)
		if code := nullStr(t.Code); code != "" && t.Status == "error" {
			msg = strings.TrimSuffix(code+": "+msg, ": ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Id, orDash(nullStr(t.JobId)), orDash(ptrStr(t.Name)), t.Operation, t.Status, pct,
			shownTime(ptrStr(t.CreatedAt)), ellipsize(singleLine(msg), 60))
	}
	tw.Flush()
}

func noArgs(cmd string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageErr("%s takes no arguments (got %q); filter with flags, see cloudconvert %s --help", cmd, args[0], cmd)
		}
		return nil
	}
}

func nullStr(n nullable.Nullable[string]) string {
	if n.IsSpecified() && !n.IsNull() {
		return n.MustGet()
	}
	return ""
}

func ptrStr(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// shownTime shows an API timestamp in local time, to the second.
func shownTime(s string) string {
	if s == "" {
		return "-"
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return s
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

func singleLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// collect takes up to limit items (all when limit is 0) from a paginated
// listing; never nil, so --json prints [] for an empty list.
func collect[T any](seq iter.Seq2[T, error], limit int) ([]T, error) {
	out := []T{}
	for item, err := range seq {
		if err != nil {
			return nil, err
		}
		out = append(out, item)
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	return out, nil
}
