package luaruntime

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cctoolkit/cloudconvert/accounts"
	"github.com/cctoolkit/cloudconvert/integration"
	"github.com/cctoolkit/cloudconvert/integration/invoke"
	"github.com/cctoolkit/cloudconvert/internal/localtest"
	"github.com/cctoolkit/cloudconvert/localserver"
)

// TestAccountPermissions: an account's permissions from the accounts file
// decide for its calls in place of the policy, and no namespace or Lua
// trick gets around them: the default account and an alias with
// production's key are production for the policy, cached functions and
// pcall change nothing. Against the local server, whose users tell which
// key a request used.
func TestAccountPermissions(t *testing.T) {
	const prodKey, stagingKey, carefulKey = "sk-prod-SECRET-000000001", "sk-staging-SECRET-000000002", "sk-careful-SECRET-00000003"
	api := localtest.Start(t, localtest.Options{PDFiumCacheDir: pdfiumCache, Users: []localserver.UserConfig{
		{ID: 1, Username: "prod", Email: "prod@localhost", Credits: 100, APIKeys: []string{prodKey}},
		{ID: 2, Username: "staging", Email: "staging@localhost", Credits: 100, APIKeys: []string{stagingKey}},
		{ID: 3, Username: "careful", Email: "careful@localhost", Credits: 100, APIKeys: []string{carefulKey}},
	}})
	acct := func(name, key string, p *accounts.Permissions) *accounts.Account {
		return &accounts.Account{Name: name, APIKey: accounts.NewSecret(key), BaseURL: api.URL + "/v2", SyncURL: api.URL + "/sync/v2",
			Source: "config file accounts.yaml", Permissions: p}
	}
	set := accounts.NewSet(
		acct(accounts.DefaultName, prodKey, nil), // e.g. CLOUDCONVERT_API_KEY set to production's key
		acct("production", prodKey, &accounts.Permissions{Write: accounts.Deny}),
		acct("alias", prodKey, nil),
		acct("staging", stagingKey, &accounts.Permissions{Write: accounts.Allow}),
		acct("careful", carefulKey, &accounts.Permissions{Write: accounts.Ask}),
	)
	var asked []invoke.ApprovalRequest
	answer := false
	rt := newTestRuntime(t, api.URL, rtOptions{accounts: set, policy: invoke.Headless(false), denyHint: "run with --allow-write",
		approver: func(_ context.Context, r invoke.ApprovalRequest) (bool, error) {
			asked = append(asked, r)
			return answer, nil
		}})
	if !rt.Invoker().MayAllow(integration.Write) {
		t.Error("MayAllow(Write) is false although staging allows writes")
	}
	job := `{tasks = {{operation = "import/base64", file = "eA==", filename = "a.txt"}}}`
	sameKey := `write operations of the account "%s" are not allowed; the permissions of the account "production", which has the same API key (config file accounts.yaml) decide this, not the command line: change permissions.write there to allow it`
	own := `write operations of the account "production" are not allowed; its permissions (config file accounts.yaml) decide this, not the command line: change permissions.write there to allow it`
	for _, tc := range []struct {
		name, code, err string
	}{
		{"default namespace", `cc.create_job(` + job + `)`, strings.Replace(sameKey, "%s", "default", 1)},
		{"explicit default", `cc.default.create_job(` + job + `)`, strings.Replace(sameKey, "%s", "default", 1)},
		{"production", `cc.production.create_job(` + job + `)`, own},
		{"alias of the key", `cc.alias.create_job(` + job + `)`, strings.Replace(sameKey, "%s", "alias", 1)},
		{"cached and pcalled", `local f = cc.production.delete_job; local ok, e = pcall(f, {job_id = "x"}); error(e)`, own},
		{"through another function value", `local t = {run = cc["alias"]["create_task"]}; t.run({operation = "import/upload"})`, strings.Replace(sameKey, "%s", "alias", 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api.Reset()
			res := rt.Execute(context.Background(), "local cc = app.integrations.cloudconvert\n"+tc.code)
			be, ok := integration.AsError(res.Error)
			if !ok || be.Kind != integration.KindPermission || !strings.Contains(be.Message, tc.err) {
				t.Fatalf("got %v\nwant %s", res.Error, tc.err)
			}
			if reqs := api.Requests(); len(reqs) != 0 {
				t.Fatalf("a refused write was sent: %+v", reqs)
			}
		})
	}
	t.Run("reads are the policy's", func(t *testing.T) {
		res := rt.Execute(context.Background(), `return app.integrations.cloudconvert.production.get_current_user({}).data.username`)
		if res.Error != nil || res.Values[0] != "prod" {
			t.Fatalf("%v %v", res.Values, res.Error)
		}
	})
	t.Run("staging allows writes the policy denies", func(t *testing.T) {
		api.Reset()
		res := rt.Execute(context.Background(), `return app.integrations.cloudconvert.staging.create_job(`+job+`).data.id`)
		if res.Error != nil {
			t.Fatal(res.Error)
		}
		reqs := api.Requests()
		if len(reqs) != 1 || reqs[0].Status != http.StatusCreated || reqs[0].Auth != "Bearer "+stagingKey {
			t.Fatalf("requests %+v", reqs)
		}
	})
	t.Run("careful asks", func(t *testing.T) {
		api.Reset()
		res := rt.Execute(context.Background(), `app.integrations.cloudconvert.careful.create_job(`+job+`)`)
		if be, ok := integration.AsError(res.Error); !ok || be.Kind != integration.KindPermission || !strings.Contains(be.Message, `write operations of the account "careful" are set to ask, and this call was refused`) {
			t.Fatalf("refused: %v", res.Error)
		}
		answer = true
		if res := rt.Execute(context.Background(), `return app.integrations.cloudconvert.careful.create_job(`+job+`).data.id`); res.Error != nil {
			t.Fatalf("approved: %v", res.Error)
		}
		if len(asked) != 2 || asked[0].Account != "careful" || asked[0].Function != "cloudconvert.create_job" || asked[0].Method != http.MethodPost {
			t.Fatalf("asked %+v", asked)
		}
		if reqs := api.Requests(); len(reqs) != 1 || reqs[0].Auth != "Bearer "+carefulKey {
			t.Fatalf("requests %+v", reqs)
		}
	})
}

// TestReadDocTool: lua_read_doc takes page (KosmoKrator's name) and still
// name.
func TestReadDocTool(t *testing.T) {
	rt := newTestRuntime(t, "http://127.0.0.1:1", rtOptions{})
	var tool Tool
	for _, tl := range rt.Tools() {
		if tl.Name == "lua_read_doc" {
			tool = tl
		}
	}
	if !strings.Contains(string(tool.InputSchema), `"page"`) {
		t.Fatalf("schema %s", tool.InputSchema)
	}
	for _, tc := range []struct {
		args, want, err string
	}{
		{`{"page": "cloudconvert.errors"}`, "# CloudConvert Errors", ""},
		{`{"page": "errors"}`, "# CloudConvert Errors", ""},
		{`{"name": "get_job"}`, "# cloudconvert.get_job", ""},
		{`{"page": "get_job", "name": "get_job"}`, "# cloudconvert.get_job", ""},
		{`{"page": "get_job", "name": "list_jobs"}`, "", `got page "get_job" and name "list_jobs"; give one`},
		{`{}`, "", `needs the page, as {"page": "..."}`},
		{`{"page": "nope"}`, "", `no docs page "nope"`},
	} {
		text, err := tool.Handle(context.Background(), []byte(tc.args))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: %v, want %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil || !strings.HasPrefix(text, tc.want) {
			t.Errorf("%s: %q %v", tc.args, text[:min(len(text), 60)], err)
		}
	}
}

// TestTimeLimitStopsWhileAsking: the time a person takes to answer does
// not count against the script's time limit; the rest of the script's
// time does.
func TestTimeLimitStopsWhileAsking(t *testing.T) {
	api := newLocalAPI(t)
	var deadlines []time.Duration
	rt := newTestRuntime(t, api.URL, rtOptions{
		policy: invoke.Policy{Read: invoke.Allow, Write: invoke.Ask},
		limits: Limits{Timeout: 500 * time.Millisecond},
		approver: func(ctx context.Context, _ invoke.ApprovalRequest) (bool, error) {
			time.Sleep(time.Second) // twice the limit
			if dl, ok := ctx.Deadline(); ok {
				deadlines = append(deadlines, time.Until(dl))
			}
			return true, nil
		},
	})
	job := `{tasks = {{operation = "import/base64", file = "eA==", filename = "a.txt"}}}`
	res := rt.Execute(context.Background(), `return app.integrations.cloudconvert.create_job(`+job+`).data.status`)
	if res.Error != nil {
		t.Fatalf("the answer's time counted: %v", res.Error)
	}
	if len(deadlines) != 1 || deadlines[0] <= 0 {
		t.Errorf("the deadline seen while asking: %v", deadlines)
	}
	// After the answer, the clock runs again.
	res = rt.Execute(context.Background(), `app.integrations.cloudconvert.create_job(`+job+`) while true do end`)
	if se, ok := res.Error.(*ScriptError); !ok || se.Kind != "timeout" {
		t.Fatalf("a loop after the answer: %v", res.Error)
	}
}
