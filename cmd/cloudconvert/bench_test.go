package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/cctoolkit/cloudconvert/internal/benchpair"
)

// BenchmarkCommand is a command's own cost in the process (what differs
// between commands; process start and package initialization are the
// same for all). BenchmarkProcess is the whole-process figure.
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

// BenchmarkCLIEnv names a cloudconvert binary for BenchmarkProcess to run
// (make bench builds one); without it the benchmark builds one itself.
const BenchmarkCLIEnv = "CCTOOLKIT_BENCH_CLI"

// BenchmarkProcess measures the whole-process time of
// `cloudconvert lua -e 'print(1)'` against its floor, `cloudconvert
// functions`, both run as a user runs them: the built binary started as a
// process (exec, the runtime's start, package initialization, the command,
// exit), with an empty accounts file and no local server. functions is the
// floor because it is the cheapest command that loads the descriptor and
// prints from it; lua -e adds a sandboxed Lua state and one script, so
// lua-print/functions is what starting Lua costs a user (target <= 1.3).
// The two run in turn in every iteration (benchpair).
func BenchmarkProcess(b *testing.B) {
	bin := os.Getenv(BenchmarkCLIEnv)
	if bin == "" {
		bin = buildCLI(b)
	}
	env, _ := localEnv(b)
	cfg := emptyConfig(b)
	var environ []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CLOUDCONVERT_") {
			environ = append(environ, kv)
		}
	}
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	run := func(want string, args ...string) func() {
		return func() {
			cmd := exec.Command(bin, append(args, "--config", cfg)...)
			cmd.Env = environ
			out, err := cmd.Output()
			if err != nil || !strings.Contains(string(out), want) {
				b.Fatalf("%s %v: %v\n%s", bin, args, err, out)
			}
		}
	}
	benchpair.Run(b,
		benchpair.Side{Name: "functions", Run: run("get_job", "functions")},
		benchpair.Side{Name: "lua-print", Run: run("1", "lua", "-e", "print(1)")},
	)
}

// buildCLI builds the command once into the benchmark's directory. The Go
// build cache is the one go test itself uses (this test binary points
// XDG_CACHE_HOME at a temporary directory, which is not it).
func buildCLI(b *testing.B) string {
	b.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(b.TempDir(), "cloudconvert")
	cmd := exec.Command(gobin, "build", "-o", bin, ".")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "XDG_CACHE_HOME=") && !strings.HasPrefix(kv, asCLI+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
