package kafka

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	havro "github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice"
)

const avroGolden = "../../testdata/golden/debezium-avro"

// fakeSchemas serves the recordings' ids/<id>.avsc: the self-contained
// writer schema of every id a recorded record carries.
type fakeSchemas struct {
	mu    sync.Mutex
	texts map[int]string
	calls map[int]int
}

func (f *fakeSchemas) SchemaByID(_ context.Context, id int) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[id]++
	s, ok := f.texts[id]
	if !ok {
		return "", fmt.Errorf("schema id %d: not registered", id)
	}
	return s, nil
}

func newFakeSchemas(t *testing.T, source string) *fakeSchemas {
	t.Helper()
	f := &fakeSchemas{texts: map[int]string{}, calls: map[int]int{}}
	files, _ := filepath.Glob(filepath.Join(avroGolden, source, "ids", "*.avsc"))
	if len(files) == 0 {
		t.Fatalf("no schemas in %s/%s/ids", avroGolden, source)
	}
	for _, p := range files {
		id, err := strconv.Atoi(strings.TrimSuffix(filepath.Base(p), ".avsc"))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		f.texts[id] = string(b)
	}
	return f
}

// recordedAvro reads a recorded Avro topic: {"key_hex":…,"value_hex":…}
// lines; the topic is the file's name.
func recordedAvro(t *testing.T, path string) []*kgo.Record {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	topic := strings.TrimSuffix(filepath.Base(path), ".jsonl")
	var out []*kgo.Record
	sc := bufio.NewScanner(fh)
	sc.Buffer(nil, 64<<20)
	for off := int64(0); sc.Scan(); off++ {
		var l struct {
			Key   *string `json:"key_hex"`
			Value *string `json:"value_hex"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("%s:%d: %v", path, off+1, err)
		}
		r := &kgo.Record{Topic: topic, Offset: off}
		for _, p := range []struct {
			hex *string
			dst *[]byte
		}{{l.Key, &r.Key}, {l.Value, &r.Value}} {
			if p.hex != nil {
				if *p.dst, err = hex.DecodeString(*p.hex); err != nil {
					t.Fatalf("%s:%d: %v", path, off+1, err)
				}
			}
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// decoded is one record's outcome.
type decoded struct {
	env  *envelope
	skip string // errSkip's reason
}

func decodeAvroAll(t *testing.T, d *avroDecoder, recs []*kgo.Record) []decoded {
	t.Helper()
	out := make([]decoded, len(recs))
	for i, r := range recs {
		env, err := d.decode(context.Background(), r)
		var skip errSkip
		switch {
		case errors.As(err, &skip):
			out[i].skip = string(skip)
			continue
		case err != nil:
			t.Fatalf("%s@%d: %v", r.Topic, r.Offset, err)
		}
		if _, err := env.event(""); err != nil {
			t.Fatalf("%s@%d: event: %v", r.Topic, r.Offset, err)
		}
		out[i].env = env
	}
	return out
}

func decodeJSONAll(t *testing.T, recs []*kgo.Record) []decoded {
	t.Helper()
	d := newJSONDecoder(newTableCache(), DefaultPlaceholder)
	out := make([]decoded, len(recs))
	for i, r := range recs {
		env, err := d.decode(r)
		var skip errSkip
		switch {
		case errors.As(err, &skip):
			out[i].skip = string(skip)
		case err != nil:
			t.Fatalf("%s@%d: %v", r.Topic, r.Offset, err)
		default:
			out[i].env = env
		}
	}
	return out
}

// jsonTwin is the JSON recording (mode schemas: Connect schemas in every
// record, so types come from the same Connect schemas as Avro's) of an
// Avro recording's topic: the same fixture, another topic prefix and
// database name.
func jsonTwin(source, avroFile string) string {
	base := filepath.Base(avroFile)
	switch source {
	case "postgres":
		base = "dbzpg" + strings.TrimPrefix(base, "dbzavro")
	case "mariadb":
		if base == "dbzavromaria.jsonl" {
			base = "dbzmaria.jsonl"
		} else {
			base = "dbzmaria.dbz" + strings.TrimPrefix(base, "dbzavromaria.dbzavro")
		}
	}
	return filepath.Join("../../testdata/golden/debezium", source, "schemas", base)
}

// TestAvroDecodeRecordings: every record of the Avro recordings is read
// as a change event or skipped as one of Debezium's others, and its event
// is valid; the tombstones and schema changes are skipped.
func TestAvroDecodeRecordings(t *testing.T) {
	for _, tc := range []struct {
		source string
		events int
		skips  map[string]int
	}{
		{"postgres", 81, map[string]int{"tombstone": 11}},
		{"mariadb", 54, map[string]int{"tombstone": 9, "schema change": 25}},
	} {
		t.Run(tc.source, func(t *testing.T) {
			d := newAvroDecoder(newFakeSchemas(t, tc.source), DefaultPlaceholder)
			files, _ := filepath.Glob(filepath.Join(avroGolden, tc.source, "*.jsonl"))
			events, skips := 0, map[string]int{}
			for _, f := range files {
				for _, x := range decodeAvroAll(t, d, recordedAvro(t, f)) {
					if x.env != nil {
						events++
					} else {
						skips[x.skip]++
					}
				}
			}
			if events != tc.events || fmt.Sprint(skips) != fmt.Sprint(tc.skips) {
				t.Errorf("%d events, skipped %v; want %d, %v", events, skips, tc.events, tc.skips)
			}
		})
	}
}

// TestAvroMatchesJSON: each Avro record decodes to the envelope the JSON
// decoder makes of the same change in the JSON recording with Connect
// schemas (mode schemas): the same op, table, columns (types, keys,
// scales, …), rows and messages. Only the source blocks differ (another
// database, topic prefix, time and log position).
func TestAvroMatchesJSON(t *testing.T) {
	for _, source := range []string{"postgres", "mariadb"} {
		t.Run(source, func(t *testing.T) {
			d := newAvroDecoder(newFakeSchemas(t, source), DefaultPlaceholder)
			files, _ := filepath.Glob(filepath.Join(avroGolden, source, "*.jsonl"))
			compared := 0
			for _, f := range files {
				a := decodeAvroAll(t, d, recordedAvro(t, f))
				j := decodeJSONAll(t, recorded(t, jsonTwin(source, f)))
				if len(a) != len(j) {
					t.Errorf("%s: %d records, the JSON recording %d", filepath.Base(f), len(a), len(j))
					continue
				}
				for i := range a {
					switch {
					case a[i].skip != j[i].skip:
						t.Errorf("%s@%d: skipped %q, JSON %q", filepath.Base(f), i, a[i].skip, j[i].skip)
					case a[i].env != nil:
						compared++
						for _, diff := range diffEnvelopes(a[i].env, j[i].env) {
							t.Errorf("%s@%d: Avro vs JSON: %s", filepath.Base(f), i, diff)
						}
					}
				}
			}
			if compared < 40 {
				t.Errorf("only %d events compared", compared)
			}
		})
	}
}

// diffEnvelopes lists how two envelopes of the same change differ, but
// for the source block (another database, prefix, time and position).
func diffEnvelopes(a, j *envelope) []string {
	var out []string
	if a.op != j.op {
		return []string{fmt.Sprintf("op %c vs %c", a.op, j.op)}
	}
	if a.txOrder != j.txOrder || a.tableOrder != j.tableOrder {
		out = append(out, fmt.Sprintf("transaction orders %d/%d vs %d/%d", a.txOrder, a.tableOrder, j.txOrder, j.tableOrder))
	}
	if (a.message == nil) != (j.message == nil) || a.message != nil && (a.message.Prefix != j.message.Prefix ||
		string(a.message.Content) != string(j.message.Content) || a.message.Transactional != j.message.Transactional) {
		out = append(out, fmt.Sprintf("message %+v vs %+v", a.message, j.message))
	}
	if (a.table == nil) != (j.table == nil) {
		return append(out, "table nil vs not")
	}
	if a.table == nil {
		return out
	}
	if a.table.Name != j.table.Name || a.table.Schema != j.table.Schema || !slices.Equal(a.table.Key, j.table.Key) {
		out = append(out, fmt.Sprintf("table %s.%s key %v vs %s.%s key %v", a.table.Schema, a.table.Name, a.table.Key, j.table.Schema, j.table.Name, j.table.Key))
	}
	if len(a.table.Columns) != len(j.table.Columns) {
		return append(out, fmt.Sprintf("%d columns vs %d", len(a.table.Columns), len(j.table.Columns)))
	}
	for i, ac := range a.table.Columns {
		if jc := j.table.Columns[i]; fmt.Sprint(ac) != fmt.Sprint(jc) {
			out = append(out, fmt.Sprintf("column %d: %+v vs %+v", i, ac, jc))
		}
	}
	for _, r := range []struct {
		name string
		a, j sluice.Row
	}{{"before", a.before, j.before}, {"after", a.after, j.after}} {
		if (r.a == nil) != (r.j == nil) || len(r.a) != len(r.j) {
			out = append(out, fmt.Sprintf("%s: %v vs %v", r.name, r.a, r.j))
			continue
		}
		for i := range r.a {
			if !r.a[i].Equal(r.j[i]) {
				out = append(out, fmt.Sprintf("%s.%s: %+v vs %+v", r.name, a.table.Columns[i].Name, r.a[i], r.j[i]))
			}
		}
	}
	return out
}

// avroRecord decodes one recorded record (file relative to avroGolden,
// offset) with a fresh decoder.
func avroRecord(t *testing.T, file string, off int) (*envelope, error) {
	t.Helper()
	source := strings.SplitN(file, "/", 2)[0]
	recs := recordedAvro(t, filepath.Join(avroGolden, file))
	return newAvroDecoder(newFakeSchemas(t, source), DefaultPlaceholder).decode(context.Background(), recs[off])
}

// TestAvroValues checks decoded values against the recordings' content
// (the fixtures in testdata/debezium/, and the JSON recordings of them).
func TestAvroValues(t *testing.T) {
	present := func(i int64, b string) sluice.Value {
		v := sluice.Value{Kind: sluice.KindPresent, Int: i}
		if b != "" {
			v.Bytes = []byte(b)
		}
		return v
	}
	type col struct {
		row  string // before or after
		name string
		typ  sluice.Type
		want sluice.Value
	}
	for _, tc := range []struct {
		file  string
		off   int
		op    sluice.Op
		table string
		key   []string
		cols  []col
		src   func(s sourceInfo) bool
	}{
		{file: "postgres/dbzavro.public.all_types.jsonl", off: 0, op: sluice.OpRead, table: "public.all_types", key: []string{"id"}, cols: []col{
			{"after", "c_int4", sluice.TypeInt32, present(2147483647, "")},
			{"after", "c_int8", sluice.TypeInt64, present(-9223372036854775808, "")},
			{"after", "c_float4", sluice.TypeFloat32, sluice.Value{Kind: sluice.KindPresent, Float: 1.5}},
			{"after", "c_text", sluice.TypeText, present(0, "Grüezi \"Welt\"\n\ttab \\ backslash")},
			{"after", "c_numeric", sluice.TypeDecimal, present(0, "123456789.125")},
			{"after", "c_numeric_free", sluice.TypeDecimal, present(0, "0.1000000000000000000000000001")},
			{"after", "c_money", sluice.TypeDecimal, present(0, "1234.56")},
			{"after", "c_bytea", sluice.TypeBytes, present(0, "\xde\xad\xbe\xef")},
			{"after", "c_date", sluice.TypeDate, present(19782, "")},                      // 2024-03-01
			{"after", "c_timestamp", sluice.TypeTimestamp, present(1704164645123456, "")}, // 2024-01-02 03:04:05.123456
			{"after", "c_timestamptz", sluice.TypeTimestampTZ, present(1704161045120000, "")},
			{"after", "c_bit", sluice.TypeBits, present(10, "\x81\x02")},
			{"after", "c_enum", sluice.TypeEnum, present(0, "happy")},
		}, src: func(s sourceInfo) bool {
			return s.connector == "postgresql" && s.db == "dbzavro" && s.snapshot == "first" && s.lsn == 417883280 && s.txID == 56341
		}},
		{file: "postgres/dbzavro.public.composite.jsonl", off: 4, op: sluice.OpDelete, table: "public.composite", key: []string{"c", "a"}, cols: []col{
			{"before", "a", sluice.TypeInt32, present(2, "")},
			{"before", "c", sluice.TypeInt32, present(20, "")},
			{"before", "b", sluice.TypeText, sluice.Value{}}, // not in the key-only before image: null
		}},
		{file: "postgres/dbzavro.public.composite.jsonl", off: 9, op: sluice.OpUpdate, table: "public.composite", key: []string{"c", "a"}, cols: []col{
			{"after", "v", sluice.TypeText, present(0, "in tx")},
		}, src: func(s sourceInfo) bool { return s.lsn == 417957032 && s.seq0 == 417956896 && s.txID == 56369 }},
		{file: "postgres/dbzavro.public.toast.jsonl", off: 1, op: sluice.OpUpdate, table: "public.toast", key: []string{"id"}, cols: []col{
			{"after", "n", sluice.TypeInt32, present(2, "")},
			{"after", "big_text", sluice.TypeText, sluice.Value{Kind: sluice.KindUnchanged}},
			{"after", "big_bytea", sluice.TypeBytes, sluice.Value{Kind: sluice.KindUnchanged}},
			{"after", "big_text_arr", sluice.TypeArray, sluice.Value{Kind: sluice.KindUnchanged}},
		}},
		{file: "mariadb/dbzavromaria.dbzavro.all_types.jsonl", off: 0, op: sluice.OpRead, table: ".all_types", key: []string{"id"}, cols: []col{
			{"after", "biu", sluice.TypeInt64, present(-1, "")}, // BIGINT UNSIGNED max, as Connect's int64 has it
			{"after", "d", sluice.TypeDecimal, present(0, "12345678901234.567890")},
			{"after", "dneg", sluice.TypeDecimal, present(0, "-0.05")},
			{"after", "f", sluice.TypeFloat32, sluice.Value{Kind: sluice.KindPresent, Float: 1.1}}, // not float32(1.1)
			{"after", "dtm", sluice.TypeTimestamp, present(253402300799000000, "")},                // io.debezium.time.Timestamp: ms → µs
			{"after", "tm", sluice.TypeTime, present(-3020399000000, "")},
			{"after", "y", sluice.TypeYear, present(2024, "")},
			{"after", "st", sluice.TypeSet, present(0, "red,blue")},
			{"after", "pt", sluice.TypeGeometry, present(4326, "\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\xf0?\x00\x00\x00\x00\x00\x00\x00@")},
		}, src: func(s sourceInfo) bool {
			return s.connector == "mariadb" && s.db == "dbzavro" && s.file == "mysql-bin.000004" && s.pos == 41384
		}},
		{file: "mariadb/dbzavromaria.dbzavro.composite.jsonl", off: 2, op: sluice.OpCreate, table: ".composite", key: []string{"c", "a"}, src: func(s sourceInfo) bool {
			return s.pos == 50640 && s.gtid == "0-1-20230" && s.serverID == 1
		}},
	} {
		t.Run(fmt.Sprintf("%s@%d", filepath.Base(tc.file), tc.off), func(t *testing.T) {
			env, err := avroRecord(t, tc.file, tc.off)
			if err != nil {
				t.Fatal(err)
			}
			if env.op != tc.op || env.table.Schema+"."+env.table.Name != tc.table {
				t.Fatalf("op %c on %s.%s, want %c on %s", env.op, env.table.Schema, env.table.Name, tc.op, tc.table)
			}
			var key []string
			for _, k := range env.table.Key {
				key = append(key, env.table.Columns[k].Name)
			}
			if !slices.Equal(key, tc.key) {
				t.Errorf("key %v, want %v", key, tc.key)
			}
			if tc.src != nil && !tc.src(env.src) {
				t.Errorf("source %+v", env.src)
			}
			for _, c := range tc.cols {
				i := env.table.Index(c.name)
				if i < 0 {
					t.Fatalf("no column %s", c.name)
				}
				row := env.after
				if c.row == "before" {
					row = env.before
				}
				if got := env.table.Columns[i]; got.Type != c.typ {
					t.Errorf("%s: type %s, want %s", c.name, got.Type, c.typ)
				}
				if got := row[i]; !got.Equal(c.want) {
					t.Errorf("%s.%s = %+v, want %+v", c.row, c.name, got, c.want)
				}
			}
		})
	}

	t.Run("message", func(t *testing.T) {
		for off, want := range []sluice.Message{
			{Prefix: "sluice-tx", Content: []byte("in a transaction"), Transactional: true},
			{Prefix: "sluice-ntx", Content: []byte("outside a transaction")},
			{Prefix: "sluice-bin", Content: []byte("\xde\xad\xbe\xef\x00\xff")},
		} {
			env, err := avroRecord(t, "postgres/dbzavro.message.jsonl", off)
			if err != nil {
				t.Fatal(err)
			}
			if env.op != sluice.OpMessage || env.message == nil || fmt.Sprint(*env.message) != fmt.Sprint(want) {
				t.Errorf("@%d: op %c, message %+v; want %+v", off, env.op, env.message, want)
			}
		}
	})
	t.Run("tombstone", func(t *testing.T) {
		_, err := avroRecord(t, "postgres/dbzavro.public.composite.jsonl", 5)
		if err != errSkip("tombstone") {
			t.Errorf("err %v, want the tombstone skipped", err)
		}
	})
}

// TestAvroRefuses: records that are not Avro change events, or whose
// schema cannot be had, give errors, never panics; Debezium's other
// records are skipped.
func TestAvroRefuses(t *testing.T) {
	recs := recordedAvro(t, filepath.Join(avroGolden, "postgres/dbzavro.public.composite.jsonl"))
	good := recs[0]
	with := func(key, value []byte) *kgo.Record {
		return &kgo.Record{Topic: good.Topic, Key: key, Value: value}
	}
	changed := func(b []byte, f func([]byte) []byte) []byte { return f(slices.Clone(b)) }
	schemas := newFakeSchemas(t, "postgres")
	schemas.texts[9001] = `{"type":"record","name":"Row","fields":[{"name":"a","type":"int"}]}`
	schemas.texts[9002] = `{"type":"record","name":"Heartbeat","namespace":"io.debezium.connector.common","fields":[{"name":"ts_ms","type":"long"}]}`
	schemas.texts[9003] = `{"type":"record","name":"TransactionMetadataValue","fields":[{"name":"status","type":"string"},{"name":"id","type":"string"},{"name":"event_count","type":["null","long"]},{"name":"data_collections","type":["null",{"type":"array","items":"string"}]},{"name":"ts_ms","type":"long"}]}`
	schemas.texts[9004] = `"string"`
	schemas.texts[9005] = `{"type":"record","name":"Bad"`
	id := func(n int, body ...byte) []byte {
		return append([]byte{0, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}, body...)
	}
	for _, tc := range []struct {
		name string
		rec  *kgo.Record
		want string // in the error
		skip bool
	}{
		{"no magic byte", with(good.Key, changed(good.Value, func(b []byte) []byte { b[0] = 1; return b })), "wire format", false},
		{"JSON value", with(nil, []byte(`{"op":"c"}`)), "wire format", false},
		{"short value", with(nil, []byte{0, 0, 0}), "wire format", false},
		{"key not in wire format", with([]byte(`{"a":1}`), good.Value), "key is not", false},
		{"value schema id unknown", with(good.Key, changed(good.Value, func(b []byte) []byte { b[3] = 0x7f; return b })), "schema id 32522", false},
		{"key schema id unknown", with(id(4242, 2), good.Value), "key schema id 4242", false},
		{"truncated", with(good.Key, good.Value[:len(good.Value)-1]), "ends inside a value", false},
		{"bytes after the record", with(good.Key, append(slices.Clone(good.Value), 0)), "1 bytes after the record", false},
		{"key truncated", with(good.Key[:len(good.Key)-1], good.Value), "key (schema id 8)", false},
		{"not an envelope", with(nil, id(9001, 2)), "has no op", false},
		{"a string", with(nil, id(9004, 0)), "not a Debezium change event", false},
		{"schema does not parse", with(nil, id(9005, 0)), "value schema", false},
		{"heartbeat", with(nil, id(9002, 2)), "heartbeat", true},
		{"transaction metadata", with(nil, id(9003, 0)), "transaction metadata", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newAvroDecoder(schemas, DefaultPlaceholder).decode(context.Background(), tc.rec)
			var skip errSkip
			switch {
			case err == nil:
				t.Fatal("no error")
			case errors.As(err, &skip) != tc.skip:
				t.Errorf("skipped: %v, want %v (%v)", !tc.skip, tc.skip, err)
			case !strings.Contains(err.Error(), tc.want):
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}

	// Every truncation of a record, and every byte of it flipped, is an
	// error or another value, never a panic or a hang.
	all := recordedAvro(t, filepath.Join(avroGolden, "postgres/dbzavro.public.all_types.jsonl"))[0]
	d := newAvroDecoder(schemas, DefaultPlaceholder)
	for n := 5; n < len(all.Value); n++ {
		if _, err := d.decode(context.Background(), with(all.Key, all.Value[:n])); err == nil {
			t.Fatalf("%d of %d bytes decoded without error", n, len(all.Value))
		}
	}
	for i := 5; i < len(all.Value); i++ {
		_, _ = d.decode(context.Background(), with(all.Key, changed(all.Value, func(b []byte) []byte { b[i] ^= 0xff; return b })))
	}
}

// TestAvroPlanCached: the schemas of a (topic, value id, key id) are
// fetched and compiled once; its records share one *sluice.Table, also
// across the decoders of one schema source.
func TestAvroPlanCached(t *testing.T) {
	schemas := &sharedFake{fakeSchemas: newFakeSchemas(t, "postgres")}
	recs := recordedAvro(t, filepath.Join(avroGolden, "postgres/dbzavro.public.composite.jsonl"))
	d1, d2 := newAvroDecoder(schemas, DefaultPlaceholder), newAvroDecoder(schemas, DefaultPlaceholder)
	e1, err := d1.decode(context.Background(), recs[0])
	if err != nil {
		t.Fatal(err)
	}
	e2, err := d2.decode(context.Background(), recs[2])
	if err != nil {
		t.Fatal(err)
	}
	if e1.table != e2.table {
		t.Error("two records of one table have two *sluice.Table")
	}
	if schemas.calls[10] != 1 || schemas.calls[8] != 1 {
		t.Errorf("schema requests %v, want one per id", schemas.calls)
	}
	allocs := testing.AllocsPerRun(100, func() { _ = d1.plans.get(avroKey{topic: recs[0].Topic, value: 10, key: 8}) })
	if allocs != 0 {
		t.Errorf("a plan hit allocates %v times", allocs)
	}
}

// sharedFake is a schema source that shares its plans, as the registry's does.
// TestAvroTruncate: the recordings hold no truncate (Debezium skips them
// by default), so one is made from a recorded record of the trunc table,
// re-encoded with op t and no rows: its table is the source block's names.
func TestAvroTruncate(t *testing.T) {
	schemas := newFakeSchemas(t, "postgres")
	rec := recordedAvro(t, filepath.Join(avroGolden, "postgres/dbzavro.public.trunc.jsonl"))[0]
	id, body, _ := wireID(rec.Value)
	s, err := havro.Parse(schemas.texts[id])
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := havro.Unmarshal(s, body, &v); err != nil {
		t.Fatal(err)
	}
	v["op"], v["before"], v["after"] = "t", nil, nil
	out, err := havro.Marshal(s, v)
	if err != nil {
		t.Fatal(err)
	}
	rec.Value = append(rec.Value[:5:5], out...)
	env, err := newAvroDecoder(schemas, DefaultPlaceholder).decode(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	if env.op != sluice.OpTruncate || env.table == nil || env.table.Schema != "public" || env.table.Name != "trunc" || env.before != nil || env.after != nil {
		t.Errorf("op %c, table %+v, before %v, after %v", env.op, env.table, env.before, env.after)
	}
	if _, err := env.event(""); err != nil {
		t.Error(err)
	}
}

// TestAvroDecimalScaleBounded: a VariableScaleDecimal whose scale no
// database has (a varint of 2^62 in an 11-byte value) is an error for the
// dead-letter topic, not a crash of the daemon.
func TestAvroDecimalScaleBounded(t *testing.T) {
	c := connectColumn("n", connStruct, "io.debezium.data.VariableScaleDecimal", nil, true)
	n := &avroNode{typ: havro.Record, names: []string{"scale", "value"},
		fields: []*avroNode{{typ: havro.Int}, {typ: havro.Bytes}}}
	for _, c2 := range []struct {
		scale int64
		want  string // "" is the value's text
	}{
		{2, "0.01"},
		{16383, "0." + strings.Repeat("0", 16382) + "1"},
		{16384, "error"},
		{1 << 62, "error"},
	} {
		body := binary.AppendVarint(nil, c2.scale) // zig-zag, as Avro writes a long
		body = append(body, 2, 0x01)               // bytes of length 1: the unscaled 1
		v, err := newAvroDecoder(nil, "").value(&avroReader{b: body}, &c, n)
		switch {
		case c2.want == "error" && err == nil:
			t.Errorf("scale %d: value %.20q, want an error", c2.scale, v.Bytes)
		case c2.want != "error" && (err != nil || string(v.Bytes) != c2.want):
			t.Errorf("scale %d: value %.20q, %v; want %.20q", c2.scale, v.Bytes, err, c2.want)
		}
	}
}
