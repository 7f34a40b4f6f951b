package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	fp "github.com/cctoolkit/cloudconvert/internal/faultproxy"
	"github.com/cctoolkit/cloudconvert/sdk"
)

// TestResilience shows what issue 10 asks of the commands agents use:
// `call` and `lua` go through the one transport, so reads survive rate
// limiting and dropped connections, a write that may have been done is
// never sent twice and says so, and arguments outside the spec's limits
// are refused before any request. The CLI runs in-process against the
// local server, through a proxy that injects the faults.
func TestResilience(t *testing.T) {
	b := newLocalBackend(t)
	proxy := fp.New(t, b.env["CLOUDCONVERT_BASE_URL"])
	env := func() map[string]string {
		return map[string]string{"CLOUDCONVERT_API_KEY": key, "CLOUDCONVERT_BASE_URL": proxy.URL + "/v2"}
	}
	seed, err := b.client(t).CreateJob(context.Background(), sdk.NewJob("issue10-seed", map[string]sdk.TaskDefinition{"upload": sdk.TaskDef("import/upload", nil)}))
	if err != nil {
		t.Fatal(err)
	}

	reads := []struct {
		name, method, path string
		args               []string
		out                string
	}{
		{"call get_current_user", "GET", "/v2/users/me", []string{"call", "get_current_user"}, `"username": "local"`},
		{"lua list_jobs", "GET", "/v2/jobs", []string{"lua", "-e", "dump(app.integrations.cloudconvert.list_jobs({}))"}, `id = "` + seed.Id + `"`},
	}
	faults := []struct {
		name     string
		faults   []fp.Fault
		requests int           // that reached the proxy
		minTaken time.Duration // Retry-After: 1, twice
	}{
		{"429 Retry-After 1 twice", []fp.Fault{fp.TooMany, fp.TooMany}, 3, 1800 * time.Millisecond},
		{"first connection reset", []fp.Fault{fp.ResetBefore}, 2, 0},
	}
	for _, r := range reads {
		for _, f := range faults {
			t.Run(r.name+"/"+f.name, func(t *testing.T) {
				proxy.Plan(r.method+" "+r.path, false, f.faults...)
				proxy.Forget()
				start := time.Now()
				code, stdout, stderr := run(t, env(), r.args...)
				taken := time.Since(start)
				if code != 0 || !strings.Contains(stdout, r.out) {
					t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
				}
				if n := proxy.Count(r.method, r.path); n != f.requests {
					t.Errorf("%d requests reached the proxy, want %d: %v", n, f.requests, proxy.Seen())
				}
				if taken < f.minTaken {
					t.Errorf("took %s: Retry-After was not honoured", taken)
				}
			})
		}
	}

	// A create_job answered 502 after the local server created the job:
	// not sent again, exactly one job made, and the error says the outcome
	// is unknown.
	writes := []struct {
		name string
		args []string
		// check reads the error from stdout (--json) or stderr.
		check func(t *testing.T, stdout, stderr string)
	}{
		{"call", []string{"call", "create_job", `{"tag":"issue10","tasks":[{"operation":"import/upload"}]}`, "--allow-write"},
			func(t *testing.T, stdout, stderr string) {
				if !isOneLine(stderr) || !strings.HasPrefix(stderr, "cloudconvert: cloudconvert.create_job: 502: ") || !strings.Contains(stderr, "the outcome is unknown") {
					t.Errorf("stderr %q", stderr)
				}
			}},
		{"call --json", []string{"call", "create_job", `{"tag":"issue10","tasks":[{"operation":"import/upload"}]}`, "--allow-write", "--json"},
			func(t *testing.T, stdout, stderr string) {
				var env struct {
					Success bool
					Error   map[string]any
				}
				if err := json.Unmarshal([]byte(stdout), &env); err != nil || env.Success || env.Error["outcome_unknown"] != true || env.Error["status"] != float64(502) || env.Error["kind"] != "api_error" {
					t.Errorf("envelope %s (%v)", stdout, err)
				}
			}},
		{"lua", []string{"lua", "--allow-write", "-e", `app.integrations.cloudconvert.create_job({tag = "issue10", tasks = {{operation = "import/upload"}}})`},
			func(t *testing.T, stdout, stderr string) {
				if !strings.Contains(stderr, "cloudconvert.create_job: 502: ") || !strings.Contains(stderr, "the outcome is unknown") {
					t.Errorf("stderr %q", stderr)
				}
			}},
		{"lua pcall", []string{"lua", "--allow-write", "-e", `local ok, e = pcall(app.integrations.cloudconvert.create_job, {tag = "issue10", tasks = {{operation = "import/upload"}}})
print(ok, e.status, e.outcome_unknown)`},
			func(t *testing.T, stdout, stderr string) {
				if stdout != "false\t502\ttrue\n" {
					t.Errorf("stdout %q, stderr %q", stdout, stderr)
				}
			}},
	}
	for _, w := range writes {
		t.Run("create_job 502 after the write/"+w.name, func(t *testing.T) {
			before := b.jobCount(t)
			proxy.Plan("POST /v2/jobs", false, fp.BadGatewayAfter)
			proxy.Forget()
			code, stdout, stderr := run(t, env(), w.args...)
			wantCode := exitFailure
			if w.name == "lua pcall" {
				wantCode = exitOK
			}
			if code != wantCode {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, wantCode, stdout, stderr)
			}
			w.check(t, stdout, stderr)
			if n := proxy.Count("POST", "/v2/jobs"); n != 1 {
				t.Errorf("create_job was sent %d times", n)
			}
			if n := b.jobCount(t) - before; n != 1 {
				t.Errorf("%d jobs were created, want exactly 1", n)
			}
		})
	}

	// Limits of the spec are checked before anything is sent.
	for _, args := range [][]string{
		{"call", "list_jobs", `{"per_page":101}`},
		{"lua", "-e", `app.integrations.cloudconvert.list_jobs({per_page = 101})`},
	} {
		t.Run("per_page 101/"+args[0], func(t *testing.T) {
			proxy.Plan("GET /v2/jobs", false)
			proxy.Forget()
			code, stdout, stderr := run(t, env(), args...)
			if code == 0 || !strings.Contains(stderr, "cloudconvert.list_jobs: per_page: must be at most 100, got 101") {
				t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
			if seen := proxy.Seen(); len(seen) != 0 {
				t.Errorf("requests were sent: %v", seen)
			}
		})
	}
}
