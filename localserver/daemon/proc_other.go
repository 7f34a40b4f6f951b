//go:build !unix

package daemon

import (
	"context"
	"os"
	"os/exec"
)

// detach: the server is a plain child process here.
func detach(cmd *exec.Cmd) {}

// terminate kills pid (there is no SIGTERM here).
func terminate(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

// alive says whether pid is a live process.
func alive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	p.Release()
	return true
}

// lockFile: no start lock here; localserver's data directory lock still
// keeps a second server off the data.
func lockFile(ctx context.Context, path string) (func(), error) { return func() {}, nil }
