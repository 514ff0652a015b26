// Package buildinfo says which build of sluice is running: its version,
// the commit it was built from and the Go version, for `sluice version`,
// the start-up log and the sluice_build_info metric, so that an operator
// can tell what runs where.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// version and commit are set at link time by the Makefile and the
// Dockerfile:
//
//	-ldflags "-X github.com/sluice-cdc/sluice/internal/buildinfo.version=v0.2.0
//	          -X github.com/sluice-cdc/sluice/internal/buildinfo.commit=abc123"
//
// They are the only way to set a value at link time, hence variables.
var version, commit string

// Info describes the running build.
type Info struct {
	Version string // "v0.2.0", or "devel" for a build without a version
	Commit  string // the VCS revision, "unknown" when the build did not record it
	Go      string // the Go version the binary was built with
}

// Get returns the build's Info: the link-time values first, then what the
// Go toolchain recorded in the binary (module version, vcs.revision and
// vcs.modified, which go build records in a git checkout).
func Get() Info {
	return get(version, commit, debug.ReadBuildInfo)
}

func get(version, commit string, read func() (*debug.BuildInfo, bool)) Info {
	i := Info{Version: version, Commit: commit, Go: runtime.Version()}
	if bi, ok := read(); ok {
		i.Go = bi.GoVersion
		if i.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			i.Version = bi.Main.Version
		}
		if i.Commit == "" {
			var rev, modified string
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					rev = s.Value
				case "vcs.modified":
					modified = s.Value
				}
			}
			if rev != "" && modified == "true" {
				rev += "-dirty"
			}
			i.Commit = rev
		}
	}
	if i.Version == "" {
		i.Version = "devel"
	}
	if i.Commit == "" {
		i.Commit = "unknown"
	}
	return i
}
