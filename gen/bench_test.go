package gen

import (
	"strings"
	"testing"

	"github.com/cctoolkit/cloudconvert/gen/emit/goclient"
	"github.com/cctoolkit/cloudconvert/internal/benchpair"
)

// BenchmarkGeneration compares the whole pipeline (load, validate, IR,
// OpenAPI documents, Go clients, descriptor, metadata, docs) with its floor,
// oapi-codegen alone on the same OpenAPI documents (one per server, as the
// pipeline writes them): the pipeline runs oapi-codegen on exactly these
// documents, so it cannot cost less, and everything else it does is what
// pipeline/oapi-codegen measures (target <= 1.5).
//
// impl=paired runs both in turn in every iteration (benchpair), so that
// load from other processes weighs on both alike; impl=pipeline and
// impl=oapi-codegen are each alone, for their allocations.
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
	pipeline := func() {
		if _, err := Generate(opts); err != nil {
			b.Fatal(err)
		}
	}
	oapi := func() {
		for _, doc := range docs {
			if _, err := goclient.Generate(doc, opts.OapiCodegenVersion); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("impl=pipeline", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			pipeline()
		}
	})
	b.Run("impl=oapi-codegen", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			oapi()
		}
	})
	b.Run("impl=paired", func(b *testing.B) {
		benchpair.Run(b, benchpair.Side{Name: "oapi-codegen", Run: oapi}, benchpair.Side{Name: "pipeline", Run: pipeline})
	})
}
