package main

// comparison is one benchmark run of the report: a paired benchmark
// (internal/benchpair) whose ratio metrics become rows of the table.
type comparison struct {
	id    string // for -only
	pkg   string // import path under the module, e.g. "localserver"
	bench string // -test.bench
	// benchtime is -test.benchtime: a count where one is long enough, so
	// every run takes about as long; a duration for sub-benchmarks whose
	// operations differ by orders of magnitude.
	benchtime string
	rows      []row
	// perSub: every sub-benchmark of bench is a row of its own, labelled
	// with its name (rows then holds one entry, the metric to read).
	perSub bool
}

// row is one ratio of a comparison.
type row struct {
	what   string
	floor  string // what the floor is, in words
	metric string // the benchpair ratio "<side>/<floor>" (cost: lower is better)
	// target: the cost ratio must be at most max; 0 means no target.
	max float64
	// throughput: the table shows floor/side (the side's throughput as a
	// fraction of the floor's) and the target is its minimum, 1/max.
	throughput bool
	// label is shown beside the ratio, for figures that are no target.
	label string
}

// comparisons are every ratio the project reports, with the floors the
// benchmarks' doc comments explain.
var comparisons = []comparison{
	{id: "server-get", pkg: "localserver", bench: "^BenchmarkGetJob$", benchtime: "120x", rows: []row{{
		what:   "local server: GET /v2/jobs/{id} throughput (finished 3-task job, 2×GOMAXPROCS clients)",
		floor:  "net/http handler writing the same bytes (precomputed) with the same headers, same client and load",
		metric: "server/bytes", max: 1 / 0.6, throughput: true,
	}}},
	{id: "image-job", pkg: "localserver", bench: "^BenchmarkImageJob$", benchtime: "20x", rows: []row{{
		what:   "local server: 3-task image job end to end (import/base64 256×256 PNG → convert jpg → export/url; wait; download)",
		floor:  "the same steps as direct calls: decode base64 + write the file, engine convert, read the result",
		metric: "job/direct", max: 1.5,
	}}},
	{id: "convert-40", pkg: "cmd/cloudconvert", bench: "^BenchmarkConvert40PNG$/^parallel=4$", benchtime: "3x", rows: []row{{
		what:   "cloudconvert convert of 40 small PNGs to JPG (40 uploads, the job, 40 downloads; --parallel 4)",
		floor:  "the same job created through the API with the files inline (import/base64): no client-side transfers",
		metric: "convert/base64", max: 1.5,
	}}},
	{id: "pdf-4", pkg: "localserver", bench: "^BenchmarkPDFToPNG$/^pages=4$", benchtime: "2x", rows: []row{{
		what:   "PDF → PNG at 150 DPI per page, 4-page text document (local server's engine: PDFium)",
		floor:  "pdftoppm -r 150 -png on the same file (poppler, a process per document)",
		metric: "engine/pdftoppm", max: 1,
	}}},
	{id: "pdf-1", pkg: "localserver", bench: "^BenchmarkPDFToPNG$/^pages=1$", benchtime: "4x", rows: []row{{
		what:   "PDF → PNG at 150 DPI, 1-page document",
		floor:  "pdftoppm -r 150 -png on the same file",
		metric: "engine/pdftoppm", max: 1,
	}}},
	{id: "lua-get", pkg: "luaruntime", bench: "^BenchmarkGetJob$/^impl=paired$", benchtime: "800x", rows: []row{
		{
			what:   "Lua get_job (loopback server writing the recorded job)",
			floor:  "generated Go client's GetJob, same transport, body decoded into map[string]any",
			metric: "lua/goclient_map", max: 1.10,
		},
		{
			what:   "generated client, typed decoding (GetJobWithResponse)",
			floor:  "the same floor (goclient_map)",
			metric: "goclient_typed/goclient_map", label: "typed decoding, beside the floor: no target",
		},
	}},
	{id: "lua-state", pkg: "luaruntime", bench: "^BenchmarkNewState$/^impl=paired$", benchtime: "1500x", rows: []row{{
		what:   "Lua runtime: making a script's state (safe libraries, bridge, protected globals)",
		floor:  "bare gopher-lua state with the same options and gopher-lua's base/table/string/math",
		metric: "runtime/bare", max: 1.3,
	}}},
	{id: "lua-list", pkg: "luaruntime", bench: "^BenchmarkTaskList100$/^impl=paired$", benchtime: "60x", rows: []row{{
		what:   "100-task list response decoded into Lua tables",
		floor:  "encoding/json into map[string]any, same bytes",
		metric: "lua/encoding_json", max: 1.5,
	}}},
	{id: "lua-exec", pkg: "luaruntime", bench: "^BenchmarkExecute$", benchtime: "300ms", perSub: true, rows: []row{{
		what:   "Lua sandbox: Execute of an ordinary script",
		floor:  "the same script in a fresh bare gopher-lua state (DoString)",
		metric: "execute/gopher",
	}}},
	{id: "strings", pkg: "luaruntime/safelib", bench: "^BenchmarkStringFunctions$", benchtime: "150ms", perSub: true, rows: []row{{
		what:   "sandbox string function",
		floor:  "gopher-lua's original on the same input",
		metric: "safelib/gopher",
	}}},
	{id: "gen", pkg: "gen", bench: "^BenchmarkGeneration$/^impl=paired$", benchtime: "3x", rows: []row{{
		what:   "generation: the whole pipeline from the spec",
		floor:  "oapi-codegen alone on the same OpenAPI documents",
		metric: "pipeline/oapi-codegen", max: 1.5,
	}}},
	{id: "sdk", pkg: "sdk", bench: "^BenchmarkGetJob$/^impl=paired$", benchtime: "1000x", rows: []row{
		{
			what:   "sdk Client.GetJob (loopback server writing the recorded job)",
			floor:  "bare generated client, plain http.Transport, same typed decoding and headers",
			metric: "sdk/generated", max: 1.05,
		},
		{
			what:   "generated client over the sdk's retrying transport",
			floor:  "the same floor (generated)",
			metric: "transport/generated", label: "the transport's share of the sdk's cost: no target",
		},
	}},
	{id: "cli", pkg: "cmd/cloudconvert", bench: "^BenchmarkProcess$", benchtime: "12x", rows: []row{{
		what:   "CLI whole process: cloudconvert lua -e 'print(1)'",
		floor:  "cloudconvert functions, whole process, same binary and environment",
		metric: "lua-print/functions", max: 1.3,
	}}},
}
