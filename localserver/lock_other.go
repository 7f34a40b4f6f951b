//go:build !unix

package localserver

func lockDir(dir string) (func(), error) { return func() {}, nil }

// DataDirInUse reports whether a server holds dir's lock (never, here).
func DataDirInUse(dir string) bool { return false }
