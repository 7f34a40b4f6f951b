package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/cctoolkit/cloudconvert/internal/benchpair"
	"github.com/cctoolkit/cloudconvert/sdk"
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

// BenchmarkConvert40PNG converts 40 small PNGs to JPG against the local
// server (in process) two ways, in turn in each iteration (benchpair), and
// reports both and their ratio convert/base64:
//
//   - convert: the convert command (in process, -q): 40 uploads, the job,
//     40 downloads, --parallel at once (the sub-benchmark's; 4 is the
//     default, 1 is the sequential flow it replaced);
//   - base64: the same job created through the API with the files inline
//     (import/base64) and no client-side transfer at all: create, wait.
//
// The floor is the server's own work on the job, which no client can go
// below; the base64 job is that work plus nothing on the client, so the
// ratio says what moving the files costs (target <= 1.5). It can come out
// below 1: on the local server an upload is stored by its request, while
// each import/base64 task takes a turn on the task workers, so the
// reference does 40 tasks more. Compare runs with benchstat; the machine is
// shared, so take several (-count).
func BenchmarkConvert40PNG(b *testing.B) {
	be := newLocalBackend(b)
	src, err := os.ReadFile(filepath.Join(writeInputs(b), "a.png"))
	if err != nil {
		b.Fatal(err)
	}
	in := b.TempDir()
	var files []string
	tasks := map[string]sdk.TaskDefinition{}
	var converts []string
	for i := range 40 {
		name := fmt.Sprintf("p%02d.png", i)
		files = append(files, filepath.Join(in, name))
		if err := os.WriteFile(files[i], src, 0o644); err != nil {
			b.Fatal(err)
		}
		imp, conv := fmt.Sprintf("import-%d", i), fmt.Sprintf("convert-%d", i)
		tasks[imp] = sdk.TaskDef("import/base64", map[string]any{"file": base64.StdEncoding.EncodeToString(src), "filename": name})
		tasks[conv] = sdk.TaskDef("convert", map[string]any{"output_format": "jpg"}, imp)
		converts = append(converts, conv)
	}
	tasks["export"] = sdk.TaskDef("export/url", nil, converts...)
	cl := be.client(b)
	env := be.environ()
	cfg := emptyConfig(b)
	ctx := context.Background()
	for _, parallel := range []int{sdk.DefaultParallel, 1} {
		b.Run(fmt.Sprintf("parallel=%d", parallel), func(b *testing.B) {
			convert := func() {
				out := b.TempDir()
				args := append([]string{"convert", "--to", "jpg", "-o", out, "-q", "--parallel", strconv.Itoa(parallel), "--config", cfg}, files...)
				var errb strings.Builder
				if code := Main(args, strings.NewReader(""), io.Discard, &errb, getenvOf(env), environOf(env)); code != 0 {
					b.Fatalf("convert: exit %d: %s", code, errb.String())
				}
			}
			inline := func() {
				job, err := cl.CreateJob(ctx, sdk.NewJob("bench-base64", tasks))
				if err != nil {
					b.Fatal(err)
				}
				if done, err := cl.WaitJob(ctx, job.Id, nil); err != nil || len(sdk.ExportFiles(done)) != 40 {
					b.Fatalf("base64 job: %v", err)
				}
			}
			convert() // warm up both: connections, engines
			inline()
			benchpair.Run(b, benchpair.Side{Name: "base64", Run: inline}, benchpair.Side{Name: "convert", Run: convert})
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
