package metadata

import (
	"testing"

	"github.com/cctoolkit/cloudconvert/gen/internal/gentest"
)

// TestGolden: the metadata tables of the golden spec.
func TestGolden(t *testing.T) {
	in := gentest.Load(t, gentest.GoldenSpec)
	files, err := Emit(in)
	if err != nil {
		t.Fatal(err)
	}
	gentest.Golden(t, "testdata/golden", files)
}
