package mysql

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// rawEvent frames body as a binlog event of type typ at position pos,
// with a CRC32 checksum when crc is set (fuzz_test.go's events too).
func rawEvent(typ replication.EventType, ts, pos uint32, body []byte, crc bool) []byte {
	n := replication.EventHeaderSize + len(body)
	if crc {
		n += replication.BinlogChecksumLength
	}
	// Exactly as long as the event: go-mysql's row decoder may slice past
	// an event's end into its buffer's spare capacity, which a refused
	// image in FuzzBinlogValue must not have.
	b := binary.LittleEndian.AppendUint32(make([]byte, 0, n), ts)
	b = append(b, byte(typ))
	b = binary.LittleEndian.AppendUint32(b, 1) // server id
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	b = binary.LittleEndian.AppendUint32(b, pos)
	b = binary.LittleEndian.AppendUint16(b, 0)
	b = append(b, body...)
	if crc {
		b = binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
	}
	return b
}

// rawFDE is a MariaDB format description event whose table maps carry
// 6-byte table ids.
func rawFDE(crc bool) []byte {
	b := binary.LittleEndian.AppendUint16(nil, 4)
	b = append(b, make([]byte, 50)...)
	copy(b[2:], "10.11.6-MariaDB-log")
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = append(b, replication.EventHeaderSize)
	lengths := make([]byte, 164)
	lengths[replication.TABLE_MAP_EVENT-1] = 8
	b = append(b, lengths...)
	if crc {
		return rawEvent(replication.FORMAT_DESCRIPTION_EVENT, 0, 256, append(b, replication.BINLOG_CHECKSUM_ALG_CRC32), true)
	}
	return rawEvent(replication.FORMAT_DESCRIPTION_EVENT, 0, 256, append(b, replication.BINLOG_CHECKSUM_ALG_OFF, 0, 0, 0, 0), false)
}

// tableMapSpec describes the table map event of db.t with an INT and a
// VARCHAR column.
type tableMapSpec struct {
	varcharLen uint16
	idType     byte
	names      []string
}

// body is the event's body: fixed part, column metadata and, as optional
// metadata, the column names.
func (s tableMapSpec) body() []byte {
	b := []byte{7, 0, 0, 0, 0, 0, 1, 0} // table id 7, flags
	b = append(b, 2, 'd', 'b', 0, 1, 't', 0, 2, s.idType, mysql.MYSQL_TYPE_VARCHAR)
	b = append(b, 2, byte(s.varcharLen), byte(s.varcharLen>>8)) // metadata: the VARCHAR's length
	b = append(b, 0b11)                                         // null bitmap
	var names []byte
	for _, n := range s.names {
		names = append(append(names, byte(len(n))), n...)
	}
	return append(append(b, 4, byte(len(names))), names...) // COLUMN_NAME
}

// TestTableMapRebuilt: a table id's relation is rebuilt, from the event
// decoded whole, when any byte that describes the table changes (a
// column's type, its metadata, which the row decoder reads values by, or
// its name, which the replication client leaves undecoded); an event
// that repeats the map with another header and checksum keeps it, without
// allocating.
func TestTableMapRebuilt(t *testing.T) {
	base := tableMapSpec{varcharLen: 80, idType: mysql.MYSQL_TYPE_LONG, names: []string{"id", "v"}}
	tests := []struct {
		name    string
		next    tableMapSpec
		rebuilt bool
		names   []string
	}{
		{"the same map", base, false, []string{"id", "v"}},
		{"longer varchar", tableMapSpec{1020, mysql.MYSQL_TYPE_LONG, base.names}, true, []string{"id", "v"}},
		{"another type", tableMapSpec{80, mysql.MYSQL_TYPE_LONGLONG, base.names}, true, []string{"id", "v"}},
		{"renamed column", tableMapSpec{80, mysql.MYSQL_TYPE_LONG, []string{"id", "w"}}, true, []string{"id", "w"}},
	}
	for _, crc := range []bool{true, false} {
		for _, tc := range tests {
			// The replication client's parser, as the syncer runs it.
			p := replication.NewBinlogParser()
			p.SetFlavor(mysql.MariaDBFlavor)
			p.SetTableMapOptionalMetaDecodeFunc(skipOptionalMeta)
			st := &stream{srv: &server{flavor: mysql.MariaDBFlavor}, log: zap.NewNop(), rels: map[uint64]*relMap{},
				tables: map[string]bool{"db.t": true}, refCache: map[string]refinements{"db.t": {}}}
			handle := func(raw []byte) {
				t.Helper()
				ev, err := p.Parse(raw)
				if err != nil {
					t.Fatalf("crc %v, %s: parse: %v", crc, tc.name, err)
				}
				if err := st.handle(ev); err != nil {
					t.Fatalf("crc %v, %s: %v", crc, tc.name, err)
				}
			}
			handle(rawFDE(crc))
			first := rawEvent(replication.TABLE_MAP_EVENT, 100, 400, base.body(), crc)
			handle(first)
			m := st.rels[7]
			if m == nil || m.rel == nil {
				t.Fatalf("crc %v: no relation for table id 7", crc)
			}
			next := rawEvent(replication.TABLE_MAP_EVENT, 200, 900, tc.next.body(), crc)
			handle(next)
			if rebuilt := st.rels[7] != m; rebuilt != tc.rebuilt {
				t.Errorf("crc %v, %s: rebuilt = %v, want %v", crc, tc.name, rebuilt, tc.rebuilt)
			}
			var names []string
			for _, c := range st.rels[7].rel.table.Columns {
				names = append(names, c.Name)
			}
			if !slices.Equal(names, tc.names) {
				t.Errorf("crc %v, %s: columns %v, want %v", crc, tc.name, names, tc.names)
			}
			if !tc.rebuilt {
				ev, err := p.Parse(next)
				if err != nil {
					t.Fatal(err)
				}
				if n := testing.AllocsPerRun(100, func() { _ = st.handle(ev) }); n != 0 {
					t.Errorf("crc %v: an unchanged table map allocates %v times", crc, n)
				}
			}
		}
	}
}

// TestTableMapBeforeFormat: a table map read before any format
// description event cannot be decoded whole, and says so.
func TestTableMapBeforeFormat(t *testing.T) {
	st := &stream{srv: &server{flavor: mysql.MariaDBFlavor}, log: zap.NewNop(), rels: map[uint64]*relMap{}}
	raw := rawEvent(replication.TABLE_MAP_EVENT, 100, 400, tableMapSpec{80, mysql.MYSQL_TYPE_LONG, []string{"id", "v"}}.body(), false)
	err := st.tableMap(raw, 7)
	if err == nil || !strings.Contains(err.Error(), "format description") {
		t.Fatalf("err = %v, want one about the format description event", err)
	}
}

// TestTableMapOnce: MariaDB repeats a table's map in every transaction;
// the stream builds its relation once, so the events of separate
// transactions share one table, and it builds it again after the table
// changed.
func TestTableMapOnce(t *testing.T) {
	h := newHarness(t)
	h.exec("DROP TABLE IF EXISTS tmap", "CREATE TABLE tmap (id int PRIMARY KEY, v varchar(20))")
	h.dropAfter("tmap")
	h.start(map[string]any{"tables": []any{"tmap"}})
	h.streaming()
	for i := range 3 {
		h.exec(fmt.Sprintf("INSERT INTO tmap VALUES (%d, 'x')", i))
	}
	all := h.wait(3)
	evs := creates(all)
	if len(evs) != 3 {
		t.Fatalf("%d changes, want 3", len(evs))
	}
	for _, ev := range evs[1:] {
		if ev.Table != evs[0].Table {
			t.Fatalf("the transactions' events have tables %p and %p: the relation was built again", evs[0].Table, ev.Table)
		}
	}
	h.exec("ALTER TABLE tmap ADD COLUMN w int", "INSERT INTO tmap VALUES (3, 'y', 7)")
	evs = creates(h.wait(len(all) + 1))
	last := evs[len(evs)-1]
	if len(evs) != 4 {
		t.Fatalf("%d inserts, want 4", len(evs))
	}
	if last.Table == evs[0].Table || len(last.Table.Columns) != 3 || last.Table.Columns[2].Name != "w" {
		t.Fatalf("after ADD COLUMN the insert has table %p with columns %v", last.Table, last.Table.Columns)
	}
}

// creates are the inserts among evs.
func creates(evs []*sluice.Event) []*sluice.Event {
	var out []*sluice.Event
	for _, ev := range evs {
		if ev.Op == sluice.OpCreate {
			out = append(out, ev)
		}
	}
	return out
}
