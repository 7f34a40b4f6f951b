package main

import (
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/cctoolkit/cloudconvert/luaruntime"
)

func newLuaCmd(c *cli) *cobra.Command {
	var code, account, workspace string
	var asJSON bool
	var perms permFlags
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "lua [FILE]",
		Short: "Run a Lua script with app.integrations.cloudconvert (FILE, -e CODE, or stdin)",
		Long: `Run a Lua script with app.integrations.cloudconvert (FILE, -e CODE, or stdin).

Ctrl-C stops the script; the output so far (with --json, the envelope) is
still printed, and the exit status is 1.

Before each write call the script makes, the command asks y/N on the
terminal (--write=ask, the default); without a terminal it refuses the
call. --allow-write (or --write=allow) allows writes without asking,
--write=deny refuses them; --read works the same for reads. Accounts with
permissions in the accounts file keep theirs.`,
		Example: `  cloudconvert lua -e 'dump(app.integrations.cloudconvert.get_current_user({}))'
  cloudconvert lua job.lua --allow-write --json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := perms.policy(); err != nil {
				return err
			}
			var src string
			switch {
			case code != "" && len(args) > 0:
				return usageErr("give either FILE or -e CODE, not both")
			case code != "":
				src = code
			case len(args) == 1 && args[0] != "-":
				b, err := os.ReadFile(args[0])
				if err != nil {
					return usageErr("reading the script: %v", err)
				}
				src = string(b)
			default:
				b, err := io.ReadAll(c.stdin)
				if err != nil {
					return usageErr("reading the script from stdin: %v", err)
				}
				src = string(b)
			}
			ctx, stop := interruptible(cmd.Context())
			defer stop()
			approve, done := c.approver()
			defer done()
			rt, err := c.newRuntime(ctx, runtimeOptions{perms: &perms, approver: approve, account: account, limits: luaruntime.Limits{Timeout: timeout}, workspace: workspace})
			if err != nil {
				return err
			}
			res := rt.Execute(ctx, src)
			interrupted := res.Error != nil && wasInterrupted(ctx)
			if asJSON {
				writeJSON(c.stdout, res.Envelope())
				switch {
				case interrupted:
					return &exitError{code: exitFailure, msg: "interrupted", printed: true}
				case res.Error != nil:
					return &exitError{code: exitFailure, printed: true}
				}
				return nil
			}
			io.WriteString(c.stdout, res.Output)
			for _, v := range res.Values {
				writeJSON(c.stdout, v)
			}
			if interrupted {
				return &exitError{code: exitFailure, msg: "interrupted"}
			}
			if res.Error != nil {
				return &exitError{code: exitFailure, msg: res.Error.Error()}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&code, "execute", "e", "", "the Lua code to run")
	f.BoolVar(&asJSON, "json", false, "print one JSON envelope: success, output, error, result, execution_time_ms, calls")
	addPermFlags(f, &perms)
	f.StringVar(&account, "account", "", "the account app.integrations.cloudconvert.* uses by default")
	f.DurationVar(&timeout, "timeout", 30*time.Second, "stop the script after this long")
	f.StringVar(&workspace, "workspace", "", workspaceUsage)
	return cmd
}
