package main

import (
	"context"

	"github.com/cctoolkit/cloudconvert/accounts"
)

// defaultAccountEndpoint is asked for the default account when none is
// configured (no CLOUDCONVERT_API_KEY, no default in the config file).
//
// This is the one hook for the embedded local server: it will start the
// server, return an account pointing at it (BaseURL/SyncURL and a local
// key), a func that stops it, and tell the user on stderr that it did so.
// Until then it returns no account, and calls fail with a message saying
// to set CLOUDCONVERT_API_KEY.
func defaultAccountEndpoint(ctx context.Context, c *cli) (*accounts.Account, func(), error) {
	return nil, func() {}, nil
}
