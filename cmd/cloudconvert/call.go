package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cctoolkit/cloudconvert/accounts"
	"github.com/cctoolkit/cloudconvert/integration/invoke"
	"github.com/cctoolkit/cloudconvert/localserver"
	"github.com/cctoolkit/cloudconvert/localserver/daemon"
	"github.com/cctoolkit/cloudconvert/luaruntime"
)

// callEnvelope is `call --json`'s output.
type callEnvelope struct {
	Function   string          `json:"function"`
	Success    bool            `json:"success"`
	Data       json.RawMessage `json:"data"`
	Error      any             `json:"error"`
	Meta       callMeta        `json:"meta"`
	DurationMS float64         `json:"duration_ms"`
}

type callMeta struct {
	Operation string          `json:"operation"`
	Account   string          `json:"account"`
	DryRun    bool            `json:"dry_run"`
	Method    string          `json:"method,omitempty"`
	URL       string          `json:"url,omitempty"`
	Status    int             `json:"status,omitempty"`
	Request   json.RawMessage `json:"request_body,omitempty"`
}

func newCallCmd(c *cli) *cobra.Command {
	var params []string
	var asJSON, dryRun bool
	var perms permFlags
	var account, workspace string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "call FUNCTION [JSON]",
		Short: "Call one function with JSON arguments and print the API's answer",
		Long: `Call one function with JSON arguments and print the API's answer.

The arguments are the function's named parameters as a JSON object (or
@FILE); for create_job, "tasks" may be the API's own object keyed by task
name or an array. A write function asks y/N on the terminal first
(--write=ask, the default); without a terminal the call is refused.
--allow-write (or --write=allow) allows writes without asking, --write=deny
refuses them; --read works the same for reads. Accounts with permissions in
the accounts file keep theirs.`,
		Example: `  cloudconvert call get_job '{"job_id": "6559c281-ed85-4728-80db-414561c631e9"}'
  cloudconvert call list_jobs --param status=finished --param per_page=10 --json
  cloudconvert call create_job @job.json --dry-run`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := perms.policy(); err != nil {
				return err
			}
			fnName := args[0]
			var argsJSON []byte
			extra := map[string]any{}
			if len(args) == 2 {
				text := args[1]
				if strings.HasPrefix(text, "@") {
					b, err := readFile(text[1:])
					if err != nil {
						return usageErr("reading the arguments: %v", err)
					}
					text = string(b)
				}
				var probe map[string]any
				if err := json.Unmarshal([]byte(text), &probe); err != nil {
					return usageErr("the arguments are not a JSON object: %v", err)
				}
				argsJSON = []byte(text)
			}
			for _, p := range params {
				k, v, ok := strings.Cut(p, "=")
				if !ok || k == "" {
					return usageErr("--param %q: write it as name=value", p)
				}
				extra[k] = paramValue(v)
			}
			ctx, stop := interruptible(cmd.Context())
			defer stop()
			if timeout > 0 {
				var cancel func()
				ctx, cancel = contextWithTimeout(ctx, timeout)
				defer cancel()
			}
			approve, done := c.approver()
			defer done()
			rt, err := c.callRuntime(ctx, runtimeOptions{perms: &perms, approver: approve, account: account, timeout: timeout, workspace: workspace}, dryRun)
			if err != nil {
				return err
			}
			res := rt.Invoker().CallJSON(ctx, invoke.JSONCall{Account: account, Function: fnName, Args: argsJSON, Extra: extra, DryRun: dryRun})
			interrupted := res.Err != nil && wasInterrupted(ctx)
			if asJSON {
				env := callEnvelope{
					Function: res.Function, Success: res.Err == nil, Data: res.Data,
					Meta:       callMeta{Operation: res.Kind, Account: res.Account, DryRun: res.DryRun, Method: res.Method, URL: res.URL, Status: res.Status, Request: res.Body},
					DurationMS: float64(res.Duration.Microseconds()) / 1000,
				}
				if env.Data == nil {
					env.Data = json.RawMessage("null")
				}
				if res.Err != nil {
					env.Error = luaruntime.ErrorFields(res.Err)
				}
				writeJSON(c.stdout, env)
				switch {
				case interrupted:
					return &exitError{code: exitFailure, msg: "interrupted", printed: true}
				case res.Err != nil:
					return &exitError{code: exitFailure, printed: true}
				}
				return nil
			}
			if interrupted {
				return &exitError{code: exitFailure, msg: "interrupted"}
			}
			if res.Err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) && res.Kind != "" {
				return &exitError{code: exitFailure, msg: fmt.Sprintf("%s: gave up after %s (--timeout)", res.Function, timeout)}
			}
			if res.Err != nil {
				code := exitFailure
				if res.Kind == "" {
					code = exitUsage
				}
				return &exitError{code: code, msg: res.Err.Error()}
			}
			if dryRun {
				fmt.Fprintf(c.stdout, "%s %s\n", res.Method, res.URL)
				if len(res.Body) > 0 {
					writeIndented(c, res.Body)
				}
				return nil
			}
			writeIndented(c, res.Data)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&params, "param", "p", nil, "an argument as name=value (value read as JSON when it parses, else as a string); repeatable")
	f.BoolVar(&asJSON, "json", false, "print one JSON envelope: function, success, data, error, meta, duration_ms")
	f.BoolVar(&dryRun, "dry-run", false, "validate and show the request without sending it")
	addPermFlags(f, &perms)
	f.StringVar(&account, "account", "", "the account to use")
	f.DurationVar(&timeout, "timeout", 30*time.Second, "give up after this long")
	f.StringVar(&workspace, "workspace", "", workspaceUsage)
	return cmd
}

// callRuntime is call's runtime. A dry run sends nothing and starts
// nothing: with no default account configured it shows the URL the local
// server has, or will have when it starts; when the accounts cannot be
// read it still validates the call.
func (c *cli) callRuntime(ctx context.Context, o runtimeOptions, dryRun bool) (*luaruntime.Runtime, error) {
	set, err := c.loadAccounts(ctx, o.timeout)
	if err != nil {
		if dryRun {
			return docsRuntime()
		}
		return nil, err
	}
	if dryRun && set.Default() == nil {
		if url, err := daemon.PlannedURL(c.localDataDir()); err == nil {
			set.SetDefault(&accounts.Account{Name: accounts.DefaultName, APIKey: accounts.NewSecret(localserver.DefaultAPIKey),
				BaseURL: url + "/v2", SyncURL: url + "/sync/v2", SocketIOURL: url, Source: "the local CloudConvert server"})
		}
	}
	return c.runtimeFor(set, o)
}

// paramValue reads --param values: JSON when it parses (numbers, true,
// arrays, objects), else the text as a string.
func paramValue(v string) any {
	dec := json.NewDecoder(strings.NewReader(v))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err == nil && !dec.More() {
		return out
	}
	return v
}

func writeIndented(c *cli, data []byte) {
	if len(data) == 0 {
		return
	}
	var b bytes.Buffer
	if err := json.Indent(&b, data, "", "  "); err != nil {
		c.stdout.Write(data)
		fmt.Fprintln(c.stdout)
		return
	}
	b.WriteByte('\n')
	c.stdout.Write(b.Bytes())
}
