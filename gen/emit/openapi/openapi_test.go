package openapi

import (
	"testing"

	"github.com/cctoolkit/cloudconvert/gen/internal/gentest"
)

// TestGolden: the documents of the golden spec, one per server with
// functions, and the Go file that embeds them.
func TestGolden(t *testing.T) {
	in := gentest.Load(t, gentest.GoldenSpec)
	files, docs, err := Emit(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 || docs["api"] == nil || docs["wait"] == nil {
		t.Fatalf("want a document per served server, got %d", len(docs))
	}
	gentest.Golden(t, "testdata/golden", files)
}

// TestHeaderAuth: scheme header becomes an apiKey security scheme in that
// header, not bearer.
func TestHeaderAuth(t *testing.T) {
	in := gentest.Load(t, gentest.GoldenSpec)
	doc, err := Build(in, in.Servers[0])
	if err != nil {
		t.Fatal(err)
	}
	s := doc.Components.SecuritySchemes["apiKeyAuth"]
	if s == nil || s.Value.Type != "apiKey" || s.Value.In != "header" || s.Value.Name != "X-Api-Key" {
		t.Fatalf("security scheme: %+v", s)
	}
	if doc.Components.SecuritySchemes["bearerAuth"] != nil {
		t.Fatal("a header-key integration must not advertise bearer auth")
	}
}
