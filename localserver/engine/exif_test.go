package engine

import "testing"

// FuzzParseExif feeds arbitrary TIFF bytes to the hand-written EXIF reader:
// it must never panic or read out of bounds.
func FuzzParseExif(f *testing.F) {
	f.Add([]byte("II*\x00\x08\x00\x00\x00\x01\x00\x0f\x01\x02\x00\x04\x00\x00\x00abc\x00\x00\x00\x00\x00"))
	f.Add([]byte("MM\x00*\x00\x00\x00\x08\x00\x01\x87\x69\x00\x04\x00\x00\x00\x01\x00\x00\x00\x08"))
	f.Fuzz(func(t *testing.T, b []byte) {
		parseExif(b)
	})
}
