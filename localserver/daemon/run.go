package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/cctoolkit/cloudconvert/localserver"
)

// RunOptions configure Run.
type RunOptions struct {
	// Version is recorded in the state file (for `local status`).
	Version string
	// LockWait bounds the wait for a server that is still stopping to
	// release the data directory; default 15 s.
	LockWait time.Duration
}

// Run is the background server's body: it listens on the data
// directory's recorded loopback address (a new port when that one is
// taken), serves cfg (localserver.DefaultAPIKey; cfg.Addr is ignored),
// records its state, and serves until ctx ends or the server has been idle
// for cfg.IdleTimeout. It then removes the state file and closes the
// server (running tasks resume at the next start).
func Run(ctx context.Context, cfg localserver.Config, o RunOptions) error {
	if cfg.APIKey != "" || len(cfg.Users) > 0 {
		return errors.New("a background server uses the default API key; run `cloudconvert serve` in the foreground for another key")
	}
	dir, err := absDir(cfg.DataDir)
	if err != nil {
		return err
	}
	cfg.DataDir = dir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	// A server that is stopping (idle, or `local stop`) releases the data
	// and then the port: wait for it rather than take a new port.
	wait := o.LockWait
	if wait <= 0 {
		wait = 15 * time.Second
	}
	deadline := time.Now().Add(wait)
	for localserver.DataDirInUse(dir) {
		if time.Now().After(deadline) {
			return fmt.Errorf("the data directory %s is in use by another server (a `cloudconvert serve` in the foreground?); stop it, or give this one another --data-dir", dir)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	ln, addr, err := listenStable(dir, log)
	if err != nil {
		return err
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = "http://" + addr
	}
	srv, err := localserver.New(ctx, cfg)
	if err != nil {
		ln.Close()
		return err
	}
	srv.Serve(ln)
	if old, _ := recordedAddress(dir); old != addr {
		if err := writeFileAtomic(filepath.Join(dir, AddressFile), []byte(addr+"\n")); err != nil {
			log.Warn("daemon: recording the address", "err", err)
		}
	}
	st := State{PID: os.Getpid(), URL: srv.URL(), DataDir: dir, StartedAt: time.Now().UTC().Truncate(time.Millisecond),
		Version: o.Version, Log: LogPath(dir)}
	b, _ := json.MarshalIndent(st, "", "  ")
	if err := writeFileAtomic(StatePath(dir), b); err != nil {
		srv.Close()
		return fmt.Errorf("writing the state file: %w", err)
	}
	log.Info("background server ready", "url", st.URL, "pid", st.PID, "data", dir, "idle_timeout", cfg.IdleTimeout.String())
	select {
	case <-ctx.Done():
		log.Info("stopping: asked to")
	case <-srv.Idle():
		log.Info("stopping: idle", "for", cfg.IdleTimeout.String())
	}
	// No new client may find this server from now on.
	removeState(dir, st.PID)
	err = srv.Close()
	log.Info("stopped")
	return err
}

// listenStable listens on the recorded address, else on a free loopback
// port.
func listenStable(dir string, log *slog.Logger) (net.Listener, string, error) {
	if a, ok := recordedAddress(dir); ok {
		ln, err := net.Listen("tcp", a)
		if err == nil {
			return ln, a, nil
		}
		log.Warn("the recorded address is taken; listening on a new port (links to the old one no longer work)", "address", a, "err", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", fmt.Errorf("listen: %w", err)
	}
	return ln, ln.Addr().String(), nil
}
