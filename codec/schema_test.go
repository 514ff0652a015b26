package codec

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// specialTypes has the columns whose encoding depends on the database
// type or on a mode: hstore, point, ltree, arrays of every placeholder
// shape, a two-dimensional array, time and timestamp precisions, and a
// NOT NULL column that a key-only old row lacks.
var specialTypes = &sluice.Table{
	ID: 7, DB: "shop", Schema: "public", Name: "special",
	Columns: []sluice.Column{
		{Name: "id", DBType: "int4", Type: sluice.TypeInt32, Key: true},
		{Name: "k2", DBType: "text", Type: sluice.TypeText, Key: true},
		{Name: "must", DBType: "int8", Type: sluice.TypeInt64},
		{Name: "must_ts", DBType: "timestamptz", Type: sluice.TypeTimestampTZ, Scale: 3},
		{Name: "must_num", DBType: "numeric", Type: sluice.TypeDecimal, Scale: -1},
		{Name: "h", DBType: "hstore", Type: sluice.TypeText, Optional: true},
		{Name: "pt", DBType: "point", Type: sluice.TypeText, Optional: true},
		{Name: "lt", DBType: "ltree", Type: sluice.TypeText, Optional: true},
		{Name: "tv", DBType: "tsvector", Type: sluice.TypeText, Optional: true},
		{Name: "ia", DBType: "_int4", Type: sluice.TypeArray, Elem: sluice.TypeInt32, Optional: true},
		{Name: "ba", DBType: "_bytea", Type: sluice.TypeArray, Elem: sluice.TypeBytes, Optional: true},
		{Name: "ua", DBType: "_uuid", Type: sluice.TypeArray, Elem: sluice.TypeUUID, Optional: true},
		{Name: "ta", DBType: "_text", Type: sluice.TypeArray, Elem: sluice.TypeText, Optional: true},
		{Name: "na", DBType: "_numeric", Type: sluice.TypeArray, Elem: sluice.TypeDecimal, Scale: -1, Optional: true},
		{Name: "ea", DBType: "_mood", Type: sluice.TypeArray, Elem: sluice.TypeEnum, Enum: []string{"sad", "ok"}, Optional: true},
		{Name: "tza", DBType: "_timestamptz", Type: sluice.TypeArray, Elem: sluice.TypeTimestampTZ, Scale: -1, Optional: true},
		{Name: "d2", DBType: "_int4", Type: sluice.TypeArray, Elem: sluice.TypeInt32, Optional: true},
		{Name: "t3", DBType: "time", Type: sluice.TypeTime, Scale: 3, Optional: true},
		{Name: "ts3", DBType: "timestamp", Type: sluice.TypeTimestamp, Scale: 3, Optional: true},
		{Name: "d", DBType: "date", Type: sluice.TypeDate, Optional: true},
		{Name: "bin", DBType: "bytea", Type: sluice.TypeBytes, Optional: true},
		{Name: "iv", DBType: "interval", Type: sluice.TypeInterval, Scale: -1, Optional: true},
		{Name: "vb", DBType: "varbit", Type: sluice.TypeBits, Optional: true},
		{Name: "vb1", DBType: "varbit", Type: sluice.TypeBits, Length: 1, Optional: true},
		{Name: "big", DBType: "text", Type: sluice.TypeText, Optional: true},
	},
	Key: []int{1, 0}, // declared (k2, id)
}

func arr(vs ...sluice.Value) sluice.Value { return sluice.Value{Kind: sluice.KindPresent, Elems: vs} }

func specialRow() sluice.Row {
	unchanged := sluice.Value{Kind: sluice.KindUnchanged}
	return sluice.Row{
		num(1), txt("a"), num(7), num(1704161045120000), txt("1.50"),
		txt(`"k1"=>"v1", "k 2"=>NULL`), txt("(1.5,2)"), txt("Top.Science"), txt("'a' 'cat'"),
		unchanged, unchanged, unchanged, unchanged,
		arr(txt("1.10"), null, txt("-2.5")), arr(txt("sad"), txt("ok")), arr(num(1704067200000000)),
		arr(arr(num(1), num(2)), arr(num(3), num(4))),
		num(45296789000), num(sluice.InfinityPos), num(sluice.InfinityNeg), unchanged,
		{Kind: sluice.KindPresent, Int: 37091106780000, Bytes: []byte("P1Y2M3DT4H5M6.78S")},
		{Kind: sluice.KindPresent, Int: 3, Bytes: []byte{0x05}}, {Kind: sluice.KindPresent, Int: 1, Bytes: []byte{0x01}}, unchanged,
	}
}

// encoderModes are the option sets the validation runs with.
func encoderModes() map[string]Options {
	return map[string]Options{
		"defaults": {}, "lossless": {Profile: ProfileLossless}, "decimal_string": {Decimal: DecimalString},
		"decimal_double": {Decimal: DecimalDouble}, "time_connect": {Time: TimeConnect},
		"binary_base64": {Binary: BinaryBase64}, "binary_hex": {Binary: BinaryHex}, "interval_string": {Interval: IntervalString},
		"hstore_map": {Hstore: HstoreMap}, "transaction": {TransactionMetadata: true}, "nested": {MultidimArrays: MultidimNested},
		"bigint_precise": {BigintUnsigned: BigintPrecise},
	}
}

// TestPayloadsMatchTheirSchemas: with schemas on, every key and value the
// codec writes validates against its own Connect schema (required fields
// present, types matching, array items of the items' type), for every
// kind of event and every mode, PostgreSQL and MySQL/MariaDB alike.
func TestPayloadsMatchTheirSchemas(t *testing.T) {
	forEachEncoder(t, encoderModes(), func(o *Options) { o.Schemas = true }, func(mode, conn string, enc *Encoder) {
		var events []*sluice.Event
		for _, tbl := range testTables {
			events = append(events, tableEvents(tbl)...)
		}
		events = append(events, otherEvents()...)
		for i, ev := range events {
			what := fmt.Sprintf("%s/%s event %d (%c %v)", mode, conn, i, ev.Op, ev.Table != nil && ev.Table.Name != "")
			val := enc.AppendValue(nil, ev)
			if err := testenv.ValidateConnect(val); err != nil {
				t.Errorf("%s value: %v\n%s", what, err, val)
			}
			if key, ok := enc.AppendKey(nil, ev); ok {
				if err := testenv.ValidateConnect(key); err != nil {
					t.Errorf("%s key: %v\n%s", what, err, key)
				}
			}
			if ev.Table != nil && ev.After != nil {
				if err := testenv.ValidateConnect(enc.AppendKeyRow(nil, ev.Table, ev.After)); err != nil {
					t.Errorf("%s key header: %v", what, err)
				}
			}
		}
		for _, b := range txBoundaries {
			for _, doc := range [][]byte{enc.AppendTxKey(nil, b), enc.AppendTxValue(nil, b, time.Now())} {
				if err := testenv.ValidateConnect(doc); err != nil {
					t.Errorf("%s/%s transaction record: %v\n%s", mode, conn, err, doc)
				}
			}
		}
	})
}

// The inputs of the tests that run every encoder mode on every connector:
// the tables, and a BEGIN and an END transaction boundary.
var (
	testTables   = []*sluice.Table{allTypes, specialTypes, mysqlTypes, structTable}
	txBoundaries = []*TxBoundary{{ID: "1:2"}, {End: true, ID: "1:2", Events: 3, Collections: []TxCollection{{"public.a", 2}, {"public.b", 1}}}}
)

// fixedClock is the processing time of those tests' encoders.
func fixedClock() time.Time { return time.Unix(0, 1559033904863841257) }

// forEachEncoder calls f with an encoder per mode and connector (the
// options named "srv", database "shop", fixedClock, then set's changes).
func forEachEncoder(t *testing.T, modes map[string]Options, set func(*Options), f func(mode, conn string, enc *Encoder)) {
	t.Helper()
	for mode, opt := range modes {
		for _, conn := range []string{ConnectorPostgres, ConnectorMySQL, ConnectorMariaDB} {
			opt := opt
			opt.Name, opt.Connector, opt.DB, opt.Clock = "srv", conn, "shop", fixedClock
			set(&opt)
			enc, err := New(opt)
			if err != nil {
				t.Fatal(err)
			}
			f(mode, conn, enc)
		}
	}
}

// tableEvents are an insert, an update with a key-only old row, a delete,
// a snapshot read and a truncate of tbl.
func tableEvents(tbl *sluice.Table) []*sluice.Event {
	row := allRow()
	switch tbl {
	case specialTypes:
		row = specialRow()
	case structTable:
		row = structRow()
	case mysqlTypes:
		row = mysqlRow()
	}
	ins := baseEvent(sluice.OpCreate)
	ins.Table, ins.After = tbl, row
	upd := baseEvent(sluice.OpUpdate)
	upd.Table, upd.After, upd.Before = tbl, row, keyOnly(row, tbl)
	del := baseEvent(sluice.OpDelete)
	del.Table, del.Before = tbl, keyOnly(row, tbl)
	snap := baseEvent(sluice.OpRead)
	snap.Table, snap.After, snap.Snapshot = tbl, row, sluice.SnapshotFirst
	tr := baseEvent(sluice.OpTruncate)
	tr.Table = tbl
	return []*sluice.Event{ins, upd, del, snap, tr}
}

// otherEvents are a transactional logical message and a schema change.
func otherEvents() []*sluice.Event {
	return []*sluice.Event{
		{Op: sluice.OpMessage, Message: &sluice.Message{Prefix: "p", Content: []byte("c"), Transactional: true}, TxID: 5, TxOrder: 2, Pos: sluice.Position{LSN: 9, TxLSN: 10}},
		{Op: sluice.OpSchemaChange, DDL: &sluice.DDL{Database: "shop", Statement: "ALTER TABLE t ADD c int"}, Binlog: &sluice.Binlog{ServerID: 1, File: "f", GTID: "0-1-2", TxID: "0-1-2"}},
	}
}

// Key-only old rows carry every column: null, or the type's zero for a
// NOT NULL column (Debezium's fallback); keys follow Table.Key's order.
func TestKeyOnlyBeforeAndKeyOrder(t *testing.T) {
	enc, _ := New(Options{Name: "srv", Connector: ConnectorPostgres})
	del := baseEvent(sluice.OpDelete)
	del.Table, del.Before = specialTypes, keyOnly(specialRow(), specialTypes)
	val := string(enc.AppendValue(nil, del))
	want := `"before":{"id":1,"k2":"a","must":0,"must_ts":"1970-01-01T00:00:00.000Z","must_num":{"scale":0,"value":"AA=="},"h":null,`
	if !strings.Contains(val, want) {
		t.Errorf("before image:\n%s\nwant it to contain\n%s", val, want)
	}
	key, _ := enc.AppendKey(nil, del)
	if string(key) != `{"k2":"a","id":1}` {
		t.Errorf("key %s, want Table.Key's order", key)
	}
}

// Unchanged TOAST values take the shape Debezium gives them per type
// (the uuid[] one is Java's UUID.nameUUIDFromBytes of the placeholder).
func TestToastPlaceholderShapes(t *testing.T) {
	for _, c := range []struct {
		opt  Options
		want string
	}{
		{Options{}, `"ia":[95,95,100,101,98,101,122,105,117,109,95,117,110,97,118,97,105,108,97,98,108,101,95,118,97,108,117,101],"ba":["X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ=="],"ua":["b68a35a7-17ad-35b3-af2a-ae46edb4545a"],"ta":["__debezium_unavailable_value"]`},
		{Options{Binary: BinaryBase64}, `"bin":null`},
		{Options{Binary: BinaryHex}, `"bin":"__debezium_unavailable_value"`},
		{Options{Placeholder: "x"}, `"ia":[120],"ba":["eA=="]`},
		{Options{Toast: ToastOmit}, `"iv":`},
		{Options{}, `"vb":"BQ==","vb1":true,`},
	} {
		c.opt.Name, c.opt.Connector = "srv", ConnectorPostgres
		enc, _ := New(c.opt)
		ins := baseEvent(sluice.OpCreate)
		ins.Table, ins.After = specialTypes, specialRow()
		val := string(enc.AppendValue(nil, ins))
		if !strings.Contains(val, c.want) {
			t.Errorf("%+v:\n%s\nwant it to contain\n%s", c.opt, val, c.want)
		}
		if c.opt.Toast == ToastOmit && strings.Contains(val, `"ia"`) {
			t.Errorf("omit mode wrote the unchanged column: %s", val)
		}
	}
}

// PostGIS values (hex EWKB text) are Debezium's Geometry and Geography:
// the EWKB as it is and the SRID the type word flags.
func TestPostgis(t *testing.T) {
	tbl := &sluice.Table{Schema: "public", Name: "g", Key: []int{0}, Columns: []sluice.Column{
		{Name: "id", DBType: "int4", Type: sluice.TypeInt32, Key: true},
		{Name: "geom", DBType: "geometry", Type: sluice.TypeText, Optional: true},
		{Name: "geog", DBType: "geography", Type: sluice.TypeText, Optional: true},
	}}
	enc, _ := New(Options{Name: "srv", Connector: ConnectorPostgres, Schemas: true})
	ins := baseEvent(sluice.OpCreate)
	// POINT(1 2) with SRID 4326, and without SRID.
	ins.Table, ins.After = tbl, sluice.Row{num(1), txt("0101000020E6100000000000000000F03F0000000000000040"), txt("0101000000000000000000F03F0000000000000040")}
	val := enc.AppendValue(nil, ins)
	if err := testenv.ValidateConnect(val); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"geom":{"wkb":"AQEAACDmEAAAAAAAAAAA8D8AAAAAAAAAQA==","srid":4326}`, `"geog":{"wkb":"AQEAAAAAAAAAAADwPwAAAAAAAABA","srid":null}`,
		`"name":"io.debezium.data.geometry.Geography","version":1,"doc":"Geography","field":"geog"`} {
		if !strings.Contains(string(val), want) {
			t.Errorf("missing %s in\n%s", want, val)
		}
	}
}
