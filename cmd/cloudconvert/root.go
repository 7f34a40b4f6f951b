package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cctoolkit/cloudconvert/accounts"
	cloudconvert "github.com/cctoolkit/cloudconvert/generated/cloudconvert"
	"github.com/cctoolkit/cloudconvert/integration"
	"github.com/cctoolkit/cloudconvert/integration/invoke"
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
}

func newRootCmd(c *cli) *cobra.Command {
	root := &cobra.Command{
		Use:           "cloudconvert",
		Short:         "Run Lua against the CloudConvert API, call its functions, read its docs",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(c.stdin)
	root.SetOut(c.stdout)
	root.SetErr(c.stderr)
	root.PersistentFlags().StringVar(&c.configPath, "config", "", "accounts config file (default $CLOUDCONVERT_CONFIG or <user config dir>/cloudconvert/accounts.yaml)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErr("%v", err) })
	for _, mk := range commands {
		root.AddCommand(mk(c))
	}
	return root
}

// Main runs the CLI and returns the exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string, environ func() []string) int {
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv, environ: environ}
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
	if !ee.printed && ee.msg != "" {
		fmt.Fprintln(stderr, "cloudconvert: "+strings.TrimSpace(ee.msg))
	} else if ee.printed && ee.msg != "" {
		fmt.Fprintln(stderr, "cloudconvert: "+strings.TrimSpace(ee.msg))
	}
	return ee.code
}

// runtimeOptions are what lua and call choose.
type runtimeOptions struct {
	allowWrite bool
	account    string // the account app.integrations.<slug>.* uses
	limits     luaruntime.Limits
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
	return luaruntime.New(luaruntime.Options{Invoker: inv})
}

// newRuntime loads the accounts and makes a runtime. With no default
// account it asks defaultAccountEndpoint for one; the cleanup it returns
// must be called.
func (c *cli) newRuntime(ctx context.Context, o runtimeOptions) (*luaruntime.Runtime, func(), error) {
	set, err := accounts.Load(accounts.Options{Getenv: c.getenv, Environ: c.environ, ConfigPath: c.configPath})
	if err != nil {
		return nil, nil, usageErr("%v", err)
	}
	cleanup := func() {}
	if set.Default() == nil && (o.account == "" || o.account == accounts.DefaultName) {
		acct, stop, err := defaultAccountEndpoint(ctx, c)
		if err != nil {
			return nil, nil, &exitError{code: exitUsage, msg: err.Error()}
		}
		if acct != nil {
			set.SetDefault(acct)
			cleanup = stop
		}
	}
	inv, err := invoke.New(invoke.Options{
		Integration:   descriptor(),
		Accounts:      set,
		Policy:        invoke.Headless(o.allowWrite),
		UserAgent:     "cloudconvert-cli",
		DenyHint:      "run again with --allow-write to allow writes",
		NoAccountHint: noAccountMessage,
	})
	if err != nil {
		cleanup()
		return nil, nil, usageErr("%v", err)
	}
	rt, err := luaruntime.New(luaruntime.Options{Invoker: inv, DefaultAccount: o.account, Limits: o.limits})
	if err != nil {
		cleanup()
		return nil, nil, usageErr("%v", err)
	}
	return rt, cleanup, nil
}

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
