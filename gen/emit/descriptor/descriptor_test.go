package descriptor

import (
	"testing"

	"github.com/cctoolkit/cloudconvert/gen/internal/gentest"
)

// TestGolden: the descriptor file of the golden spec. That the file
// compiles and gives back the IR's descriptor is proven by the second
// integration's end-to-end test in package gen and by the repository's own
// generated descriptor.
func TestGolden(t *testing.T) {
	in := gentest.Load(t, gentest.GoldenSpec)
	files, err := Emit(in, Options{IntegrationImport: "github.com/cctoolkit/cloudconvert/integration"})
	if err != nil {
		t.Fatal(err)
	}
	gentest.Golden(t, "testdata/golden", files)
}

func TestNeedsImport(t *testing.T) {
	in := gentest.Load(t, gentest.GoldenSpec)
	if _, err := Emit(in, Options{}); err == nil {
		t.Fatal("Emit without the integration import path must fail")
	}
}
