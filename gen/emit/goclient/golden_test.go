package goclient

import (
	"testing"

	"github.com/cctoolkit/cloudconvert/gen/emit/openapi"
	"github.com/cctoolkit/cloudconvert/gen/internal/gentest"
)

// TestGolden: one client package per served server, from the golden
// spec's documents, with a pinned oapi-codegen version in the header.
func TestGolden(t *testing.T) {
	in := gentest.Load(t, gentest.GoldenSpec)
	_, docs, err := openapi.Emit(in)
	if err != nil {
		t.Fatal(err)
	}
	files, err := Emit(in, docs, "v0.0.0-golden")
	if err != nil {
		t.Fatal(err)
	}
	gentest.Golden(t, "testdata/golden", files)
}
