package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cctoolkit/cloudconvert/accounts"
	cloudconvert "github.com/cctoolkit/cloudconvert/generated/cloudconvert"
	"github.com/cctoolkit/cloudconvert/integration"
	"github.com/cctoolkit/cloudconvert/integration/invoke"
	"github.com/cctoolkit/cloudconvert/localserver/daemon"
	"github.com/cctoolkit/cloudconvert/luaruntime"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // the script, the call or the API failed
	exitUsage   = 2 // bad flags, unknown names, nothing configured
)

// exitError carries an exit code; its message goes to stderr.
type exitError struct {
	code int
	msg  string
	// printed is set when the output (e.g. a --json envelope) already
	// said everything.
	printed bool
}

func (e *exitError) Error() string { return e.msg }

func usageErr(format string, args ...any) error {
	return &exitError{code: exitUsage, msg: fmt.Sprintf(format, args...)}
}

// cli is what every command shares.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	environ        func() []string
	configPath     string
	quiet          bool // --quiet: no banner, no progress on stderr
	// tty opens the terminal that answers y/N questions (see approve.go);
	// nil, or an error, means there is none.
	tty   func() (io.Reader, error)
	build buildInfo
	// local is the background local server in use, once found or started
	// (under localEndpoint's lock).
	local *daemon.Info
}

// commands lists the subcommands. Others add theirs here, one file per
// command with a constructor taking *cli.
var commands = []func(*cli) *cobra.Command{
	newLuaCmd,
	newCallCmd,
	newDocsCmd,
	newSchemaCmd,
	newFunctionsCmd,
	newMCPCmd,
	newConvertCmd,
	newWaitCmd,
	newJobsCmd,
	newTasksCmd,
	newServeCmd,
	newEnginesCmd,
	newDemoCmd,
	newLocalCmd,
}

func newRootCmd(c *cli) *cobra.Command {
	root := &cobra.Command{
		Use:   "cloudconvert",
		Short: "Run Lua against the CloudConvert API, call its functions, read its docs",
		Long: `Run Lua against the CloudConvert API, call its functions, read its docs.

With no API key configured (CLOUDCONVERT_API_KEY, CLOUDCONVERT_BASE_URL or a
default account in the config file), the commands use a local
CloudConvert-compatible server: the first command that needs it starts it in
the background, every later one connects to it, and it stops after 30 minutes
without use. See cloudconvert local --help.`,
		Version:       c.build.String(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("cloudconvert {{.Version}}\n")
	root.SetIn(c.stdin)
	root.SetOut(c.stdout)
	root.SetErr(c.stderr)
	root.PersistentFlags().StringVar(&c.configPath, "config", "", "accounts config file (default $CLOUDCONVERT_CONFIG or <user config dir>/cloudconvert/accounts.yaml)")
	root.PersistentFlags().BoolVarP(&c.quiet, "quiet", "q", false, "nothing on stderr but errors: no progress, no notice when the local server starts (also $CLOUDCONVERT_QUIET=1)")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		if cmd.Name() == "mcp" && strings.Contains(err.Error(), "allow-write") {
			return usageErr("%v (the MCP server takes --write=allow to offer write functions)", err)
		}
		return usageErr("%v", err)
	})
	for _, mk := range commands {
		root.AddCommand(mk(c))
	}
	return root
}

// Main runs the CLI and returns the exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string, environ func() []string) int {
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv, environ: environ, build: readBuildInfo()}
	c.tty = openTerminal(stderr)
	return c.main(args)
}

// main runs the CLI c with args and returns the exit status.
func (c *cli) main(args []string) int {
	stderr := c.stderr
	root := newRootCmd(c)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if !errors.As(err, &ee) {
		// cobra's own errors: unknown command, bad arguments.
		ee = &exitError{code: exitUsage, msg: err.Error()}
	}
	if ee.msg != "" {
		fmt.Fprintln(stderr, "cloudconvert: "+strings.TrimSpace(ee.msg))
	}
	return ee.code
}

// runtimeOptions are what lua and call choose.
type runtimeOptions struct {
	allowWrite bool
	// perms, when set, replace allowWrite: the --read/--write policy,
	// asking on the terminal.
	perms     *permFlags
	approver  invoke.Approver
	account   string            // the account app.integrations.<slug>.* uses
	limits    luaruntime.Limits //
	timeout   time.Duration     // the command's --timeout, for messages
	workspace string            // --workspace: the folder upload_file and download_file use
}

// descriptor is the integration this command line serves: cmd/cloudconvert
// is the one place that wires CloudConvert into the generic packages.
func descriptor() *integration.Integration { return cloudconvert.Descriptor() }

// docsRuntime is a runtime for reading the docs: no accounts, no calls.
func docsRuntime() (*luaruntime.Runtime, error) {
	inv, err := invoke.New(invoke.Options{Integration: descriptor()})
	if err != nil {
		return nil, err
	}
	pages, err := operationPages()
	if err != nil {
		return nil, err
	}
	return luaruntime.New(luaruntime.Options{Invoker: inv, ExtraDocs: pages})
}

// newRuntime loads the accounts (see loadAccounts: the local server is
// found or started only when a call needs it) and makes a runtime.
func (c *cli) newRuntime(ctx context.Context, o runtimeOptions) (*luaruntime.Runtime, error) {
	set, err := c.loadAccounts(ctx, o.timeout)
	if err != nil {
		return nil, err
	}
	return c.runtimeFor(set, o)
}

func (c *cli) runtimeFor(set *accounts.Set, o runtimeOptions) (*luaruntime.Runtime, error) {
	ws, err := workspaceDir(o.workspace)
	if err != nil {
		return nil, err
	}
	opts := invoke.Options{
		Integration:   descriptor(),
		Accounts:      set,
		Policy:        invoke.Headless(o.allowWrite),
		UserAgent:     "cloudconvert-cli",
		DenyHint:      writeHint,
		ReadDenyHint:  readHint,
		NoAccountHint: noAccountMessage,
		Workspace:     ws,
		Check:         c.operationsCheck(),
	}
	if o.perms != nil {
		p, err := o.perms.policy()
		if err != nil {
			return nil, err
		}
		opts.Policy = p
		opts.Approver = o.approver
	}
	inv, err := invoke.New(opts)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	rt, err := luaruntime.New(luaruntime.Options{Invoker: inv, DefaultAccount: o.account, Limits: o.limits, ExtraDocsFunc: c.operationDocs})
	if err != nil {
		return nil, usageErr("%v", err)
	}
	return rt, nil
}

// workspaceDir is --workspace, checked, or the current directory.
func workspaceDir(flag string) (string, error) {
	if flag == "" {
		wd, err := os.Getwd()
		if err != nil {
			return "", usageErr("--workspace: the current directory is unknown (%v); give --workspace DIR", err)
		}
		return wd, nil
	}
	st, err := os.Stat(flag)
	switch {
	case err != nil:
		return "", usageErr("--workspace %s: %v", flag, err)
	case !st.IsDir():
		return "", usageErr("--workspace %s is not a folder", flag)
	}
	return flag, nil
}

// workspaceUsage is the --workspace flag's help.
const workspaceUsage = "the folder upload_file and download_file may read and write (default: the current directory); paths leaving it are refused"

const noAccountMessage = "no CloudConvert account is configured: set CLOUDCONVERT_API_KEY (and CLOUDCONVERT_BASE_URL for another server), or configure named accounts"

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
