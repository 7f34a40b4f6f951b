package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// buildInfo is what the binary knows about its build.
type buildInfo struct {
	Module   string // module version: v1.2.3, a pseudo-version, or (devel)
	Revision string // VCS revision, "" when not recorded
	Time     string // commit time
	Modified bool   // built from a tree with uncommitted changes
	Go       string
}

func readBuildInfo() buildInfo {
	b := buildInfo{Module: "(devel)", Go: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if bi.Main.Version != "" {
		b.Module = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// short is the version reported by the MCP server and the background
// server: the module version and the revision's first 12 characters.
func (b buildInfo) short() string {
	if b.Revision == "" {
		return b.Module
	}
	rev := b.Revision[:min(12, len(b.Revision))]
	if b.Modified {
		rev += "-dirty"
	}
	return b.Module + "+" + rev
}

// String is `cloudconvert --version`'s line.
func (b buildInfo) String() string {
	vcs := "no VCS revision recorded (built outside a git checkout, or with -buildvcs=false)"
	if b.Revision != "" {
		vcs = "revision " + b.Revision
		if b.Time != "" {
			vcs += " (" + b.Time + ")"
		}
		if b.Modified {
			vcs += ", with uncommitted changes"
		}
	}
	return fmt.Sprintf("%s; %s; %s %s/%s", b.Module, vcs, b.Go, runtime.GOOS, runtime.GOARCH)
}
