package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/cctoolkit/cloudconvert/accounts"
	"github.com/cctoolkit/cloudconvert/localserver"
	"github.com/cctoolkit/cloudconvert/localserver/daemon"
)

// loadAccounts reads the accounts. With no default account configured (no
// CLOUDCONVERT_API_KEY or CLOUDCONVERT_BASE_URL, no default in the config
// file), the default account is the user's background local server, found
// or started when a call first needs it: commands that make no API call
// start nothing. timeout is the command's --timeout, for messages.
func (c *cli) loadAccounts(ctx context.Context, timeout time.Duration) (*accounts.Set, error) {
	set, err := accounts.Load(accounts.Options{Getenv: c.getenv, Environ: c.environ, ConfigPath: c.configPath})
	if err != nil {
		return nil, usageErr("%v", err)
	}
	if set.Default() == nil {
		e := &localEndpoint{c: c, ctx: ctx, timeout: timeout}
		set.SetDefaultFunc(e.account)
	}
	return set, nil
}

// localEndpoint resolves the default account to the background local
// server, once per process and again when that server has stopped (a long
// MCP session may outlive it).
type localEndpoint struct {
	c       *cli
	ctx     context.Context
	timeout time.Duration

	mu   sync.Mutex
	info *daemon.Info
	acct *accounts.Account
}

func (e *localEndpoint) account() (*accounts.Account, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.info != nil && daemon.StillRunning(e.info) {
		return e.acct, nil
	}
	info, err := e.c.ensureLocal(e.ctx, e.timeout)
	if err != nil {
		return nil, err
	}
	e.info, e.acct = info, localAccount(info)
	return e.acct, nil
}

func localAccount(info *daemon.Info) *accounts.Account {
	return &accounts.Account{Name: accounts.DefaultName, APIKey: accounts.NewSecret(localserver.DefaultAPIKey),
		BaseURL: info.APIURL(), SyncURL: info.SyncURL(), SocketIOURL: info.SocketIOURL(),
		Source: fmt.Sprintf("the local CloudConvert server (pid %d, data in %s)", info.PID, info.DataDir)}
}

// ensureLocal finds the background local server or starts it, saying so
// on stderr (once, when it starts it) unless quiet.
func (c *cli) ensureLocal(ctx context.Context, timeout time.Duration) (*daemon.Info, error) {
	idle, err := c.idleTimeout()
	if err != nil {
		return nil, err
	}
	opts, err := c.daemonOptions(c.localDataDir(), idle)
	if err != nil {
		return nil, err
	}
	info, started, err := daemon.Ensure(ctx, opts)
	if started && !c.isQuiet() {
		// Also when this command gives up meanwhile: the server runs on.
		fmt.Fprintf(c.stderr, "cloudconvert: no API key configured: started the local CloudConvert server in the background at %s (pid %d, data in %s); "+
			"it stops after %s without use, or with `cloudconvert local stop`\n",
			info.APIURL(), info.PID, info.DataDir, info.Status.IdleTimeout)
	}
	if err != nil {
		return nil, c.describeLocalErr(ctx, err, timeout)
	}
	c.local = info
	return info, nil
}

// describeLocalErr names what went wrong in the user's terms.
func (c *cli) describeLocalErr(ctx context.Context, err error, timeout time.Duration) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil && timeout > 0:
		return fmt.Errorf("gave up after %s (--timeout) while connecting to the local CloudConvert server", timeout)
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return errors.New("interrupted while connecting to the local CloudConvert server")
	}
	return fmt.Errorf("the local CloudConvert server (used because no API key is configured): %w", err)
}

// daemonOptions: how this executable starts the background server.
func (c *cli) daemonOptions(dir string, idle time.Duration) (daemon.StartOptions, error) {
	exe, err := os.Executable()
	if err != nil {
		return daemon.StartOptions{}, fmt.Errorf("finding this program to start the local server: %w", err)
	}
	return daemon.StartOptions{DataDir: dir,
		Command: []string{exe, "serve", "--daemon", "--data-dir", dir, "--idle-timeout", idle.String()}}, nil
}

// idleTimeout is $CLOUDCONVERT_LOCAL_IDLE_TIMEOUT, else the default.
func (c *cli) idleTimeout() (time.Duration, error) {
	v := c.getenv("CLOUDCONVERT_LOCAL_IDLE_TIMEOUT")
	if v == "" {
		return daemon.DefaultIdleTimeout, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, usageErr("$CLOUDCONVERT_LOCAL_IDLE_TIMEOUT=%q is not a duration (e.g. 30m, 2h; 0 for never)", v)
	}
	return d, nil
}

// isQuiet: --quiet, or $CLOUDCONVERT_QUIET set to a true value.
func (c *cli) isQuiet() bool {
	if c.quiet {
		return true
	}
	b, err := strconv.ParseBool(c.getenv("CLOUDCONVERT_QUIET"))
	return err == nil && b
}
