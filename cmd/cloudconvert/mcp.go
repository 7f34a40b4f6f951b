package main

import (
	"context"
	"fmt"
	"io"
	"os/signal"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/cctoolkit/cloudconvert/accounts"
	"github.com/cctoolkit/cloudconvert/integration/invoke"
	"github.com/cctoolkit/cloudconvert/luaruntime"
	"github.com/cctoolkit/cloudconvert/mcpserver"
)

// mcpVersion is the MCP server's reported version.
var mcpVersion = "dev"

func newMCPCmd(c *cli) *cobra.Command {
	var write, httpAddr, account string
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

Write functions (create_job, create_task) are not offered unless --write=allow.`,
		Example: `  cloudconvert mcp
  cloudconvert mcp --write=allow
  cloudconvert mcp --http 127.0.0.1:8931`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var allowWrite bool
			switch write {
			case "deny":
			case "allow":
				allowWrite = true
			default:
				return usageErr("--write must be deny or allow, got %q", write)
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
			rt, cleanup, err := c.newMCPRuntime(ctx, allowWrite, account, luaruntime.Limits{Timeout: timeout})
			if err != nil {
				return err
			}
			defer cleanup()
			srv, err := mcpserver.New(mcpserver.Options{
				Runtime: rt, DefaultAccount: account, MaxOutput: maxOutput,
				Name: "cloudconvert", Version: mcpVersion,
			})
			if err != nil {
				return &exitError{code: exitUsage, msg: err.Error()}
			}
			if httpAddr != "" {
				err = srv.ServeHTTP(ctx, httpAddr, func(url string) {
					fmt.Fprintf(c.stderr, "cloudconvert: serving MCP (streamable HTTP) at %s\n", url)
				})
			} else {
				err = srv.Run(ctx, &mcp.IOTransport{Reader: nopReadCloser{c.stdin}, Writer: nopWriteCloser{c.stdout}})
			}
			if err != nil && ctx.Err() == nil {
				return &exitError{code: exitFailure, msg: "mcp: " + err.Error()}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&write, "write", "deny", "write functions: deny (not offered, refused if called) or allow")
	f.StringVar(&httpAddr, "http", "", "serve streamable HTTP on this loopback address (127.0.0.1:PORT) instead of stdio")
	f.IntVar(&maxOutput, "max-output", mcpserver.DefaultMaxOutput, "cut a tool result's text at this many bytes (with a note saying so)")
	f.StringVar(&account, "account", "", "the account tools use when a call names none")
	f.DurationVar(&timeout, "timeout", 30*time.Second, "stop an execute_lua script after this long")
	return cmd
}

// newMCPRuntime is newRuntime with the MCP server's deny hint.
func (c *cli) newMCPRuntime(ctx context.Context, allowWrite bool, account string, limits luaruntime.Limits) (*luaruntime.Runtime, func(), error) {
	set, err := accounts.Load(accounts.Options{Getenv: c.getenv, Environ: c.environ, ConfigPath: c.configPath})
	if err != nil {
		return nil, nil, usageErr("%v", err)
	}
	cleanup := func() {}
	if set.Default() == nil && (account == "" || account == accounts.DefaultName) {
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
		Policy:        invoke.Headless(allowWrite),
		UserAgent:     "cloudconvert-mcp",
		DenyHint:      "this MCP server was started with --write=deny; restart it with --write=allow to allow writes",
		NoAccountHint: noAccountMessage,
	})
	if err != nil {
		cleanup()
		return nil, nil, usageErr("%v", err)
	}
	rt, err := luaruntime.New(luaruntime.Options{Invoker: inv, DefaultAccount: account, Limits: limits})
	if err != nil {
		cleanup()
		return nil, nil, usageErr("%v", err)
	}
	return rt, cleanup, nil
}

type nopReadCloser struct{ r io.Reader }

func (n nopReadCloser) Read(p []byte) (int, error) { return n.r.Read(p) }
func (nopReadCloser) Close() error                 { return nil }

type nopWriteCloser struct{ w io.Writer }

func (n nopWriteCloser) Write(p []byte) (int, error) { return n.w.Write(p) }
func (nopWriteCloser) Close() error                  { return nil }
