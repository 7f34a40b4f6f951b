package luaruntime

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"github.com/cctoolkit/cloudconvert/accounts"
	"github.com/cctoolkit/cloudconvert/generated/cloudconvert/client"
	"github.com/cctoolkit/cloudconvert/luaruntime/bind"
)

// loopback answers GET /v2/jobs/{id} with the recorded job, nothing else.
func loopback(b *testing.B) *httptest.Server {
	job := fixture(b, "job.json")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(job)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkGetJob compares a Lua get_job (validation, policy, request,
// response into Lua tables) with the generated Go client's GetJobWithResponse
// (which decodes into the generated types) against the same server.
func BenchmarkGetJob(b *testing.B) {
	srv := loopback(b)
	b.Run("impl=lua", func(b *testing.B) {
		rt, err := New(Options{Accounts: accounts.NewSet(&accounts.Account{Name: "default", APIKey: accounts.NewSecret(testKey), BaseURL: srv.URL + "/v2"})})
		if err != nil {
			b.Fatal(err)
		}
		x := &exec{r: rt, ctx: context.Background()}
		x.L = rt.newState()
		defer x.L.Close()
		x.install()
		fn, err := x.L.LoadString(`return app.integrations.cloudconvert.get_job({job_id = "6559c281-ed85-4728-80db-414561c631e9"})`)
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for b.Loop() {
			x.L.Push(fn)
			if err := x.L.PCall(0, 1, nil); err != nil {
				b.Fatal(err)
			}
			x.L.Pop(1)
			x.calls = x.calls[:0]
		}
	})
	b.Run("impl=goclient", func(b *testing.B) {
		c, err := client.NewClientWithResponses(srv.URL+"/v2", client.WithHTTPClient(&http.Client{}))
		if err != nil {
			b.Fatal(err)
		}
		auth := func(_ context.Context, r *http.Request) error {
			r.Header.Set("Authorization", "Bearer "+testKey)
			return nil
		}
		b.ResetTimer()
		for b.Loop() {
			resp, err := c.GetJobWithResponse(context.Background(), "6559c281-ed85-4728-80db-414561c631e9", auth)
			if err != nil || resp.JSON200 == nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkNewState compares the runtime's state (safe libraries, bridge,
// protections) with a bare gopher-lua state with the same libraries.
func BenchmarkNewState(b *testing.B) {
	rt, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("impl=runtime", func(b *testing.B) {
		for b.Loop() {
			x := &exec{r: rt, ctx: context.Background()}
			x.L = rt.newState()
			x.install()
			x.L.Close()
		}
	})
	b.Run("impl=bare", func(b *testing.B) {
		for b.Loop() {
			L := lua.NewState(lua.Options{SkipOpenLibs: true, CallStackSize: rt.lim.CallStackSize, RegistrySize: 1024 * 4, RegistryMaxSize: rt.lim.RegistryMaxSize, MinimizeStackMemory: true})
			OpenSafeLibs(L)
			L.Close()
		}
	})
}

// hundredTasks is a TaskList with 100 tasks made from the recorded task.
func hundredTasks(b *testing.B) []byte {
	var one struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(fixture(b, "task.json"), &one); err != nil {
		b.Fatal(err)
	}
	items := make([]string, 100)
	for i := range items {
		items[i] = string(one.Data)
	}
	return []byte(fmt.Sprintf(`{"data":[%s],"links":{"first":"https://api.cloudconvert.com/v2/tasks?page=1","last":null,"prev":null,"next":null},"meta":{"current_page":1,"from":1,"path":"https://api.cloudconvert.com/v2/tasks","per_page":100,"to":100}}`, strings.Join(items, ",")))
}

// BenchmarkTaskList100 compares a 100-task list response into Lua tables
// with encoding/json into map[string]any.
func BenchmarkTaskList100(b *testing.B) {
	data := hundredTasks(b)
	rt, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	schema := rt.in.Function("list_tasks").Response
	b.Run("impl=lua", func(b *testing.B) {
		L := lua.NewState(lua.Options{SkipOpenLibs: true})
		defer L.Close()
		d := bind.Decoder{L: L, ArrayMeta: L.NewTable()}
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := d.Decode(data, schema); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=encoding_json", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var m map[string]any
			if err := json.Unmarshal(data, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
