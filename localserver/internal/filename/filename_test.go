package filename

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestFinding10TruncateKeepsCharactersAndExtension: names cut at 255
// bytes used to end mid-character and lose their extension.
func TestFinding10TruncateKeepsCharactersAndExtension(t *testing.T) {
	long := strings.Repeat("é", 200) // 400 bytes
	cases := []struct {
		name, in string
		n        int
		want     string
	}{
		{"short stays", "a.pdf", 255, "a.pdf"},
		{"ascii keeps extension", strings.Repeat("a", 300) + ".pdf", 255, strings.Repeat("a", 251) + ".pdf"},
		{"multibyte cut on a boundary", long + ".png", 255, strings.Repeat("é", 125) + ".png"},
		{"odd budget drops the half character", long + ".png", 256, strings.Repeat("é", 126) + ".png"},
		{"no extension", long, 255, strings.Repeat("é", 127)},
		{"long extension is stem", "a." + strings.Repeat("x", 300), 10, "a.xxxxxxxx"},
		{"emoji", strings.Repeat("😀", 100) + ".txt", 255, strings.Repeat("😀", 62) + ".txt"},
		{"dot file", "." + strings.Repeat("é", 200), 9, ".éééé"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Truncate(c.in, c.n)
			if got != c.want {
				t.Errorf("Truncate = %q (%d bytes), want %q", got, len(got), c.want)
			}
			if len(got) > c.n || !utf8.ValidString(got) {
				t.Errorf("Truncate = %q: %d bytes, valid UTF-8 %v", got, len(got), utf8.ValidString(got))
			}
		})
	}
}

func FuzzFinding10Truncate(f *testing.F) {
	f.Add(strings.Repeat("é", 200)+".png", 255)
	f.Add("x.tar.gz", 3)
	f.Fuzz(func(t *testing.T, s string, n int) {
		if n < 1 || n > 1000 || !utf8.ValidString(s) {
			return
		}
		got := Truncate(s, n)
		if len(got) > n || !utf8.ValidString(got) || !strings.HasPrefix(s, strings.TrimSuffix(got, extOf(got))) {
			t.Fatalf("Truncate(%q, %d) = %q", s, n, got)
		}
	})
}

func extOf(s string) string {
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		return s[i:]
	}
	return ""
}
