package main

import (
	"context"
	"fmt"

	"github.com/cctoolkit/cloudconvert/accounts"
)

// defaultAccountEndpoint is asked for the default account when none is
// configured (no CLOUDCONVERT_API_KEY, no default in the config file).
//
// It starts the embedded local CloudConvert server on a loopback port,
// returns an account pointing at it and a func that stops it, and says so
// on stderr.
func defaultAccountEndpoint(ctx context.Context, c *cli) (*accounts.Account, func(), error) {
	srv, stop, err := startEmbedded(ctx, c.stderr)
	if err != nil {
		return nil, func() {}, err
	}
	fmt.Fprintf(c.stderr, "cloudconvert: no API key configured; using the embedded local CloudConvert server at %s (sync %s, data in %s)\n",
		srv.APIURL(), srv.SyncURL(), srv.DataDir())
	return embeddedAccount(srv), stop, nil
}
