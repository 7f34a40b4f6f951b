package main

import (
	"fmt"
	"log/slog"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/cctoolkit/cloudconvert/localserver"
)

func newServeCmd(c *cli) *cobra.Command {
	var addr, dataDir, apiKey string
	var ttl time.Duration
	var workers int
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the local CloudConvert-compatible server (API under /v2, sync API under /sync/v2)",
		Example: `  cloudconvert serve --addr 127.0.0.1:8080 --api-key secret
  CLOUDCONVERT_API_KEY=secret CLOUDCONVERT_BASE_URL=http://127.0.0.1:8080/v2 cloudconvert call get_current_user`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			if dataDir == "" {
				dataDir = localDataDir()
			}
			srv, err := localserver.Start(ctx, localserver.Config{DataDir: dataDir, Addr: addr, APIKey: apiKey, FileTTL: ttl,
				Workers: workers, Logger: slog.New(slog.NewTextHandler(c.stderr, nil))})
			if err != nil {
				return &exitError{code: exitFailure, msg: err.Error()}
			}
			key := apiKey
			if key == "" {
				key = localserver.DefaultAPIKey
			}
			fmt.Fprintf(c.stderr, "cloudconvert: serving the CloudConvert API at %s (sync %s), data in %s\n", srv.APIURL(), srv.SyncURL(), srv.DataDir())
			fmt.Fprintf(c.stderr, "cloudconvert: use it with CLOUDCONVERT_API_KEY=%s CLOUDCONVERT_BASE_URL=%s\n", key, srv.APIURL())
			<-ctx.Done()
			fmt.Fprintln(c.stderr, "cloudconvert: stopping")
			if err := srv.Close(); err != nil {
				return &exitError{code: exitFailure, msg: err.Error()}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on")
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "where jobs, tasks and files are kept (default <user cache dir>/cloudconvert/local-server)")
	cmd.Flags().StringVar(&apiKey, "api-key", "", "the API key clients must send (default "+localserver.DefaultAPIKey+")")
	cmd.Flags().DurationVar(&ttl, "file-ttl", 24*time.Hour, "how long result files stay downloadable")
	cmd.Flags().IntVar(&workers, "workers", 0, "tasks run at once (default 2 x CPUs, at least 4)")
	return cmd
}
