package main

import (
	"io"
	"strings"
	"testing"
)

// BenchmarkCommand is a command's own cost in the process (what differs
// between commands; process start and package initialization are the
// same for all). `lua -e 'print(1)'` starts no server, so it should cost
// about what `functions` does: compare with benchstat.
func BenchmarkCommand(b *testing.B) {
	env, _ := localEnv(b)
	cfg := emptyConfig(b)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"functions", []string{"functions"}},
		{"lua-print", []string{"lua", "-e", "print(1)"}},
		{"call-dry-run", []string{"call", "get_current_user", "--dry-run"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			args := append(c.args, "--config", cfg)
			for b.Loop() {
				if code := Main(args, strings.NewReader(""), io.Discard, io.Discard, getenvOf(env), environOf(env)); code != 0 {
					b.Fatalf("%v: exit %d", c.args, code)
				}
			}
		})
	}
}
