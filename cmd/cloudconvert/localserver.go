package main

import (
	"os"
	"path/filepath"
)

// localDataDir is where the local server keeps its state:
// $CLOUDCONVERT_DATA_DIR, else <user cache dir>/cloudconvert/local-server.
func (c *cli) localDataDir() string {
	if d := c.getenv("CLOUDCONVERT_DATA_DIR"); d != "" {
		if abs, err := filepath.Abs(d); err == nil {
			return abs
		}
		return d
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "cloudconvert", "local-server")
}
