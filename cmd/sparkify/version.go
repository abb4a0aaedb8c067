package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// buildInfo is what the binary knows of its own build: the module version (a tagged release) or
// "dev", and, for builds from a git checkout, the commit, its time and whether the tree had
// uncommitted changes. Go records these itself (-buildvcs), so no linker flags are needed.
type buildInfo struct {
	version, commit, time string
	modified              bool
}

func readBuildInfo() buildInfo {
	b := buildInfo{version: "dev"}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		b.version = v
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.commit = s.Value
		case "vcs.time":
			b.time = s.Value
		case "vcs.modified":
			b.modified = s.Value == "true"
		}
	}
	return b
}

// version is the short form, also written into every Parquet file's created_by: the module
// version, which Go makes a pseudo-version naming the commit (v0.0.0-20261130170848-0189f325dd57,
// +dirty for uncommitted changes) when it stamps a build from a checkout; else "dev", with the
// commit when known.
func version() string {
	b := readBuildInfo()
	if b.version != "dev" || b.commit == "" {
		return b.version
	}
	v := "dev+" + b.commit[:min(len(b.commit), 12)]
	if b.modified {
		v += "-dirty"
	}
	return v
}

// printVersion prints everything the binary knows of its build, for bug reports.
func printVersion(w io.Writer) {
	b := readBuildInfo()
	fmt.Fprintln(w, "sparkify", version())
	if b.commit != "" {
		fmt.Fprintf(w, "  commit:  %s", b.commit)
		if b.modified {
			fmt.Fprint(w, " (with uncommitted changes)")
		}
		fmt.Fprintln(w)
	}
	if b.time != "" {
		fmt.Fprintln(w, "  commit time:", b.time)
	}
	fmt.Fprintf(w, "  go:      %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
