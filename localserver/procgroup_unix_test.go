//go:build unix

package localserver

import (
	"os/exec"
	"syscall"
)

// ownGroup runs cmd in its own process group and, when its context ends,
// kills the whole group: node's test runner starts a child per file that
// would otherwise outlive a killed parent.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}
