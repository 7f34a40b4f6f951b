package gen

import (
	"strings"
	"testing"

	"github.com/cctoolkit/cloudconvert/gen/emit/goclient"
)

// BenchmarkGeneration compares the whole pipeline (load, validate, IR,
// OpenAPI documents, Go clients, metadata, docs, Lua bindings) with
// oapi-codegen alone on the same OpenAPI documents (one per server, as the
// pipeline writes them). Compare with: benchstat -col /impl.
func BenchmarkGeneration(b *testing.B) {
	_, opts := repoOptions(b)
	files, err := Generate(opts)
	if err != nil {
		b.Fatal(err)
	}
	var docs [][]byte
	for _, p := range files.Paths() {
		if strings.HasPrefix(p, "generated/cloudconvert/openapi") && strings.HasSuffix(p, ".yaml") {
			docs = append(docs, files[p])
		}
	}
	if len(docs) == 0 {
		b.Fatal("no OpenAPI documents were generated")
	}
	b.Run("impl=pipeline", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Generate(opts); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=oapi-codegen", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, doc := range docs {
				if _, err := goclient.Generate(doc, opts.OapiCodegenVersion); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
