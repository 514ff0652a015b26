package buildinfo

import (
	"runtime/debug"
	"testing"
)

// TestGet: link-time values win; without them the toolchain's record is
// used; without either, devel and unknown.
func TestGet(t *testing.T) {
	recorded := func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v1.2.3"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "true"}}}, true
	}
	devel := func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}}, true
	}
	none := func() (*debug.BuildInfo, bool) { return nil, false }
	for _, c := range []struct {
		name            string
		version, commit string
		read            func() (*debug.BuildInfo, bool)
		want            Info
	}{
		{"ldflags", "v0.2.0", "def", recorded, Info{"v0.2.0", "def", "go1.26.0"}},
		{"recorded", "", "", recorded, Info{"v1.2.3", "abc-dirty", "go1.26.0"}},
		{"devel build", "", "", devel, Info{"devel", "unknown", "go1.26.0"}},
	} {
		if got := get(c.version, c.commit, c.read); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
	if got := get("", "", none); got.Version != "devel" || got.Commit != "unknown" || got.Go == "" {
		t.Errorf("no build info: %+v", got)
	}
}
