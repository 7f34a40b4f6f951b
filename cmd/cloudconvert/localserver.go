package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/cctoolkit/cloudconvert/accounts"
	"github.com/cctoolkit/cloudconvert/localserver"
)

// localDataDir is where the embedded server keeps its state by default.
func localDataDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "cloudconvert", "local-server")
}

// startEmbedded starts the local server on a loopback port. When the
// default data directory is used by another process, a temporary one is
// used instead (and removed at stop).
func startEmbedded(ctx context.Context, stderr io.Writer) (*localserver.Server, func(), error) {
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg := localserver.Config{DataDir: localDataDir(), Addr: "127.0.0.1:0", Logger: logger}
	srv, err := localserver.Start(ctx, cfg)
	cleanupDir := func() {}
	if err != nil && localserver.IsLocked(err) {
		tmp, terr := os.MkdirTemp("", "cloudconvert-local-")
		if terr != nil {
			return nil, nil, err
		}
		cfg.DataDir = tmp
		cfg.EngineOptions.PDFiumCacheDir = filepath.Join(localDataDir(), "wazero-cache")
		cleanupDir = func() { os.RemoveAll(tmp) }
		srv, err = localserver.Start(ctx, cfg)
	}
	if err != nil {
		cleanupDir()
		return nil, nil, fmt.Errorf("starting the embedded local server: %w", err)
	}
	return srv, func() { srv.Close(); cleanupDir() }, nil
}

func embeddedAccount(srv *localserver.Server) *accounts.Account {
	return &accounts.Account{Name: accounts.DefaultName, APIKey: accounts.NewSecret(localserver.DefaultAPIKey),
		BaseURL: srv.APIURL(), SyncURL: srv.SyncURL(), Source: "embedded local server"}
}
