package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/cctoolkit/cloudconvert/localserver"
	"github.com/cctoolkit/cloudconvert/localserver/daemon"
)

func newServeCmd(c *cli) *cobra.Command {
	var addr, dataDir, apiKey, publicURL, webhookSecret string
	var ttl, idle, taskTimeout time.Duration
	var workers int
	var asDaemon, allowPrivate, syncWrites bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the local CloudConvert-compatible server (API under /v2, sync API under /sync/v2)",
		Long: `Run the local CloudConvert-compatible server in the foreground (API under /v2,
sync API under /sync/v2) until Ctrl-C.

Commands without an API key do not need this: they start the same server in
the background on their own (see cloudconvert local). Use serve for a server
with its own address, key or data directory; point clients at it with
CLOUDCONVERT_BASE_URL.`,
		Example: `  cloudconvert serve --addr 127.0.0.1:8080 --api-key secret
  CLOUDCONVERT_API_KEY=secret CLOUDCONVERT_BASE_URL=http://127.0.0.1:8080/v2 cloudconvert call get_current_user
  cloudconvert serve --addr 0.0.0.0:8080 --api-key secret --public-url http://myhost:8080`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// Off loopback the well-known default key would let anyone in.
			if !loopbackAddr(addr) && apiKey == "" {
				return usageErr("serve --addr %s listens beyond this machine: give an API key that clients must send with --api-key (the default key %s is public)", addr, localserver.DefaultAPIKey)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			if dataDir == "" {
				dataDir = c.localDataDir()
			}
			if publicURL != "" {
				u, err := url.Parse(publicURL)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
					return usageErr("--public-url %q: want the server's root URL as clients reach it, e.g. http://myhost:8080 (no /v2, no query)", publicURL)
				}
				publicURL = strings.TrimSuffix(strings.TrimRight(publicURL, "/"), "/v2")
			}
			if idle < 0 {
				return usageErr("--idle-timeout must be 0 (never) or more")
			}
			cfg := localserver.Config{DataDir: dataDir, Addr: addr, APIKey: apiKey, FileTTL: ttl, BaseURL: publicURL, SyncWrites: syncWrites,
				Workers: workers, IdleTimeout: idle, Logger: slog.New(slog.NewTextHandler(c.stderr, nil)),
				TaskTimeout: taskTimeout, AllowPrivateURLs: allowPrivate, WebhookSecret: webhookSecret}
			if asDaemon {
				// The background server (started by commands without an API
				// key, or by cloudconvert local start): its output is its log.
				if cmd.Flags().Changed("addr") {
					return usageErr("--daemon listens on the data directory's recorded loopback address; --addr does not apply")
				}
				if err := daemon.Run(ctx, cfg, daemon.RunOptions{Version: c.build.short()}); err != nil {
					return &exitError{code: exitFailure, msg: err.Error()}
				}
				return nil
			}
			srv, err := localserver.Start(ctx, cfg)
			if err != nil {
				if localserver.IsLocked(err) {
					if info, perr := daemon.Probe(ctx, dataDir); perr == nil {
						err = fmt.Errorf("%w: the background server (pid %d, %s); stop it with `cloudconvert local stop`, or give --data-dir", err, info.PID, info.URL)
					}
				}
				return &exitError{code: exitFailure, msg: err.Error()}
			}
			key := "<your --api-key>"
			if apiKey == "" {
				key = localserver.DefaultAPIKey
			}
			fmt.Fprintf(c.stderr, "cloudconvert: serving the CloudConvert API at %s (sync %s), data in %s\n", srv.APIURL(), srv.SyncURL(), srv.DataDir())
			if apiKey == "" {
				fmt.Fprintf(c.stderr, "cloudconvert: use it with CLOUDCONVERT_API_KEY=%s CLOUDCONVERT_BASE_URL=%s\n", key, srv.APIURL())
			} else {
				fmt.Fprintf(c.stderr, "cloudconvert: use it with CLOUDCONVERT_API_KEY=<the --api-key> CLOUDCONVERT_BASE_URL=%s\n", srv.APIURL())
			}
			if p := srv.WebhookSecretPath(); p != "" {
				fmt.Fprintf(c.stderr, "cloudconvert: webhooks are signed with the secret in %s\n", p)
			} else {
				fmt.Fprintln(c.stderr, "cloudconvert: webhooks are signed with the secret given by --webhook-secret")
			}
			select {
			case <-ctx.Done():
			case <-srv.Idle():
				fmt.Fprintf(c.stderr, "cloudconvert: idle for %s\n", idle)
			}
			fmt.Fprintln(c.stderr, "cloudconvert: stopping")
			if err := srv.Close(); err != nil {
				return &exitError{code: exitFailure, msg: err.Error()}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on (beyond loopback only with --api-key)")
	f.StringVar(&dataDir, "data-dir", "", "where jobs, tasks and files are kept (default $CLOUDCONVERT_DATA_DIR or <user cache dir>/cloudconvert/local-server)")
	f.StringVar(&apiKey, "api-key", "", "the API key clients must send (default "+localserver.DefaultAPIKey+", on loopback only)")
	f.DurationVar(&ttl, "file-ttl", 24*time.Hour, "how long result files stay downloadable")
	f.IntVar(&workers, "workers", 0, "tasks run at once (default 2 x CPUs, at least 4)")
	f.StringVar(&publicURL, "public-url", "", "the root URL written into links (task and job links, upload and export URLs), e.g. http://myhost:8080 when serving on 0.0.0.0 (default: http://<--addr>)")
	f.DurationVar(&idle, "idle-timeout", 0, "stop after this long without requests or running tasks (0: never)")
	f.BoolVar(&asDaemon, "daemon", false, "run as the background server (see cloudconvert local)")
	f.MarkHidden("daemon")
	f.DurationVar(&taskTimeout, "task-timeout", 10*time.Minute, "how long one task may run before it fails")
	f.BoolVar(&syncWrites, "sync-writes", false, "fsync every acknowledged write, so it survives power loss too (a process crash loses nothing either way)")
	f.BoolVar(&allowPrivate, "allow-private-urls", false, "let import/url, webhooks and capture-website reach loopback and private addresses (tests and local development only)")
	f.StringVar(&webhookSecret, "webhook-secret", "", "secret that signs webhooks (default: a random one kept in the data dir)")
	return cmd
}

// loopbackAddr reports whether a listen address stays on this machine.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && ip.Unmap().IsLoopback()
}
