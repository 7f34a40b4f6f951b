package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cctoolkit/cloudconvert/localserver/daemon"
)

func newLocalCmd(c *cli) *cobra.Command {
	var dataDir string
	dir := func() string {
		if dataDir != "" {
			return dataDir
		}
		return c.localDataDir()
	}
	cmd := &cobra.Command{
		Use:   "local",
		Short: "The background local CloudConvert server: status, start, stop, logs",
		Long: `With no API key configured, commands use a local CloudConvert-compatible
server. The first command that needs it starts it in the background (its
own process, its output in server.log in its data directory); every later
command, Lua script and MCP server connects to it, so jobs go on after the
command that created them ends and their URLs stay valid. It listens on the
same loopback port after a restart, and stops by itself after 30 minutes
without requests or running tasks ($CLOUDCONVERT_LOCAL_IDLE_TIMEOUT, e.g.
2h; 0 for never).

Data: $CLOUDCONVERT_DATA_DIR, else <user cache dir>/cloudconvert/local-server.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.PersistentFlags().StringVar(&dataDir, "data-dir", "", "the server's data directory (default $CLOUDCONVERT_DATA_DIR or <user cache dir>/cloudconvert/local-server)")

	var statusJSON bool
	status := &cobra.Command{
		Use:   "status",
		Short: "Say whether the background server runs: address, pid, data directory, uptime, jobs",
		Args:  noArgs("local status"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			info, err := daemon.Probe(ctx, dir())
			if err != nil && !errors.Is(err, daemon.ErrNotRunning) {
				return &exitError{code: exitFailure, msg: "local status: " + err.Error()}
			}
			c.printLocalStatus(info, dir(), statusJSON, err)
			return nil
		},
	}
	status.Flags().BoolVar(&statusJSON, "json", false, "print JSON")

	var idle time.Duration
	start := &cobra.Command{
		Use:   "start",
		Short: "Start the background server if it is not running, and print its status",
		Args:  noArgs("local start"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 3*time.Minute)
			defer cancel()
			if !cmd.Flags().Changed("idle-timeout") {
				var err error
				if idle, err = c.idleTimeout(); err != nil {
					return err
				}
			} else if idle < 0 {
				return usageErr("local start: --idle-timeout must be 0 (never) or more")
			}
			opts, err := c.daemonOptions(dir(), idle)
			if err != nil {
				return err
			}
			info, started, err := daemon.Ensure(ctx, opts)
			if err != nil {
				return &exitError{code: exitFailure, msg: "local start: " + err.Error()}
			}
			if started {
				fmt.Fprintln(c.stderr, "cloudconvert: started the local CloudConvert server")
			} else {
				fmt.Fprintln(c.stderr, "cloudconvert: the local CloudConvert server was already running")
			}
			c.printLocalStatus(info, opts.DataDir, false, nil)
			return nil
		},
	}
	start.Flags().DurationVar(&idle, "idle-timeout", daemon.DefaultIdleTimeout, "stop after this long without requests or running tasks (0: never; default $CLOUDCONVERT_LOCAL_IDLE_TIMEOUT or 30m)")

	stop := &cobra.Command{
		Use:   "stop",
		Short: "Stop the background server and wait until it has exited (running tasks resume at its next start)",
		Args:  noArgs("local stop"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			info, err := daemon.Stop(ctx, dir())
			switch {
			case errors.Is(err, daemon.ErrNotRunning):
				fmt.Fprintf(c.stderr, "cloudconvert: the local CloudConvert server is not running (data in %s)\n", dir())
				return nil
			case err != nil:
				return &exitError{code: exitFailure, msg: "local stop: " + err.Error()}
			}
			fmt.Fprintf(c.stderr, "cloudconvert: stopped the local CloudConvert server (pid %d, %s)\n", info.PID, info.URL)
			return nil
		},
	}

	var lines int
	var follow bool
	logs := &cobra.Command{
		Use:   "logs",
		Short: "Print the background server's log (-f to follow it)",
		Args:  noArgs("local logs"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if lines < 0 {
				return usageErr("local logs: -n must be 0 (all) or more")
			}
			path := daemon.LogPath(dir())
			f, err := os.Open(path)
			if errors.Is(err, os.ErrNotExist) {
				return &exitError{code: exitFailure, msg: fmt.Sprintf("local logs: no log yet at %s (the server has not run with this data directory)", path)}
			} else if err != nil {
				return &exitError{code: exitFailure, msg: "local logs: " + err.Error()}
			}
			defer f.Close()
			if err := tailLines(f, c.stdout, lines); err != nil {
				return &exitError{code: exitFailure, msg: "local logs: " + err.Error()}
			}
			if !follow {
				return nil
			}
			ctx, stop := interruptible(cmd.Context())
			defer stop()
			buf := make([]byte, 32<<10)
			for {
				n, err := f.Read(buf)
				c.stdout.Write(buf[:n])
				if err != nil && !errors.Is(err, io.EOF) {
					return &exitError{code: exitFailure, msg: "local logs: " + err.Error()}
				}
				if n > 0 {
					continue
				}
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(200 * time.Millisecond):
				}
			}
		},
	}
	logs.Flags().IntVarP(&lines, "lines", "n", 100, "print the last N lines (0: all)")
	logs.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing what is appended, until Ctrl-C")

	cmd.AddCommand(status, start, stop, logs)
	return cmd
}

// localStatus is `local status --json`.
type localStatus struct {
	Running bool   `json:"running"`
	DataDir string `json:"data_dir"`
	Reason  string `json:"reason,omitempty"` // why a state file was ignored
	*daemon.Info
	UptimeSeconds float64 `json:"uptime_seconds,omitempty"`
}

func (c *cli) printLocalStatus(info *daemon.Info, dir string, asJSON bool, probeErr error) {
	if asJSON {
		st := localStatus{Running: info != nil, DataDir: dir, Info: info}
		var se *daemon.StaleError
		if errors.As(probeErr, &se) {
			st.Reason = se.Error()
		}
		if info != nil {
			st.UptimeSeconds = time.Since(info.StartedAt).Seconds()
		}
		writeJSON(c.stdout, st)
		return
	}
	if info == nil {
		fmt.Fprintf(c.stdout, "the local CloudConvert server is not running (data in %s)\n", dir)
		var se *daemon.StaleError
		if errors.As(probeErr, &se) {
			fmt.Fprintf(c.stdout, "(%s)\n", se.Reason)
		}
		fmt.Fprintln(c.stdout, "the next command that needs it starts it; or: cloudconvert local start")
		return
	}
	s := info.Status
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "status\trunning\n")
	fmt.Fprintf(tw, "api\t%s\n", info.APIURL())
	fmt.Fprintf(tw, "sync api\t%s\n", info.SyncURL())
	fmt.Fprintf(tw, "realtime events\t%s/socket.io/\n", info.SocketIOURL())
	fmt.Fprintf(tw, "pid\t%d\n", info.PID)
	fmt.Fprintf(tw, "data dir\t%s\n", info.DataDir)
	fmt.Fprintf(tw, "log\t%s\n", info.Log)
	fmt.Fprintf(tw, "uptime\t%s (since %s)\n", time.Since(info.StartedAt).Round(time.Second), info.StartedAt.Local().Format("2006-01-02 15:04:05"))
	if info.Version != "" {
		fmt.Fprintf(tw, "version\t%s\n", info.Version)
	}
	total := 0
	var parts []string
	for _, st := range listStatuses {
		if n := s.Jobs[st]; n > 0 {
			total += n
			parts = append(parts, fmt.Sprintf("%d %s", n, st))
		}
	}
	jobs := fmt.Sprint(total)
	if len(parts) > 0 {
		jobs += " (" + strings.Join(parts, ", ") + ")"
	}
	fmt.Fprintf(tw, "jobs\t%s\n", jobs)
	fmt.Fprintf(tw, "tasks\t%d running, %d queued\n", s.TasksRunning, s.TasksQueued)
	idle := "never by itself"
	if s.IdleTimeout != "" && s.IdleTimeout != "0s" {
		idle = fmt.Sprintf("after %s without requests or running tasks (idle for %s)", s.IdleTimeout,
			(time.Duration(s.IdleSeconds) * time.Second).String())
	}
	fmt.Fprintf(tw, "stops\t%s; now: cloudconvert local stop\n", idle)
	tw.Flush()
}

// tailLines copies the last n lines of f (all when n is 0) to w, reading
// at most what those lines need, and leaves f at its end.
func tailLines(f *os.File, w io.Writer, n int) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	start := int64(0)
	if n > 0 {
		// Read backwards in blocks until n+1 newlines are seen.
		const block = 64 << 10
		seen := 0
		pos := size
		buf := make([]byte, block)
	scan:
		for pos > 0 {
			m := min(int64(block), pos)
			pos -= m
			if _, err := f.ReadAt(buf[:m], pos); err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			for i := m - 1; i >= 0; i-- {
				if buf[i] != '\n' || pos+i == size-1 {
					continue
				}
				if seen++; seen == n {
					start = pos + i + 1
					break scan
				}
			}
		}
	}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return err
	}
	_, err = io.Copy(w, io.LimitReader(f, size-start))
	return err
}
