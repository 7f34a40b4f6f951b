package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestEnginesCommand: `cloudconvert engines` lists every operation and
// format pair with its engine, from the engines' catalogue.
func TestEnginesCommand(t *testing.T) {
	code, out, errOut := run(t, map[string]string{}, "engines")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// Compare with the columns' padding folded to single spaces.
	var lines []string
	for line := range strings.Lines(out) {
		lines = append(lines, strings.Join(strings.Fields(line), " "))
	}
	flat := strings.Join(lines, "\n")
	for _, want := range []string{
		"convert png bmp, gif, jpg, png, tiff, webp goimage yes",
		"convert pdf jpg, png, webp pdfium yes",
		"watermark pdf pdf pdfcpu yes",
		"archive/extract zip (its files) goarchive yes",
		"pdf/encrypt pdf pdf pdfcpu yes",
		"pdf/decrypt pdf pdf pdfium yes",
		"convert html jpg, pdf, png chromium",
		"Real CloudConvert service only: command,",
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("engines output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = run(t, map[string]string{}, "engines", "--json", "--operation", "pdf/rotate-pages")
	var doc struct {
		Operations []struct {
			Operation string `json:"operation"`
			Options   []struct {
				Name   string   `json:"name"`
				Values []string `json:"possible_values"`
			} `json:"options"`
		} `json:"operations"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &doc) != nil || len(doc.Operations) != 1 || doc.Operations[0].Operation != "pdf/rotate-pages" {
		t.Fatalf("--json --operation: %d %s", code, out)
	}
	found := false
	for _, o := range doc.Operations[0].Options {
		found = found || (o.Name == "rotation" && len(o.Values) > 0)
	}
	if !found {
		t.Fatalf("rotation option with its values missing: %s", out)
	}
	for args, want := range map[string]string{"watermrk": `did you mean "watermark"`, "pdf/ocr": "real CloudConvert service only"} {
		code, _, errOut = run(t, map[string]string{}, "engines", "--operation", args)
		if code == 0 || !strings.Contains(errOut, want) {
			t.Errorf("--operation %s: exit %d, %q", args, code, errOut)
		}
	}
}
