package postgres

import (
	"strconv"
	"testing"
)

// TestXidSnapshotVisible: a 32-bit xid from a Begin message is placed in
// the epoch nearest the snapshot's xmax before it is compared, so
// visibility is right across an epoch boundary.
func TestXidSnapshotVisible(t *testing.T) {
	const epoch = uint64(7) << 32
	for _, c := range []struct {
		snap    string
		xid     uint32
		visible bool
	}{
		{"100:110:100,105", 99, true},
		{"100:110:100,105", 100, false},
		{"100:110:100,105", 104, true},
		{"100:110:100,105", 105, false},
		{"100:110:100,105", 110, false},
		{"100:110:", 4294967295, true}, // the previous epoch, long ago
		{strconv.FormatUint(epoch-5, 10) + ":" + strconv.FormatUint(epoch+3, 10) + ":" + strconv.FormatUint(epoch-5, 10), 4294967291, false},
		{strconv.FormatUint(epoch-5, 10) + ":" + strconv.FormatUint(epoch+3, 10) + ":" + strconv.FormatUint(epoch-5, 10), 4294967292, true},
		{strconv.FormatUint(epoch-5, 10) + ":" + strconv.FormatUint(epoch+3, 10) + ":", 2, true},
		{strconv.FormatUint(epoch-5, 10) + ":" + strconv.FormatUint(epoch+3, 10) + ":", 3, false},
	} {
		s, err := parseXidSnapshot(c.snap)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.visible(c.xid); got != c.visible {
			t.Errorf("snapshot %s: xid %d visible %v, want %v", c.snap, c.xid, got, c.visible)
		}
	}
	for _, bad := range []string{"", "1:2", "a:2:", "1:2:x"} {
		if _, err := parseXidSnapshot(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
