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

	"github.com/cctoolkit/cloudconvert/generated/cloudconvert/client"
	"github.com/cctoolkit/cloudconvert/integration/transport"
)

const benchJobID = "6559c281-ed85-4728-80db-414561c631e9"

// bytesServer answers every request with the recorded GET /v2/jobs/{id}
// response, so that the benchmarks below measure the client side only.
func bytesServer(b *testing.B) *httptest.Server {
	job := fixture(b, "job.json")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(job)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkGetJob measures what a Lua get_job costs over the same call
// from Go, against the same loopback server that writes the recorded job's
// bytes (so the server's own cost is the same small constant in each).
//
//   - impl=lua: app.integrations.cloudconvert.get_job from a loaded script:
//     argument check against the descriptor, policy, the request through
//     the project's transport, the body read and decoded into Lua tables
//     (schema-directed: empty [] as {} where an object is wanted).
//   - impl=goclient_map, the floor: the generated client's GetJob through
//     the same transport, the body read and decoded with encoding/json
//     into map[string]any. It does the same depth of work (one request,
//     the whole body into generic values) and nothing Lua-specific, so
//     lua/goclient_map is what the Lua layer costs.
//   - impl=goclient_typed, beside it and labelled so: GetJobWithResponse
//     decoding into oapi-codegen's typed structs. Typed decoding is a
//     different (and costlier) piece of work, so it is no floor; it shows
//     what a Go user of the typed client pays.
func BenchmarkGetJob(b *testing.B) {
	srv := bytesServer(b)
	b.Run("impl=lua", func(b *testing.B) {
		rt := newTestRuntime(b, srv.URL, rtOptions{})
		x := &exec{r: rt, ctx: context.Background()}
		x.L = rt.newState()
		defer x.L.Close()
		x.install()
		fn, err := x.L.LoadString(`return app.integrations.cloudconvert.get_job({job_id = "` + benchJobID + `"})`)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			x.L.Push(fn)
			if err := x.L.PCall(0, 1, nil); err != nil {
				b.Fatal(err)
			}
			if _, ok := x.L.Get(-1).(*lua.LTable); !ok {
				b.Fatalf("get_job returned %v", x.L.Get(-1))
			}
			x.L.Pop(1)
			x.calls = x.calls[:0]
		}
	})
	// The Go client sends through the same transport the invoker builds.
	hc := transport.New(transport.Options{UserAgent: "luaruntime-test", Secrets: []string{testKey}}).Client()
	auth := func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+testKey)
		r.Header.Set("Accept", "application/json")
		return nil
	}
	b.Run("impl=goclient_map", func(b *testing.B) {
		c, err := client.NewClient(srv.URL+"/v2", client.WithHTTPClient(hc))
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			resp, err := c.GetJob(context.Background(), benchJobID, auth)
			if err != nil {
				b.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Fatalf("%d %v", resp.StatusCode, err)
			}
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil || m["data"] == nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=goclient_typed", func(b *testing.B) {
		c, err := client.NewClientWithResponses(srv.URL+"/v2", client.WithHTTPClient(hc))
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			resp, err := c.GetJobWithResponse(context.Background(), benchJobID, auth)
			if err != nil || resp.JSON200 == nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkNewState measures what making a script's state costs: the
// runtime's (safe libraries, the bridge, the protected globals) against
// the floor, a bare gopher-lua state with the same safe libraries and
// options, which any sandbox of gopher-lua needs at least.
func BenchmarkNewState(b *testing.B) {
	rt := newTestRuntime(b, "http://127.0.0.1:1", rtOptions{})
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

// BenchmarkTaskList100 measures decoding a 100-task list response into Lua
// tables (JSONDecoder, directed by list_tasks' response schema) against
// the floor, encoding/json decoding the same bytes into map[string]any:
// the same document into generic values, without Lua.
func BenchmarkTaskList100(b *testing.B) {
	data := hundredTasks(b)
	rt := newTestRuntime(b, "http://127.0.0.1:1", rtOptions{})
	schema := rt.Integration().Function("list_tasks").Response
	b.Run("impl=lua", func(b *testing.B) {
		L := lua.NewState(lua.Options{SkipOpenLibs: true})
		defer L.Close()
		d := JSONDecoder{L: L, ArrayMeta: L.NewTable()}
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
