package sdk

import (
	"slices"
	"strings"
)

// knownFormats are the output formats CloudConvert converts to (its
// formats page, by family), plus the usual spellings of a few (jpeg, tif).
// Whether a particular input can become a particular output is the
// server's call; this list only catches names that are no format at all.
var knownFormats = []string{
	// documents and e-books
	"abw", "azw", "azw3", "azw4", "cbc", "cbr", "cbz", "chm", "djvu", "doc", "docm", "docx", "dot", "dotx",
	"epub", "fb2", "htm", "html", "htmlz", "hwp", "lit", "lrf", "lwp", "md", "mobi", "odt", "oeb", "pages",
	"pdb", "pdf", "pml", "prc", "rb", "rst", "rtf", "sdw", "snb", "tcr", "tex", "txt", "txtz", "wpd",
	"wps", "xml", "xps", "zabw",
	// spreadsheets
	"csv", "et", "numbers", "ods", "xls", "xlsm", "xlsx",
	// presentations
	"dps", "key", "odp", "pot", "potx", "pps", "ppsx", "ppt", "pptm", "pptx",
	// images and vector graphics
	"ai", "arw", "avif", "bmp", "cdr", "cgm", "cr2", "cr3", "crw", "dcr", "dng", "dwg", "dxf", "emf",
	"eps", "erf", "gif", "heic", "heif", "icns", "ico", "jfif", "jpeg", "jpg", "jxl", "mos", "mrw",
	"nef", "odd", "odg", "orf", "pef", "png", "ppm", "ps", "psd", "raf", "raw", "rw2", "sk", "sk1",
	"svg", "svgz", "tga", "tif", "tiff", "vsd", "webp", "wmf", "x3f", "xcf",
	// audio
	"aac", "ac3", "aif", "aifc", "aiff", "alac", "amr", "ape", "caf", "flac", "m4a", "m4b", "mp2",
	"mp3", "oga", "ogg", "opus", "wav", "weba", "wma",
	// video
	"3g2", "3gp", "3gpp", "avi", "cavs", "dv", "dvr", "flv", "m2ts", "m4v", "mkv", "mod", "mov", "mp4",
	"mpeg", "mpg", "mts", "mxf", "ogv", "rm", "rmvb", "swf", "ts", "vob", "webm", "wmv", "wtv",
	// archives
	"7z", "bz2", "gz", "rar", "tar", "tar.bz2", "tar.gz", "tar.xz", "tbz", "tbz2", "tgz", "xz", "zip",
	// fonts
	"eot", "otf", "ttf", "woff", "woff2",
}

func init() { slices.Sort(knownFormats) }

// Formats lists the output formats CloudConvert knows, sorted. A CLI uses
// it to reject a misspelt --to before creating a job.
func Formats() []string { return slices.Clone(knownFormats) }

// NormalizeFormat lower-cases a format name and drops a leading dot
// (".PNG" -> "png").
func NormalizeFormat(f string) string {
	return strings.TrimPrefix(strings.ToLower(strings.TrimSpace(f)), ".")
}

// KnownFormat reports whether f (any case, leading dot allowed) is one of
// Formats.
func KnownFormat(f string) bool {
	_, ok := slices.BinarySearch(knownFormats, NormalizeFormat(f))
	return ok
}
