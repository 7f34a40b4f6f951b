package luaruntime

import (
	"encoding/json"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"

	cloudconvert "github.com/cctoolkit/cloudconvert/generated/cloudconvert"
	"github.com/cctoolkit/cloudconvert/integration"
)

// tableGen builds a Lua value from fuzz bytes: keys from the parameter and
// task vocabulary (and odd ones), values of every Lua type, nesting and
// cycles.
type tableGen struct {
	L    *lua.LState
	data []byte
	i    int
}

var vocab = []string{"tasks", "tag", "webhook_url", "job_id", "task_id", "per_page", "page", "status", "operation", "payload", "input", "name", "url", "filename", "options", "output_format", "x", ""}
var strVals = []string{"import/url", "convert", "export/url", "merge", "finished", "done", "import", "import-1", "import-2", "convert", "a b", "", "ünï", "\xff\xfe", "capture-website", "export"}

func (g *tableGen) next() int {
	if g.i >= len(g.data) {
		return 0
	}
	b := g.data[g.i]
	g.i++
	return int(b)
}

func (g *tableGen) value(depth int, parents []*lua.LTable) lua.LValue {
	switch g.next() % 9 {
	case 0:
		return lua.LNil
	case 1:
		return lua.LBool(g.next()%2 == 0)
	case 2:
		return lua.LNumber(float64(g.next()-64) * []float64{1, 0.5, 1e6, 1e300}[g.next()%4])
	case 3, 4:
		return lua.LString(strVals[g.next()%len(strVals)])
	case 5:
		if len(parents) > 0 && g.next()%4 == 0 {
			return parents[g.next()%len(parents)] // a cycle
		}
		fallthrough
	case 6, 7:
		if depth > 4 {
			return lua.LString("deep")
		}
		t := g.L.NewTable()
		n := g.next() % 6
		for k := 0; k < n; k++ {
			v := g.value(depth+1, append(parents, t))
			switch g.next() % 3 {
			case 0:
				t.RawSetInt(k+1, v)
			case 1:
				t.RawSetString(vocab[g.next()%len(vocab)], v)
			default:
				t.RawSet(lua.LNumber(g.next()%5), v)
			}
		}
		return t
	default:
		return g.L.NewFunction(func(*lua.LState) int { return 0 })
	}
}

func FuzzLuaArgs(f *testing.F) {
	f.Add([]byte{6, 3, 1, 0, 7, 3, 1, 1, 0, 1, 2, 3})
	f.Add([]byte("tasks import convert export"))
	f.Add([]byte{7, 5, 1, 0, 6, 4, 1, 12, 3, 0, 1, 8, 3, 2})
	f.Add([]byte(`{"data":[1,2,{"a":null}]}`))
	in := cloudconvert.Descriptor()
	f.Fuzz(func(t *testing.T, data []byte) {
		L := lua.NewState(lua.Options{SkipOpenLibs: true})
		defer L.Close()
		g := &tableGen{L: L, data: data}
		lv := g.value(0, nil)
		args, verr := fromLua(lv, "", 0)
		if verr != nil {
			// The runtime reports it as an argument error of the call.
			if verr.msg == "" {
				t.Fatalf("empty conversion error at %q", verr.path)
			}
		} else {
			for _, fn := range in.Functions {
				req, err := fn.Build(args, integration.Lua)
				if err != nil {
					if err.Kind != integration.KindArgument || err.Function != fn.Name || !strings.HasPrefix(err.Error(), fn.FullName+": ") || strings.Contains(err.Error(), "\n") {
						t.Fatalf("%s: bad error %#v", fn.Name, err)
					}
					continue
				}
				if req.Body != nil && !json.Valid(req.Body) {
					t.Fatalf("%s: invalid JSON body %q", fn.Name, req.Body)
				}
				for _, p := range fn.Params {
					if p.Required && p.In == integration.InPath && req.PathValue(p.Key) == "" && p.Schema.Resolved().MinLength != nil {
						t.Fatalf("%s: empty path parameter %s", fn.Name, p.Key)
					}
				}
			}
			// json.encode of the same value is valid JSON or a named error.
			if b, err := integration.EncodeJSON(args, integration.Lua); err == nil && !json.Valid(b) {
				t.Fatalf("json.encode wrote invalid JSON %q", b)
			} else if err != nil && err.Param == "" {
				t.Fatalf("json.encode error without a path: %v", err)
			}
		}
		// The same bytes as a JSON response must not break the decoder,
		// and what it decodes encodes back as valid JSON.
		d := JSONDecoder{L: L}
		if v, err := d.Decode(data, in.Type("JobResponse")); err == nil {
			if !json.Valid(data) {
				t.Fatalf("decoded invalid JSON %q", data)
			}
			if back, verr := fromLua(v, "", 0); verr == nil {
				if b, err := integration.EncodeJSON(back, integration.Lua); err != nil || !json.Valid(b) {
					t.Fatalf("decoded %q, encoded %q: %v", data, b, err)
				}
			}
		} else if json.Valid(data) && !deeperThan(data, 512) && !strings.Contains(err.Error(), "out of range") {
			t.Fatalf("rejected valid JSON %q: %v", data, err)
		}
	})
}

// deeperThan says whether a JSON document nests more than n levels (the
// decoder's limit).
func deeperThan(data []byte, n int) bool {
	depth, inStr, esc := 0, false, false
	for _, c := range data {
		switch {
		case esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '[' || c == '{':
			depth++
			if depth > n {
				return true
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return false
}
