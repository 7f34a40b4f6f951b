package localserver

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/cctoolkit/cloudconvert/localserver/engine"
)

// getOperations asks GET /v2/operations with query q and the header key
// ("" for none).
func getOperations(t *testing.T, e *env, q, key string) (int, []map[string]any, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", e.URL+"/v2/operations"+q, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("%s: %d, not JSON: %s", q, resp.StatusCode, raw)
	}
	var items []map[string]any
	if data, ok := body["data"].([]any); ok {
		for _, d := range data {
			items = append(items, d.(map[string]any))
		}
	}
	return resp.StatusCode, items, body
}

func findOp(items []map[string]any, op, in, out string) map[string]any {
	for _, it := range items {
		if it["operation"] == op && (it["input_format"] == in || in == "") && (it["output_format"] == out || out == "") {
			return it
		}
	}
	return nil
}

func optionNamed(item map[string]any, name string) map[string]any {
	opts, _ := item["options"].([]any)
	for _, o := range opts {
		if m := o.(map[string]any); m["name"] == name {
			return m
		}
	}
	return nil
}

// TestListOperations: GET /v2/operations answers with or without a key,
// filters by operation and formats, includes options and engine versions
// on request, and serves the whole catalogue: the server's imports and
// export, every capability of the engines, and the real-service-only
// operations marked unavailable. Every answer is validated against the
// OpenAPI document by the env.
func TestListOperations(t *testing.T) {
	e := newEnv(t)
	reg := e.srv.Engines()

	t.Run("whole catalogue, without a key", func(t *testing.T) {
		status, items, _ := getOperations(t, e, "", "")
		if status != 200 {
			t.Fatalf("status %d", status)
		}
		want := len(reg.Catalogue()) + len(transferCapabilities()) + len(engine.RealServiceOnly())
		if len(items) != want {
			t.Fatalf("%d items, want %d (engines, imports and export, real-service-only)", len(items), want)
		}
		for _, c := range reg.Catalogue() {
			it := findOp(items, c.Operation, c.InputFormat, c.OutputFormat)
			if c.OutputFormat == "" {
				it = findOp(items, c.Operation, c.InputFormat, "")
			}
			if it == nil || it["engine"] != c.Engine || it["available"] != c.Available {
				t.Errorf("%s %s -> %s (%s): served as %v", c.Operation, c.InputFormat, c.OutputFormat, c.Engine, it)
			}
			if _, has := it["options"]; has {
				t.Errorf("options served without include=options: %v", it)
			}
		}
		for op, why := range engine.RealServiceOnly() {
			it := findOp(items, op, "", "")
			if it == nil || it["available"] != false || !strings.Contains(it["note"].(string), why) {
				t.Errorf("real-service-only %s: %v", op, it)
			}
		}
	})

	t.Run("pdf to png with options", func(t *testing.T) {
		status, items, _ := getOperations(t, e, "?filter[input_format]=pdf&filter[output_format]=png&include=options", "wrong-key")
		if status != 200 {
			t.Fatalf("status %d", status)
		}
		var ops []string
		for _, it := range items {
			ops = append(ops, it["operation"].(string))
			if it["input_format"] != "pdf" || it["output_format"] != "png" {
				t.Errorf("filtered out of pdf -> png: %v", it)
			}
		}
		if !slices.Equal(ops, []string{"convert", "thumbnail"}) {
			t.Fatalf("operations %v, want convert and thumbnail", ops)
		}
		conv := findOp(items, "convert", "pdf", "png")
		pd := optionNamed(conv, "pixel_density")
		if pd == nil || pd["type"] != "integer" || pd["default"] != float64(150) || pd["minimum"] != float64(10) || pd["maximum"] != float64(1200) || pd["description"] == "" {
			t.Fatalf("pixel_density: %v", pd)
		}
		if p := optionNamed(conv, "pages"); p == nil || p["type"] != "string" {
			t.Fatalf("pages: %v", p)
		}
		fit := optionNamed(conv, "fit")
		if fit == nil || fit["type"] != "enum" || fit["default"] != "max" || len(fit["possible_values"].([]any)) != 4 {
			t.Fatalf("fit (an enum): %v", fit)
		}
		if optionNamed(conv, "quality") != nil {
			t.Fatal("quality is listed for PNG output")
		}
	})

	t.Run("imports, engine versions, any-format entries", func(t *testing.T) {
		_, items, _ := getOperations(t, e, "?filter[operation]=import/url&include=options,engine_versions", "")
		if len(items) != 1 {
			t.Fatalf("import/url: %v", items)
		}
		if u := optionNamed(items[0], "url"); u == nil || u["required"] != true {
			t.Fatalf("import/url's url: %v", items[0])
		}
		if h := optionNamed(items[0], "headers"); h == nil || h["type"] != "dictionary" {
			t.Fatalf("import/url's headers: %v", items[0])
		}
		_, items, _ = getOperations(t, e, "?filter[operation]=convert&filter[input_format]=png&filter[output_format]=jpg&include=engine_versions", "")
		if len(items) != 1 {
			t.Fatalf("png -> jpg: %v", items)
		}
		vs, _ := items[0]["engine_versions"].([]any)
		if len(vs) != 1 || vs[0].(map[string]any)["version"] == "" || vs[0].(map[string]any)["default"] != true {
			t.Fatalf("engine_versions: %v", items[0])
		}
		version := vs[0].(map[string]any)["version"].(string)
		_, items, _ = getOperations(t, e, "?filter[engine]=goimage&filter[engine_version]="+version, "")
		if len(items) == 0 || slices.ContainsFunc(items, func(it map[string]any) bool { return it["engine"] != "goimage" }) {
			t.Fatalf("filter by engine and version: %v", items)
		}
		// archive takes any file ("*"): it matches an input filter.
		_, items, _ = getOperations(t, e, "?filter[operation]=archive&filter[input_format]=png&alternatives=true", "")
		if len(items) != 3 {
			t.Fatalf("archive from png: %v", items)
		}
	})

	t.Run("bad include and alternatives", func(t *testing.T) {
		status, _, body := getOperations(t, e, "?include=options,pricing", "")
		if status != 422 || !strings.Contains(jsonStr(body), `\"pricing\" cannot be included`) {
			t.Fatalf("%d %s", status, jsonStr(body))
		}
		status, _, body = getOperations(t, e, "?alternatives=maybe", "")
		if status != 422 || !strings.Contains(jsonStr(body), "alternatives must be true or false") {
			t.Fatalf("%d %s", status, jsonStr(body))
		}
	})
}
