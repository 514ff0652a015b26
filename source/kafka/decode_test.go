package kafka

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// recorded reads every record of one recorded Debezium Server topic as
// franz-go records.
func recorded(t *testing.T, path string) []*kgo.Record {
	t.Helper()
	rs, err := testenv.ReadRecorded(path)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]*kgo.Record, len(rs))
	for i, r := range rs {
		out[i] = &kgo.Record{Topic: r.Topic, Offset: r.Offset, Key: r.Key, Value: r.Value}
		for _, h := range r.Headers {
			out[i].Headers = append(out[i].Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
		}
	}
	return out
}

// decodeAll decodes records with a fresh JSON decoder: the events, the
// number skipped, and fails the test on a record it cannot read.
func decodeAll(t *testing.T, recs []*kgo.Record) ([]*sluice.Event, int) {
	t.Helper()
	d := newJSONDecoder(newTableCache(), DefaultPlaceholder)
	var evs []*sluice.Event
	skipped := 0
	for _, r := range recs {
		env, err := d.decode(r)
		var skip errSkip
		if errors.As(err, &skip) {
			skipped++
			continue
		}
		if err != nil {
			t.Fatalf("%s@%d: %v\n%s", r.Topic, r.Offset, err, r.Value)
		}
		ev, err := env.event("")
		if err != nil {
			t.Fatalf("%s@%d: %v", r.Topic, r.Offset, err)
		}
		evs = append(evs, ev)
	}
	return evs, skipped
}

// TestDecodeEveryRecording: every record Debezium Server wrote, in every
// recorded mode of both sources, is read as a change event or skipped as
// one of Debezium's other records; none is refused.
func TestDecodeEveryRecording(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/golden/debezium/*/*/*.jsonl")
	if len(files) < 50 {
		t.Fatalf("%d recordings found", len(files))
	}
	total := 0
	for _, f := range files {
		evs, _ := decodeAll(t, recorded(t, f))
		total += len(evs)
	}
	t.Logf("%d events from %d recorded topics", total, len(files))
}

func value(t *testing.T, ev *sluice.Event, row sluice.Row, col string) (sluice.Column, sluice.Value) {
	t.Helper()
	i := ev.Table.Index(col)
	if i < 0 {
		t.Fatalf("%s has no column %s", ev.Table.QualifiedName(), col)
	}
	return ev.Table.Columns[i], row[i]
}

// TestDecodeTypesFromSchemas: with Connect schemas, each column's type
// is the one the source had, and its value is stored as sluice stores
// that type (values from the recording's first all_types row).
func TestDecodeTypesFromSchemas(t *testing.T) {
	evs, _ := decodeAll(t, recorded(t, "../../testdata/golden/debezium/postgres/schemas/dbzpg.public.all_types.jsonl"))
	ev := evs[0]
	if ev.Op != sluice.OpRead || ev.Table.QualifiedName() != "public.all_types" || ev.Table.DB != "dbz" ||
		len(ev.Table.Key) != 1 || ev.Table.Columns[ev.Table.Key[0]].Name != "id" || ev.Snapshot != sluice.SnapshotFirst {
		t.Fatalf("first event: op %s table %s key %v snapshot %s", ev.Op, ev.Table.QualifiedName(), ev.Table.Key, ev.Snapshot)
	}
	for _, c := range []struct {
		col   string
		typ   sluice.Type
		int   int64
		float float64
		bytes string
	}{
		{"c_bool", sluice.TypeBool, 1, 0, ""},
		{"c_int2", sluice.TypeInt16, -32768, 0, ""},
		{"c_int8", sluice.TypeInt64, -9223372036854775808, 0, ""},
		{"c_float8", sluice.TypeFloat64, 0, 3.141592653589793, ""},
		{"c_numeric", sluice.TypeDecimal, 0, 0, "123456789.125"},
		{"c_numeric0", sluice.TypeDecimal, 0, 0, "9999999999"},
		{"c_money", sluice.TypeDecimal, 0, 0, "1234.56"},
		{"c_numeric_free", sluice.TypeDecimal, 0, 0, "0.1000000000000000000000000001"},
		{"c_text", sluice.TypeText, 0, 0, "Grüezi \"Welt\"\n\ttab \\ backslash"},
		{"c_bytea", sluice.TypeBytes, 0, 0, "\xde\xad\xbe\xef"},
		{"c_uuid", sluice.TypeUUID, 0, 0, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
		{"c_jsonb", sluice.TypeJSON, 0, 0, `{"b": {"c": null}}`},
		{"c_date", sluice.TypeDate, 19782, 0, ""},
		{"c_time", sluice.TypeTime, 86399999999, 0, ""},
		{"c_timestamp", sluice.TypeTimestamp, 1704164645123456, 0, ""},
		{"c_timestamptz", sluice.TypeTimestampTZ, 1704161045120000, 0, ""},
		{"c_interval", sluice.TypeInterval, 37091106780000, 0, ""},
		{"c_enum", sluice.TypeEnum, 0, 0, "happy"},
		{"c_bit", sluice.TypeBits, 10, 0, "\x81\x02"},
		{"c_point", sluice.TypeGeometry, 0, 0, "\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\xf8?\x00\x00\x00\x00\x00\x00\x00@"},
	} {
		col, v := value(t, ev, ev.After, c.col)
		if col.Type != c.typ || v.Kind != sluice.KindPresent || v.Int != c.int || v.Float != c.float || string(v.Bytes) != c.bytes {
			t.Errorf("%s: %s %+v, want %s int %d float %v bytes %q", c.col, col.Type, v, c.typ, c.int, c.float, c.bytes)
		}
	}
	col, v := value(t, ev, ev.After, "c_text_arr")
	if col.Type != sluice.TypeArray || col.Elem != sluice.TypeText || len(v.Elems) != 4 || string(v.Elems[1].Bytes) != `c"d` || v.Elems[2].Kind != sluice.KindNull {
		t.Errorf("c_text_arr: %s of %s: %+v", col.Type, col.Elem, v)
	}
}

// TestDecodeChanges: key changes, deletes, unchanged TOAST and the
// positions a search index orders by, with and without schemas.
func TestDecodeChanges(t *testing.T) {
	for _, mode := range []string{"defaults", "schemas"} {
		t.Run(mode, func(t *testing.T) {
			dir := "../../testdata/golden/debezium/postgres/" + mode + "/"
			evs, skipped := decodeAll(t, recorded(t, dir+"dbzpg.public.rid_default.jsonl"))
			var ops []string
			for _, ev := range evs {
				ops = append(ops, ev.Op.String())
			}
			// snapshot rows 1, 2; insert 3; update 1; key change 2→20
			// (delete, create); delete 3; the transaction's inserts 4, 5.
			if got := strings.Join(ops, ""); got != "rrcudcdcc" || skipped != 2 {
				t.Fatalf("ops %s, %d skipped; want rrcudcdcc and 2 tombstones", got, skipped)
			}
			del := evs[4]
			if _, v := value(t, del, del.Before, "id"); v.Int != 2 || del.After != nil {
				t.Errorf("key change's delete: before id %+v, after %v", v, del.After)
			}
			for i := 1; i < len(evs); i++ {
				if evs[i].Pos.TxLSN < evs[i-1].Pos.TxLSN {
					t.Errorf("event %d's version %d is below the one before (%d)", i, evs[i].Pos.TxLSN, evs[i-1].Pos.TxLSN)
				}
			}
			if evs[0].Pos.Epoch != "postgresql/dbzpg" || evs[0].CommitTime.IsZero() {
				t.Errorf("epoch %q, commit time %v", evs[0].Pos.Epoch, evs[0].CommitTime)
			}

			toast, _ := decodeAll(t, recorded(t, dir+"dbzpg.public.toast.jsonl"))
			var unchanged int
			for _, ev := range toast {
				for _, v := range ev.After {
					if v.Kind == sluice.KindUnchanged {
						unchanged++
					}
				}
			}
			if unchanged == 0 {
				t.Error("no unchanged TOAST value read from the placeholder")
			}
		})
	}
}

// TestDecodeMySQLPositions: MariaDB events are ordered by binlog file and
// position and carry the binlog's coordinates.
func TestDecodeMySQLPositions(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/golden/debezium/mariadb/defaults/*.jsonl")
	var streamed int
	for _, f := range files {
		evs, _ := decodeAll(t, recorded(t, f))
		for i, ev := range evs {
			if ev.Binlog == nil || ev.Binlog.File == "" || ev.Pos.TxLSN>>32 == 0 {
				t.Fatalf("%s event %d: binlog %+v, version %x", f, i, ev.Binlog, ev.Pos.TxLSN)
			}
			if ev.Snapshot == sluice.SnapshotFalse {
				streamed++
			}
			if i > 0 && ev.Pos.TxLSN < evs[i-1].Pos.TxLSN {
				t.Errorf("%s event %d goes back from %x to %x", f, i, evs[i-1].Pos.TxLSN, ev.Pos.TxLSN)
			}
		}
	}
	if streamed == 0 {
		t.Fatal("no streamed MariaDB event")
	}
}

// TestDecodeRefuses: what is not a change event sluice can order says
// why (the dead-letter topic's reason); Debezium's other records skip.
func TestDecodeRefuses(t *testing.T) {
	for _, c := range []struct {
		name, value, want string
		skip              bool
	}{
		{"not json", `{"op":`, "not JSON", false},
		{"unwrapped row", `{"id":1,"name":"x"}`, "no op", false},
		{"array", `[1]`, "not a Debezium change event", false},
		{"no source", `{"op":"c","after":{"id":1}}`, "no source block", false},
		{"unknown connector", `{"op":"c","after":{"id":1},"source":{"connector":"oracle","table":"t"}}`, "oracle", false},
		{"postgres without lsn", `{"op":"c","after":{"id":1},"source":{"connector":"postgresql","table":"t"}}`, "lsn", false},
		{"create without after", `{"op":"c","before":{"id":1},"source":{"connector":"postgresql","table":"t","lsn":5}}`, "without after", false},
		{"wrong type", `{"schema":{"type":"struct","fields":[{"field":"after","type":"struct","fields":[{"field":"id","type":"int32"}]}]},"payload":{"op":"c","after":{"id":"x"},"source":{"connector":"postgresql","table":"t","lsn":5}}}`, "string", false},
		// A scale no database has (PostgreSQL keeps at most 16383 digits
		// after the point) would have the decoder build that many zeros.
		{"variable-scale decimal with a huge scale", `{"schema":{"type":"struct","fields":[{"field":"after","type":"struct","fields":[{"field":"id","type":"int32"},{"field":"n","type":"struct","name":"io.debezium.data.VariableScaleDecimal","fields":[{"field":"scale","type":"int32"},{"field":"value","type":"bytes"}]}]}]},"payload":{"op":"c","after":{"id":1,"n":{"scale":4611686018427387904,"value":"AQ=="}},"source":{"connector":"postgresql","table":"t","lsn":5}}}`, "scale", false},
		{"decimal with a huge scale", `{"schema":{"type":"struct","fields":[{"field":"after","type":"struct","fields":[{"field":"id","type":"int32"},{"field":"n","type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"2000000000"}}]}]},"payload":{"op":"c","after":{"id":1,"n":"AQ=="},"source":{"connector":"postgresql","table":"t","lsn":5}}}`, "scale", false},
		{"heartbeat", `{"ts_ms":1}`, "heartbeat", true},
		{"transaction", `{"status":"END","id":"1","event_count":2,"data_collections":[],"ts_ms":1}`, "transaction", true},
		{"schema change", `{"source":{},"databaseName":"db","ddl":"CREATE TABLE t (a int)","tableChanges":[]}`, "schema change", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := newJSONDecoder(newTableCache(), DefaultPlaceholder)
			env, err := d.decode(&kgo.Record{Topic: "x", Key: []byte(`{"id":1}`), Value: []byte(c.value)})
			if err == nil {
				_, err = env.event("")
			}
			var skip errSkip
			if err == nil || !strings.Contains(err.Error(), c.want) || errors.As(err, &skip) != c.skip {
				t.Fatalf("error %v (skip %v), want one containing %q (skip %v)", err, errors.As(err, &skip), c.want, c.skip)
			}
		})
	}
}

// TestGuessedTypesWiden: without schemas a column's type follows the
// values: a float after whole numbers, a value after nulls, make a new
// table; values that fit keep the table.
func TestGuessedTypesWiden(t *testing.T) {
	d := newJSONDecoder(newTableCache(), DefaultPlaceholder)
	read := func(after string) *sluice.Event {
		t.Helper()
		env, err := d.decode(&kgo.Record{Topic: "x", Key: []byte(`{"id":1}`),
			Value: []byte(`{"op":"c","after":` + after + `,"source":{"connector":"postgresql","schema":"s","table":"t","lsn":5}}`)})
		if err != nil {
			t.Fatal(err)
		}
		ev, err := env.event("")
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	a := read(`{"id":1,"n":2,"s":null}`)
	b := read(`{"id":2,"n":3,"s":null}`)
	c := read(`{"id":3,"n":3.5,"s":"x"}`)
	e := read(`{"id":4,"n":4,"s":null}`)
	if a.Table != b.Table || c.Table == b.Table || e.Table != c.Table {
		t.Fatalf("tables: a=b %v, c≠b %v, e=c %v", a.Table == b.Table, c.Table != b.Table, e.Table == c.Table)
	}
	if n := c.Table.Columns[1]; n.Type != sluice.TypeFloat64 || c.Table.Columns[2].Type != sluice.TypeText || c.After[1].Float != 3.5 {
		t.Fatalf("widened columns %v %v, n = %+v", n.Type, c.Table.Columns[2].Type, c.After[1])
	}
	if e.After[1].Float != 4 || e.Table.Key[0] != 0 {
		t.Fatalf("whole number in a float column: %+v, key %v", e.After[1], e.Table.Key)
	}
}

func TestSequenceFirst(t *testing.T) {
	for in, want := range map[string]uint64{
		`[null,"1359775280"]`: 0, `["1359778272","1359778272"]`: 1359778272, `["18446744073709551615","1"]`: 1<<64 - 1,
		`["18446744073709551616","1"]`: 0, `["99999999999999999999","1"]`: 0, `["12x","1"]`: 0, `[]`: 0, ``: 0, `["7"`: 7, `["7`: 0,
	} {
		if got := sequenceFirst([]byte(in)); got != want {
			t.Errorf("sequenceFirst(%s) = %d, want %d", in, got, want)
		}
	}
}

// BenchmarkDecodeJSON: one recorded change event (no schemas) to an
// event, as the poll loop's workers do it.
func BenchmarkDecodeJSON(b *testing.B) {
	for _, mode := range []string{"defaults", "schemas"} {
		b.Run(mode, func(b *testing.B) {
			rs, err := testenv.ReadRecorded("../../testdata/golden/debezium/postgres/" + mode + "/dbzpg.public.rid_default.jsonl")
			if err != nil {
				b.Fatal(err)
			}
			r := &kgo.Record{Topic: rs[2].Topic, Key: rs[2].Key, Value: rs[2].Value}
			d := newJSONDecoder(newTableCache(), DefaultPlaceholder)
			b.ReportAllocs()
			for b.Loop() {
				env, err := d.decode(r)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := env.event(""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestOtherKeyFromHeaders: the halves of a primary-key change carry the
// other key from Debezium's __debezium.newkey / oldkey headers.
func TestOtherKeyFromHeaders(t *testing.T) {
	for _, mode := range []string{"defaults", "schemas"} {
		recs := recorded(t, "../../testdata/golden/debezium/postgres/"+mode+"/dbzpg.public.rid_default.jsonl")
		d := &decoder{json: newJSONDecoder(newTableCache(), DefaultPlaceholder)}
		var others []string
		for _, r := range recs {
			env, err := d.json.decode(r)
			if err != nil {
				continue
			}
			ev, err := env.event("")
			if err != nil {
				t.Fatal(err)
			}
			if k := d.otherKey(ev, r.Headers); k != nil {
				others = append(others, fmt.Sprintf("%s:%d", ev.Op, k[ev.Table.Key[0]].Int))
			}
		}
		if got := strings.Join(others, " "); got != "d:20 c:2" {
			t.Errorf("%s: other keys %q, want the delete of 2 with new key 20 and the create of 20 with old key 2", mode, got)
		}
	}
}

// TestDateInfinity: the days Debezium streams for PostgreSQL's date
// infinity and -infinity are infinite dates again.
func TestDateInfinity(t *testing.T) {
	c := connectColumn("d", connInt32, "io.debezium.time.Date", nil, true)
	for n, want := range map[int64]int64{-2147472692: sluice.InfinityPos, -2147472691: sluice.InfinityNeg, 19782: 19782, -735160: -735160} {
		if v, err := fromInt(&c, n); err != nil || v.Int != want {
			t.Errorf("fromInt(%d) = %d, %v; want %d", n, v.Int, err, want)
		}
	}
}
