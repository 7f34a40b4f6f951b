package main

import (
	"context"
	"fmt"
	"os/signal"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/cctoolkit/cloudconvert/integration/invoke"
	"github.com/cctoolkit/cloudconvert/luaruntime"
	"github.com/cctoolkit/cloudconvert/mcpserver"
)

func newMCPCmd(c *cli) *cobra.Command {
	var write, read, httpAddr, account, workspace string
	var maxOutput int
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "mcp",
		Short: "Serve the functions, the Lua runtime and the docs over the Model Context Protocol (stdio, or --http on loopback)",
		Long: `Serve the CloudConvert functions as MCP tools (one per function), plus
execute_lua, lua_list_docs, lua_search_docs and lua_read_doc, and the docs
pages as resources (cloudconvert-docs://<page>).

By default the server speaks MCP over stdin/stdout; with --http it serves
streamable HTTP at http://ADDR/mcp, on a loopback address only.

Write functions (create_job, create_task, ...) are not offered unless
--write=allow or --write=ask. With --write=ask the server asks the client
(MCP elicitation: the user confirms in the client) before each write, also
inside execute_lua; a client that cannot be asked gets the call refused,
saying why. --read=ask|deny does the same for reads. Accounts with
permissions in the accounts file keep theirs.

With no API key configured, the tools use the local CloudConvert server,
found or started when a tool first calls the API. When stdin ends, the
replies to the requests still running are sent before the server exits.`,
		Example: `  cloudconvert mcp
  cloudconvert mcp --write=ask
  cloudconvert mcp --write=allow
  cloudconvert mcp --http 127.0.0.1:8931`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w, ok := invoke.ParseDecision(write)
			if !ok {
				return usageErr("--write must be deny, ask or allow, got %q", write)
			}
			r, ok := invoke.ParseDecision(read)
			if !ok {
				return usageErr("--read must be allow, ask or deny, got %q", read)
			}
			if httpAddr != "" {
				if err := mcpserver.CheckLoopback(httpAddr); err != nil {
					return usageErr("--http: %v", err)
				}
			}
			if maxOutput <= 0 {
				return usageErr("--max-output must be a positive number of bytes")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			ws, err := workspaceDir(workspace)
			if err != nil {
				return err
			}
			rt, err := c.newMCPRuntime(ctx, invoke.Policy{Read: r, Write: w}, account, luaruntime.Limits{Timeout: timeout}, ws)
			if err != nil {
				return err
			}
			srv, err := mcpserver.New(mcpserver.Options{
				Runtime: rt, DefaultAccount: account, MaxOutput: maxOutput,
				Name: "cloudconvert", Version: c.build.short(),
			})
			if err != nil {
				return &exitError{code: exitUsage, msg: err.Error()}
			}
			if httpAddr != "" {
				err = srv.ServeHTTP(ctx, httpAddr, func(url string) {
					fmt.Fprintf(c.stderr, "cloudconvert: serving MCP (streamable HTTP) at %s\n", url)
				})
			} else {
				// Replies still due when stdin ends are sent first; a script
				// gets its --timeout (or at least a minute) to finish.
				tr := newStdioTracker(ctx, max(timeout, time.Minute)+30*time.Second)
				err = srv.Run(ctx, &mcp.IOTransport{Reader: tr.reader(c.stdin), Writer: tr.writer(c.stdout)})
			}
			if err != nil && ctx.Err() == nil {
				return &exitError{code: exitFailure, msg: "mcp: " + err.Error()}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&write, "write", "deny", "write functions: deny (not offered, refused if called), ask (the client asks the user before each call) or allow")
	f.StringVar(&read, "read", "allow", "read functions: allow, ask (the client asks the user before each call) or deny")
	f.StringVar(&httpAddr, "http", "", "serve streamable HTTP on this loopback address (127.0.0.1:PORT) instead of stdio")
	f.IntVar(&maxOutput, "max-output", mcpserver.DefaultMaxOutput, "cut a tool result's text at this many bytes (with a note saying so)")
	f.StringVar(&account, "account", "", "the account tools use when a call names none")
	f.DurationVar(&timeout, "timeout", 30*time.Second, "stop an execute_lua script after this long")
	f.StringVar(&workspace, "workspace", "", workspaceUsage)
	return cmd
}

// newMCPRuntime is newRuntime with the MCP server's policy and hints. Its
// asks go to the client of each call (mcpserver sets the approver).
func (c *cli) newMCPRuntime(ctx context.Context, policy invoke.Policy, account string, limits luaruntime.Limits, workspace string) (*luaruntime.Runtime, error) {
	set, err := c.loadAccounts(ctx, 0)
	if err != nil {
		return nil, err
	}
	inv, err := invoke.New(invoke.Options{
		Integration:   descriptor(),
		Accounts:      set,
		Policy:        policy,
		UserAgent:     "cloudconvert-mcp",
		DenyHint:      mcpHint("write", policy.Write),
		ReadDenyHint:  mcpHint("read", policy.Read),
		NoAccountHint: noAccountMessage,
		Workspace:     workspace,
		Check:         c.operationsCheck(),
	})
	if err != nil {
		return nil, usageErr("%v", err)
	}
	rt, err := luaruntime.New(luaruntime.Options{Invoker: inv, DefaultAccount: account, Limits: limits, ExtraDocsFunc: c.operationDocs})
	if err != nil {
		return nil, usageErr("%v", err)
	}
	return rt, nil
}

// mcpHint says how to allow what an MCP server started with --KIND=d
// refused.
func mcpHint(kind string, d invoke.Decision) string {
	if d == invoke.Ask {
		return fmt.Sprintf("this MCP server was started with --%s=ask; restart it with --%s=allow to allow %ss without asking", kind, kind, kind)
	}
	return fmt.Sprintf("this MCP server was started with --%s=%s; restart it with --%s=allow (or --%s=ask, to be asked each time) to allow %ss", kind, d, kind, kind, kind)
}
