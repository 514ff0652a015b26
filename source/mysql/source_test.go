package mysql

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/source"
)

// TestOffsetOfAnotherServerIsRefused: an offset stored for another server
// (its server_id differs) names a binlog position that means nothing
// here. Run refuses it with what to do, or, with snapshot.mode
// when_needed, takes a new snapshot.
func TestOffsetOfAnotherServerIsRefused(t *testing.T) {
	h := newHarness(t)
	h.exec("DROP TABLE IF EXISTS otherserver", "CREATE TABLE otherserver (id int PRIMARY KEY)", "INSERT INTO otherserver VALUES (1), (2)")
	h.dropAfter("otherserver")
	r, err := h.db.Execute("SHOW MASTER STATUS")
	if err != nil {
		t.Fatal(err)
	}
	file, _ := r.GetString(0, 0)
	pos, _ := r.GetUint(0, 1)
	store := &fileStore{path: filepath.Join(h.stateDir, h.name+".mysql.json")}
	foreign := &offset{Version: 1, ServerID: 4242, File: file, Pos: uint32(pos), SnapshotDone: true}
	if err := store.Save(nil, foreign); err != nil {
		t.Fatal(err)
	}
	s := h.newSource(map[string]any{"tables": []any{"otherserver"}, "snapshot": map[string]any{"mode": "initial"}})
	ctx, cancel := contextTimeout(10 * time.Second)
	defer cancel()
	err = s.Run(ctx, func(*sluice.Event) error { return nil })
	for _, want := range []string{"server_id 4242", "server_id 1", "when_needed", "delete the stored offset"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("Run = %v, want a permanent error containing %q", err, want)
		}
	}
	if !sluice.IsPermanent(err) {
		t.Fatalf("Run = %v, want a permanent error", err)
	}

	// when_needed: a new snapshot, then the offset is the server's own.
	h.start(map[string]any{"tables": []any{"otherserver"}, "snapshot": map[string]any{"mode": "when_needed"}})
	h.streaming()
	if evs := h.wait(2); len(evs) != 2 || evs[0].Op != sluice.OpRead {
		t.Fatalf("when_needed: %s, want the 2 rows read by a new snapshot", ids(evs))
	}
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	o, err := store.Load(nil)
	if err != nil || o == nil || o.ServerID == 4242 {
		t.Fatalf("stored offset after the new snapshot: %+v, %v; want the server's id", o, err)
	}
}

// TestConnectorFollowsFlavor: flavor mariadb makes the source Debezium's
// MariaDB connector ("mariadb" in source.connector and in the codec's
// schema names); mysql and a detected flavor keep "mysql", since the
// encoder is built before any connection.
func TestConnectorFollowsFlavor(t *testing.T) {
	for flavor, want := range map[string]string{"": "mysql", "mysql": "mysql", "mariadb": "mariadb"} {
		c := Config{}.Defaults()
		c.DSN, c.Flavor = "sluice@tcp(h:1)/shop", flavor
		s, err := New(c, source.Env{Pipeline: "shop", Path: "src", Logger: zap.NewNop()})
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Connector(); got != want {
			t.Errorf("flavor %q: Connector() = %q, want %q", flavor, got, want)
		}
	}
}

// TestConfirm: a confirmed mark is what the offset saver and the
// retention check read, stored with one allocation (a commit of every
// transaction is confirmed).
func TestConfirm(t *testing.T) {
	s := &Source{}
	if s.confirmed() != nil {
		t.Fatal("a position is confirmed before any mark")
	}
	pos := sluice.Position{TxLSN: 42, Resume: "mysql-bin.000003:1234"}
	s.Confirm(pos)
	if r := s.confirmed(); r == nil || *r != pos.Resume {
		t.Fatalf("confirmed = %v, want %q", r, pos.Resume)
	}
	if c := s.confirmation.Load(); c.tx != 42 {
		t.Fatalf("confirmation TxLSN = %d, want 42", c.tx)
	}
	if n := testing.AllocsPerRun(100, func() { s.Confirm(pos) }); n != 1 {
		t.Errorf("Confirm allocates %v times, want 1", n)
	}
}
