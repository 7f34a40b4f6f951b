package gen

import (
	"testing"

	"github.com/cctoolkit/cloudconvert/gen/emit/goclient"
)

// BenchmarkGeneration compares the whole pipeline (load, validate, IR,
// OpenAPI, Go client, metadata, docs) with oapi-codegen alone on the same
// OpenAPI document. Compare with: benchstat -col /impl.
func BenchmarkGeneration(b *testing.B) {
	root, err := FindRoot(".")
	if err != nil {
		b.Fatal(err)
	}
	opts, err := RepoOptions(root)
	if err != nil {
		b.Fatal(err)
	}
	files, err := Generate(opts)
	if err != nil {
		b.Fatal(err)
	}
	doc := files["generated/cloudconvert/openapi.yaml"]
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
			if _, err := goclient.Generate(doc, opts.OapiCodegenVersion); err != nil {
				b.Fatal(err)
			}
		}
	})
}
