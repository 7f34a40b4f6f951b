package invoke_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cctoolkit/cloudconvert/accounts"
	"github.com/cctoolkit/cloudconvert/apierror"
	cloudconvert "github.com/cctoolkit/cloudconvert/generated/cloudconvert"
	"github.com/cctoolkit/cloudconvert/integration"
	"github.com/cctoolkit/cloudconvert/integration/invoke"
	"github.com/cctoolkit/cloudconvert/internal/localtest"
)

const key = "invoke-test-key-0123456789"

// setup starts the real local server and an invoker whose default account
// points at it; sync says whether the account knows the sync server's URL.
func setup(t *testing.T, o invoke.Options, sync bool) (*localtest.Server, *invoke.Invoker) {
	t.Helper()
	s := localtest.Start(t, localtest.Options{APIKey: key})
	acct := &accounts.Account{Name: accounts.DefaultName, APIKey: accounts.NewSecret(key), BaseURL: s.URL + "/v2"}
	if sync {
		acct.SyncURL = s.URL + "/sync/v2"
	}
	o.Integration = cloudconvert.Descriptor()
	o.Accounts = accounts.NewSet(acct)
	if o.PollInterval == 0 {
		o.PollInterval = 20 * time.Millisecond
	}
	inv, err := invoke.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s, inv
}

func call(t *testing.T, fn string, args string) invoke.Call {
	t.Helper()
	v, err := integration.DecodeJSON([]byte(args), integration.JSONLimits{})
	if err != nil {
		t.Fatal(err)
	}
	return invoke.Call{Function: cloudconvert.Descriptor().Function(fn), Args: v}
}

const smallJob = `{"tasks":[{"operation":"import/base64","file":"aGVsbG8=","filename":"a.txt"},{"operation":"export/url","input":"import"}]}`

func TestInvoke(t *testing.T) {
	s, inv := setup(t, invoke.Options{Policy: invoke.Headless(true)}, true)
	ctx := context.Background()
	res, err := inv.Invoke(ctx, call(t, "create_job", smallJob))
	if err != nil {
		t.Fatal(err)
	}
	var job struct{ Data struct{ ID, Status string } }
	if json.Unmarshal(res.Body, &job) != nil || res.Status != http.StatusCreated || res.Method != "POST" || !strings.HasSuffix(res.URL, "/v2/jobs") {
		t.Fatalf("create_job: %d %s %s", res.Status, res.URL, res.Body)
	}
	reqs := s.Requests()
	if len(reqs) != 1 || reqs[0].Auth != "Bearer "+key || !strings.Contains(string(reqs[0].Body), `"tasks":{"import":`) {
		t.Fatalf("the request on the wire: %+v", reqs)
	}
	res, err = inv.Invoke(ctx, call(t, "wait_job", `{"job_id":"`+job.Data.ID+`","timeout":30}`))
	if err != nil || !strings.Contains(string(res.Body), `"status":"finished"`) {
		t.Fatalf("wait_job: %v %s", err, res.Body)
	}
	// A 204 answer has no body.
	res, err = inv.Invoke(ctx, call(t, "delete_job", `{"job_id":"`+job.Data.ID+`"}`))
	if err != nil || res.Status != http.StatusNoContent || res.Body != nil {
		t.Fatalf("delete_job: %v %+v", err, res)
	}
	_, err = inv.Invoke(ctx, call(t, "get_job", `{"job_id":"`+job.Data.ID+`"}`))
	if err == nil || err.Kind != integration.KindAPI || err.Status != 404 || err.Code == "" || !errors.Is(err, apierror.ErrNotFound) {
		t.Fatalf("get_job of a deleted job: %v", err)
	}
}

// TestWaitPolls: with no URL for the sync server, a waiting function polls
// its Poll function until the job has ended.
func TestWaitPolls(t *testing.T) {
	s, inv := setup(t, invoke.Options{Policy: invoke.Headless(true)}, false)
	ctx := context.Background()
	res, err := inv.Invoke(ctx, call(t, "create_task", `{"operation":"import/upload"}`))
	if err != nil {
		t.Fatal(err)
	}
	var task struct{ Data struct{ ID string } }
	json.Unmarshal(res.Body, &task)
	s.Reset()
	// The upload never comes: the wait ends by its timeout parameter.
	_, err = inv.Invoke(ctx, call(t, "wait_task", `{"task_id":"`+task.Data.ID+`","timeout":1}`))
	if err == nil || !strings.Contains(err.Error(), "took longer than its timeout of 1s") {
		t.Fatalf("wait_task past its timeout: %v", err)
	}
	polls := 0
	for _, r := range s.Requests() {
		if strings.HasPrefix(r.Path, "/sync/") {
			t.Fatalf("the sync server was asked although the account has no URL for it: %s", r.Path)
		}
		if r.Path == "/v2/tasks/"+task.Data.ID {
			polls++
		}
	}
	if polls < 2 {
		t.Fatalf("get_task polled %d times, want several", polls)
	}
}

// TestWaitFallsBack: a sync server that answers 404 for the route is taken
// as missing: the wait polls instead.
func TestWaitFallsBack(t *testing.T) {
	s, inv := setup(t, invoke.Options{Policy: invoke.Headless(true)}, true)
	ctx := context.Background()
	res, err := inv.Invoke(ctx, call(t, "create_job", smallJob))
	if err != nil {
		t.Fatal(err)
	}
	var job struct{ Data struct{ ID string } }
	json.Unmarshal(res.Body, &job)
	s.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasPrefix(r.URL.Path, "/sync/") {
			http.Error(w, "no such route", http.StatusNotFound)
			return true
		}
		return false
	})
	res, err = inv.Invoke(ctx, call(t, "wait_job", `{"job_id":"`+job.Data.ID+`","timeout":30}`))
	if err != nil || !strings.Contains(string(res.Body), `"status":"finished"`) {
		t.Fatalf("wait_job through polling: %v %s", err, res.Body)
	}
}

func TestPolicy(t *testing.T) {
	var asked atomic.Int32
	approve := func(ok bool) invoke.Approver {
		return func(_ context.Context, req invoke.ApprovalRequest) (bool, error) {
			asked.Add(1)
			if req.Function != "cloudconvert.create_job" || req.Kind != integration.Write || req.Method != "POST" || !strings.Contains(req.Body, `"tasks"`) {
				t.Errorf("approval request: %+v", req)
			}
			return ok, nil
		}
	}
	tests := []struct {
		name     string
		policy   invoke.Policy
		approver invoke.Approver
		want     string // "" for allowed
	}{
		{"headless denies writes", invoke.Headless(false), nil, "write operations are not allowed; run with --allow-write"},
		{"ask without anyone to ask", invoke.Policy{Read: invoke.Allow, Write: invoke.Ask}, nil, "set to ask, but no one can be asked here"},
		{"ask, refused", invoke.Policy{Read: invoke.Allow, Write: invoke.Ask}, approve(false), "this call was refused"},
		{"ask, approved", invoke.Policy{Read: invoke.Allow, Write: invoke.Ask}, approve(true), ""},
		{"unset denies", invoke.Policy{Read: invoke.Allow}, nil, "not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, inv := setup(t, invoke.Options{Policy: tt.policy, Approver: tt.approver, DenyHint: "run with --allow-write"}, true)
			_, err := inv.Invoke(context.Background(), call(t, "create_job", smallJob))
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || err.Kind != integration.KindPermission || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want a permission error containing %q", err, tt.want)
			}
			if n := len(s.Requests()); n != 0 {
				t.Fatalf("a refused call sent %d requests", n)
			}
		})
	}
	if asked.Load() != 2 {
		t.Errorf("the approver was asked %d times, want 2", asked.Load())
	}
}

func TestCallJSON(t *testing.T) {
	s, inv := setup(t, invoke.Options{Policy: invoke.Headless(true)}, true)
	ctx := context.Background()
	tests := []struct {
		name string
		c    invoke.JSONCall
		want string // error text, or "" with data
	}{
		{"unknown function", invoke.JSONCall{Function: "get_jbo"}, `no such function (did you mean "get_job"?)`},
		{"not an object", invoke.JSONCall{Function: "get_job", Args: []byte(`[1]`)}, `the arguments must be a JSON object of named arguments, like {"job_id": ...}; got an array`},
		{"not JSON", invoke.JSONCall{Function: "get_job", Args: []byte(`{"job_id":`)}, "the arguments are not valid JSON"},
		{"unknown account", invoke.JSONCall{Function: "get_current_user", Account: "staging"}, `account "staging" is not configured`},
		{"extra overrides", invoke.JSONCall{Function: "list_jobs", Args: []byte(`{"per_page":500}`), Extra: map[string]any{"per_page": 5}}, ""},
		{"full name", invoke.JSONCall{Function: "cloudconvert.get_current_user"}, ""},
		{"tool name", invoke.JSONCall{Function: "cloudconvert_get_current_user"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.Reset()
			out := inv.CallJSON(ctx, tt.c)
			if tt.want == "" {
				if out.Err != nil || len(out.Data) == 0 {
					t.Fatalf("%v %s", out.Err, out.Data)
				}
				return
			}
			if out.Err == nil || !strings.Contains(out.Err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", out.Err, tt.want)
			}
			if n := len(s.Requests()); n != 0 {
				t.Fatalf("a refused call sent %d requests", n)
			}
		})
	}
	// A dry run shows the request and sends nothing.
	s.Reset()
	out := inv.CallJSON(ctx, invoke.JSONCall{Function: "create_task", Args: []byte(`{"operation":"convert","input":"t1","output_format":"pdf"}`), DryRun: true})
	if out.Err != nil || out.Method != "POST" || out.URL != s.URL+"/v2/convert" || string(out.Body) != `{"output_format":"pdf","input":"t1"}` || len(s.Requests()) != 0 {
		t.Fatalf("dry run: %v %s %s %s (%d requests)", out.Err, out.Method, out.URL, out.Body, len(s.Requests()))
	}
}

// TestSecretsRedacted: an error that echoes the key never shows it.
func TestSecretsRedacted(t *testing.T) {
	s, inv := setup(t, invoke.Options{Policy: invoke.Headless(true)}, true)
	s.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"message":"bad key ` + key + `","code":"X","errors":{"k":["` + key + `"]}}`))
		return true
	})
	out := inv.CallJSON(context.Background(), invoke.JSONCall{Function: "get_current_user"})
	b, _ := json.Marshal(out.Err.Fields())
	if out.Err == nil || strings.Contains(out.Err.Error(), key) || strings.Contains(string(b), key) || !strings.Contains(out.Err.Error(), "[redacted]") {
		t.Fatalf("the key leaked or the error is missing: %v %s", out.Err, b)
	}
}

// TestNoURLForServer: an account that points the API elsewhere knows no
// URL for another server; a plain function there says so.
func TestNoURLForServer(t *testing.T) {
	_, inv := setup(t, invoke.Options{Policy: invoke.Headless(true)}, false)
	fn := &integration.Function{}
	*fn = *cloudconvert.Descriptor().Function("get_job")
	fn.Server = cloudconvert.Descriptor().Server("sync")
	fn.Wait = nil
	_, err := inv.Invoke(context.Background(), invoke.Call{Function: fn, Args: integration.ObjectOf("job_id", "x")})
	if err == nil || err.Kind != integration.KindAccount || !strings.Contains(err.Error(), "has no URL for the sync server") {
		t.Fatalf("%v", err)
	}
}

// TestCheck: Options.Check runs after the arguments are checked and the
// policy allowed the call: its error stops the call with nothing sent; a
// call the policy refuses (denied, or asked and declined) is never checked,
// so it sends nothing at all; a passing check lets the call go.
func TestCheck(t *testing.T) {
	var checked, asked atomic.Int32
	refuse := atomic.Bool{}
	refuse.Store(true)
	o := invoke.Options{
		Policy: invoke.Policy{Read: invoke.Allow, Write: invoke.Ask},
		Approver: func(context.Context, invoke.ApprovalRequest) (bool, error) {
			asked.Add(1)
			return true, nil
		},
		Check: func(_ context.Context, p *invoke.Prepared) *integration.Error {
			checked.Add(1)
			if p.Function.Name != "create_job" || !strings.Contains(string(p.Request.Body), `"import/base64"`) {
				t.Errorf("checked %s %s", p.Function.Name, p.Request.Body)
			}
			if refuse.Load() {
				return &integration.Error{Kind: integration.KindArgument, Param: "tasks", Message: "refused key-" + key}
			}
			return nil
		},
	}
	s, inv := setup(t, o, true)
	ctx := context.Background()
	_, err := inv.Invoke(ctx, call(t, "create_job", smallJob))
	if err == nil || err.Kind != integration.KindArgument || err.FullName != "cloudconvert.create_job" || strings.Contains(err.Error(), key) ||
		err.Error() != "cloudconvert.create_job: tasks: refused key-[redacted]" {
		t.Fatalf("refused call: %v", err)
	}
	if len(s.Requests()) != 0 || asked.Load() != 1 || checked.Load() != 1 {
		t.Fatalf("a refused check: %d requests, asked %d times, checked %d times", len(s.Requests()), asked.Load(), checked.Load())
	}
	// Bad arguments never reach the check.
	if _, err := inv.Invoke(ctx, call(t, "create_job", `{"tasks":[]}`)); err == nil || checked.Load() != 1 {
		t.Fatalf("bad arguments: %v, checked %d times", err, checked.Load())
	}
	refuse.Store(false)
	if _, err := inv.Invoke(ctx, call(t, "create_job", smallJob)); err != nil || asked.Load() != 2 || len(s.Requests()) != 1 {
		t.Fatalf("a passing check: %v, asked %d, %d requests", err, asked.Load(), len(s.Requests()))
	}
	inv.SetPolicy(invoke.Headless(false))
	if _, err := inv.Invoke(ctx, call(t, "create_job", smallJob)); err == nil || err.Kind != integration.KindPermission || checked.Load() != 2 {
		t.Fatalf("denied call: %v, checked %d times", err, checked.Load())
	}
}
