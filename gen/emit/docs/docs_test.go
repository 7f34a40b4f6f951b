package docs

import (
	"os"
	"strings"
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

// TestPages: the page list is the integration page, the reference, the
// errors page and one page per function, in spec order.
func TestPages(t *testing.T) {
	in := gentest.Load(t, gentest.GoldenSpec)
	pages := Pages(in)
	want := []string{"printshop", "integrations.printshop", "printshop.errors", "printshop.create_job", "printshop.get_job", "printshop.wait_job", "printshop.run_step", "printshop.delete_job", "printshop.send_file", "printshop.save_scans"}
	if len(pages) != len(want) {
		t.Fatalf("pages: %+v", pages)
	}
	for i, p := range pages {
		if p.Name != want[i] {
			t.Errorf("page %d is %s, want %s", i, p.Name, want[i])
		}
	}
}

// TestErrorsPageClash: a function whose page would be the errors page is
// refused, naming it.
func TestErrorsPageClash(t *testing.T) {
	in := gentest.Load(t, gentest.GoldenSpec)
	in.Desc.Functions[1].DocPage = "printshop.errors"
	_, err := Emit(in, os.DirFS("../../../templates"))
	if err == nil || !strings.Contains(err.Error(), "printshop.get_job has the docs page name of the errors page (printshop.errors)") {
		t.Fatalf("err = %v", err)
	}
}
