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
	"github.com/cctoolkit/cloudconvert/internal/benchpair"
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
//   - impl=paired: the three in turn in every iteration (benchpair),
//     reporting each one's time and the ratios to the floor, so that load
//     that comes and goes on a shared machine weighs on all of them alike.
//     lua/goclient_map is the figure with a target (<= 1.10);
//     goclient_typed/goclient_map is beside it, labelled typed.
func BenchmarkGetJob(b *testing.B) {
	srv := bytesServer(b)
	lua, floor, typed := luaGetJob(b, srv.URL), mapGetJob(b, srv.URL), typedGetJob(b, srv.URL)
	b.Run("impl=lua", func(b *testing.B) { loop(b, lua) })
	b.Run("impl=goclient_map", func(b *testing.B) { loop(b, floor) })
	b.Run("impl=goclient_typed", func(b *testing.B) { loop(b, typed) })
	b.Run("impl=paired", func(b *testing.B) {
		benchpair.Run(b, benchpair.Side{Name: "goclient_map", Run: floor}, benchpair.Side{Name: "lua", Run: lua}, benchpair.Side{Name: "goclient_typed", Run: typed})
	})
}

func loop(b *testing.B, f func()) {
	for b.Loop() {
		f()
	}
}

// luaGetJob is one get_job from a loaded Lua chunk in a runtime state.
func luaGetJob(b *testing.B, root string) func() {
	rt := newTestRuntime(b, root, rtOptions{})
	x := &exec{r: rt, ctx: context.Background()}
	x.L = rt.newState()
	b.Cleanup(x.L.Close)
	x.install()
	fn, err := x.L.LoadString(`return app.integrations.cloudconvert.get_job({job_id = "` + benchJobID + `"})`)
	if err != nil {
		b.Fatal(err)
	}
	return func() {
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
}

// goClient is the HTTP client of the Go side: the same transport the
// invoker builds for Lua.
func goClient() *http.Client {
	return transport.New(transport.Options{UserAgent: "luaruntime-test", Secrets: []string{testKey}}).Client()
}

func auth(_ context.Context, r *http.Request) error {
	r.Header.Set("Authorization", "Bearer "+testKey)
	r.Header.Set("Accept", "application/json")
	return nil
}

// mapGetJob is the floor: the generated client's GetJob, the body decoded
// into map[string]any.
func mapGetJob(b *testing.B, root string) func() {
	c, err := client.NewClient(root+"/v2", client.WithHTTPClient(goClient()))
	if err != nil {
		b.Fatal(err)
	}
	return func() {
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
}

// typedGetJob is the typed client: GetJobWithResponse into the generated
// structs.
func typedGetJob(b *testing.B, root string) func() {
	c, err := client.NewClientWithResponses(root+"/v2", client.WithHTTPClient(goClient()))
	if err != nil {
		b.Fatal(err)
	}
	return func() {
		resp, err := c.GetJobWithResponse(context.Background(), benchJobID, auth)
		if err != nil || resp.JSON200 == nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewState measures what making a script's state costs: the
// runtime's (safe libraries, the bridge, the protected globals) against
// the floor, a bare gopher-lua state with the same safe libraries and
// options, which any sandbox of gopher-lua needs at least. impl=paired
// makes both in turn in every iteration and reports the ratio.
func BenchmarkNewState(b *testing.B) {
	rt := newTestRuntime(b, "http://127.0.0.1:1", rtOptions{})
	runtime := func() {
		x := &exec{r: rt, ctx: context.Background()}
		x.L = rt.newState()
		x.install()
		x.L.Close()
	}
	bare := func() {
		L := lua.NewState(lua.Options{SkipOpenLibs: true, CallStackSize: rt.lim.CallStackSize, RegistrySize: 1024 * 4, RegistryMaxSize: rt.lim.RegistryMaxSize, MinimizeStackMemory: true})
		OpenSafeLibs(L)
		L.Close()
	}
	b.Run("impl=runtime", func(b *testing.B) { loop(b, runtime) })
	b.Run("impl=bare", func(b *testing.B) { loop(b, bare) })
	b.Run("impl=paired", func(b *testing.B) {
		benchpair.Run(b, benchpair.Side{Name: "bare", Run: bare}, benchpair.Side{Name: "runtime", Run: runtime})
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
// the same document into generic values, without Lua. impl=paired decodes
// with both in turn in every iteration and reports the ratio.
func BenchmarkTaskList100(b *testing.B) {
	data := hundredTasks(b)
	rt := newTestRuntime(b, "http://127.0.0.1:1", rtOptions{})
	schema := rt.Integration().Function("list_tasks").Response
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	d := JSONDecoder{L: L, ArrayMeta: L.NewTable()}
	luaDecode := func() {
		if _, err := d.Decode(data, schema); err != nil {
			b.Fatal(err)
		}
	}
	mapDecode := func() {
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("impl=lua", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		loop(b, luaDecode)
	})
	b.Run("impl=encoding_json", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		loop(b, mapDecode)
	})
	b.Run("impl=paired", func(b *testing.B) {
		benchpair.Run(b, benchpair.Side{Name: "encoding_json", Run: mapDecode}, benchpair.Side{Name: "lua", Run: luaDecode})
	})
}
