package docs

import (
	"os"
	"testing"

	"github.com/cctoolkit/cloudconvert/gen/internal/gentest"
)

// TestGolden: every page of the golden spec, rendered with the
// repository's templates.
func TestGolden(t *testing.T) {
	in := gentest.Load(t, gentest.GoldenSpec)
	files, err := Emit(in, os.DirFS("../../../templates"))
	if err != nil {
		t.Fatal(err)
	}
	gentest.Golden(t, "testdata/golden", files)
}

// TestPages: the page list is the integration page, the reference and one
// page per function, in spec order.
func TestPages(t *testing.T) {
	in := gentest.Load(t, gentest.GoldenSpec)
	pages := Pages(in)
	want := []string{"printshop", "integrations.printshop", "printshop.create_job", "printshop.get_job", "printshop.wait_job", "printshop.run_step", "printshop.delete_job", "printshop.send_file", "printshop.save_scans"}
	if len(pages) != len(want) {
		t.Fatalf("pages: %+v", pages)
	}
	for i, p := range pages {
		if p.Name != want[i] {
			t.Errorf("page %d is %s, want %s", i, p.Name, want[i])
		}
	}
}
