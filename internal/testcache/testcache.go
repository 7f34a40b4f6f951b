// Package testcache gives tests the directory for PDFium's compile cache:
// a temporary directory of this test run, never the user's ~/.cache.
// Compiling PDFium takes seconds (a minute and more under -race), so a CI
// run may share one directory between its test binaries by setting
// CCTOOLKIT_TEST_PDFIUM_CACHE to a directory it made for the run.
package testcache

import "os"

// Env names the shared directory of a test run, when set.
const Env = "CCTOOLKIT_TEST_PDFIUM_CACHE"

// PDFium returns the cache directory and the cleanup to call when the test
// binary ends (it removes a directory it made; a shared one is the run's).
func PDFium(prefix string) (dir string, cleanup func(), err error) {
	if d := os.Getenv(Env); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", nil, err
		}
		return d, func() {}, nil
	}
	d, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", nil, err
	}
	return d, func() { os.RemoveAll(d) }, nil
}
