package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/cctoolkit/cloudconvert/localserver"
)

func newServeCmd(c *cli) *cobra.Command {
	var addr, dataDir, apiKey, webhookSecret string
	var ttl, taskTimeout time.Duration
	var workers int
	var allowPrivate bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the local CloudConvert-compatible server (API under /v2, sync API under /sync/v2)",
		Example: `  cloudconvert serve --addr 127.0.0.1:8080 --api-key secret
  CLOUDCONVERT_API_KEY=secret CLOUDCONVERT_BASE_URL=http://127.0.0.1:8080/v2 cloudconvert call get_current_user`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// Off loopback the well-known default key would let anyone in.
			if !loopbackAddr(addr) && apiKey == "" {
				return usageErr("serve --addr %s listens beyond this machine: give an API key that clients must send with --api-key (the default key %s is public)", addr, localserver.DefaultAPIKey)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			if dataDir == "" {
				dataDir = localDataDir()
			}
			srv, err := localserver.Start(ctx, localserver.Config{DataDir: dataDir, Addr: addr, APIKey: apiKey, FileTTL: ttl,
				Workers: workers, TaskTimeout: taskTimeout, AllowPrivateURLs: allowPrivate, WebhookSecret: webhookSecret,
				Logger: slog.New(slog.NewTextHandler(c.stderr, nil))})
			if err != nil {
				return &exitError{code: exitFailure, msg: err.Error()}
			}
			key := "<your --api-key>"
			if apiKey == "" {
				key = localserver.DefaultAPIKey
			}
			fmt.Fprintf(c.stderr, "cloudconvert: serving the CloudConvert API at %s (sync %s), data in %s\n", srv.APIURL(), srv.SyncURL(), srv.DataDir())
			fmt.Fprintf(c.stderr, "cloudconvert: use it with CLOUDCONVERT_API_KEY=%s CLOUDCONVERT_BASE_URL=%s\n", key, srv.APIURL())
			if p := srv.WebhookSecretPath(); p != "" {
				fmt.Fprintf(c.stderr, "cloudconvert: webhooks are signed with the secret in %s\n", p)
			} else {
				fmt.Fprintln(c.stderr, "cloudconvert: webhooks are signed with the secret given by --webhook-secret")
			}
			<-ctx.Done()
			fmt.Fprintln(c.stderr, "cloudconvert: stopping")
			if err := srv.Close(); err != nil {
				return &exitError{code: exitFailure, msg: err.Error()}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on (beyond loopback only with --api-key)")
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "where jobs, tasks and files are kept (default <user cache dir>/cloudconvert/local-server)")
	cmd.Flags().StringVar(&apiKey, "api-key", "", "the API key clients must send (default "+localserver.DefaultAPIKey+", on loopback only)")
	cmd.Flags().DurationVar(&ttl, "file-ttl", 24*time.Hour, "how long result files stay downloadable")
	cmd.Flags().IntVar(&workers, "workers", 0, "tasks run at once (default 2 x CPUs, at least 4)")
	cmd.Flags().DurationVar(&taskTimeout, "task-timeout", 10*time.Minute, "how long one task may run before it fails")
	cmd.Flags().BoolVar(&allowPrivate, "allow-private-urls", false, "let import/url, webhooks and capture-website reach loopback and private addresses (tests and local development only)")
	cmd.Flags().StringVar(&webhookSecret, "webhook-secret", "", "secret that signs webhooks (default: a random one kept in the data dir)")
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
