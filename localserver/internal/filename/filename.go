// Package filename shortens user-supplied file names without breaking
// them: cuts fall on UTF-8 character boundaries and the extension stays.
package filename

import (
	"path"
	"unicode/utf8"
)

// maxExt is the longest suffix kept as an extension ("tar.gz" counts as
// ".gz"); a longer one is part of the stem.
const maxExt = 16

// Truncate returns name cut to at most n bytes (n >= 1). The extension is
// kept when it is short, the stem is cut at a character boundary, and
// invalid UTF-8 is never produced from valid input.
func Truncate(name string, n int) string {
	if len(name) <= n {
		return name
	}
	ext := path.Ext(name)
	if len(ext) > maxExt || len(ext) >= n || ext == name {
		ext = ""
	}
	stem := name[:len(name)-len(ext)]
	return cut(stem, n-len(ext)) + ext
}

// cut returns the longest prefix of s of at most n bytes that ends on a
// character boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
