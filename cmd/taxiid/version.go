package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// Set at build time by the container image and release builds:
//
//	go build -ldflags "-X main.version=v1.2.3 -X main.commit=abc1234 -X main.buildDate=2026-01-02T03:04:05Z"
//
// Each one left empty is taken from what the Go toolchain records in the
// binary (runtime/debug.ReadBuildInfo): the module version when built by
// `go install module@version`, the VCS revision when built in a git
// checkout.
var (
	version   string
	commit    string
	buildDate string
)

// build describes the running binary.
type build struct {
	Version    string
	Commit     string
	Modified   bool   // built from a checkout with uncommitted changes
	CommitTime string // of Commit, as the VCS recorded it
	BuildDate  string
	GoVersion  string
	Platform   string
}

// currentBuild returns what the -X variables and the toolchain's build
// information say of the running binary; "" for what neither knows (the
// version is then "devel").
func currentBuild() build {
	b := build{Version: version, Commit: commit, BuildDate: buildDate,
		GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if info, ok := debug.ReadBuildInfo(); ok {
		if v := info.Main.Version; b.Version == "" && v != "" && v != "(devel)" {
			b.Version = v
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if b.Commit == "" {
					b.Commit = s.Value
				}
			case "vcs.time":
				b.CommitTime = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true" && commit == ""
			}
		}
	}
	if b.Version == "" {
		b.Version = "devel"
	}
	return b
}

// printVersion writes what `taxiid version` prints: the version on the
// first line, then one "name: value" line for each fact known.
func printVersion(w io.Writer, b build) {
	fmt.Fprintf(w, "taxiid %s\n", b.Version)
	line := func(name, value string) {
		if value != "" {
			fmt.Fprintf(w, "%-12s %s\n", name+":", value)
		}
	}
	c := b.Commit
	if c != "" && b.Modified {
		c += " (with uncommitted changes)"
	}
	line("commit", c)
	line("commit time", b.CommitTime)
	line("built", b.BuildDate)
	line("go", b.GoVersion+" "+b.Platform)
}
