package codec

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/codec/avro"
	"github.com/sluice-cdc/sluice/internal/avrotest"
)

// TestAvroRoundTrip: for every table, event kind, mode and connector the
// Connect-schema test covers, the Avro schemas parse (hamba/avro, an
// independent implementation), and each key and value transcoded to Avro
// decodes back to the values of the JSON the encoder writes.
func TestAvroRoundTrip(t *testing.T) {
	forEachEncoder(t, encoderModes(), func(o *Options) { o.Typed = true }, func(mode, conn string, enc *Encoder) {
		for _, ev := range otherEvents() {
			what := fmt.Sprintf("%s/%s %c", mode, conn, ev.Op)
			as, err := enc.AvroSchemas(ev)
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			key, _ := enc.AppendKey(nil, ev)
			checkAvro(t, what+" key", as.Key, key)
			checkAvro(t, what+" value", as.Value, enc.AppendValue(nil, ev))
		}
		hb, err := enc.AvroHeartbeatSchemas()
		if err != nil {
			t.Fatal(err)
		}
		beat := &sluice.Event{Op: sluice.OpHeartbeat, Pos: sluice.Position{LSN: 77, TxLSN: 77}}
		checkAvro(t, mode+"/"+conn+" heartbeat key", hb.Key, enc.AppendHeartbeatKey(nil))
		checkAvro(t, mode+"/"+conn+" heartbeat value", hb.Value, enc.AppendHeartbeatValue(nil, beat, fixedClock()))
		tx, err := enc.AvroTxSchemas()
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range txBoundaries {
			checkAvro(t, mode+"/"+conn+" transaction key", tx.Key, enc.AppendTxKey(nil, b))
			checkAvro(t, mode+"/"+conn+" transaction value", tx.Value, enc.AppendTxValue(nil, b, fixedClock()))
		}
		for _, tbl := range testTables {
			for _, ev := range append(tableEvents(tbl), unwrappedEvents(tbl)...) {
				what := fmt.Sprintf("%s/%s %s %c unwrap %v", mode, conn, tbl.Name, ev.Op, ev.Unwrap != nil)
				as, err := enc.AvroSchemas(ev)
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				if !AvroNullValue(ev) {
					checkAvro(t, what+" value", as.Value, enc.AppendValue(nil, ev))
				}
				if key, ok := enc.AppendKey(nil, ev); ok {
					checkAvro(t, what+" key", as.Key, key)
				}
			}
		}
		plain := &sluice.Outbox{ID: 0, Key: 2, Payload: 4, Headers: []sluice.OutboxHeader{{Column: 5, Name: "tenantId"}}}
		for _, ev := range []*sluice.Event{
			outboxRow(sluice.OpCreate, plain, "00000000-0000-4000-8000-000000000012", "customer", "bob", ptr(`{"a": 1}`), ptr("globex")),
			outboxRow(sluice.OpRead, plain, "00000000-0000-4000-8000-000000000015", "customer", "carol", nil, nil),
		} {
			what := fmt.Sprintf("%s/%s outbox %c", mode, conn, ev.Op)
			as, err := enc.AvroSchemas(ev)
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			checkAvro(t, what+" value", as.Value, enc.AppendValue(nil, ev))
			key, _ := enc.AppendKey(nil, ev)
			checkAvro(t, what+" key", as.Key, key)
		}
		expand := &sluice.Outbox{ID: 0, Key: 2, Payload: 4, ExpandJSON: true}
		if _, err := enc.AvroSchemas(outboxRow(sluice.OpCreate, expand, "00000000-0000-4000-8000-000000000001", "o", "1", ptr(`{}`), nil)); err == nil {
			t.Errorf("%s/%s: an outbox with expand_json_payload has Avro schemas", mode, conn)
		}
	})
}

// unwrappedEvents are tableEvents' row changes unwrapped, in tombstone
// mode and in rewrite mode with added fields.
func unwrappedEvents(tbl *sluice.Table) []*sluice.Event {
	tombstone := &sluice.Unwrap{}
	rewrite := &sluice.Unwrap{Deletes: sluice.DeleteRewrite,
		Fields: []sluice.UnwrapField{{Field: "op", Name: "__op"}, {Struct: "source", Field: "table", Name: "__table"},
			{Struct: "source", Field: "lsn", Name: "__lsn"}, {Struct: "source", Field: "ts_ms", Name: "__source_ts_ms"}}}
	var out []*sluice.Event
	for _, u := range []*sluice.Unwrap{tombstone, rewrite} {
		for _, ev := range tableEvents(tbl) {
			if ev.Op == sluice.OpTruncate {
				continue
			}
			ev.Unwrap = u
			out = append(out, ev)
		}
	}
	return out
}

func checkAvro(t *testing.T, what string, s *avro.Schema, js []byte) {
	t.Helper()
	bin, err := s.Append(nil, js)
	if err != nil {
		t.Fatalf("%s: transcode: %v\n%s", what, err, js)
	}
	diff, err := avrotest.Compare(s.JSON, bin, js)
	if err != nil {
		t.Fatalf("%s: %v\n%s", what, err, s.JSON)
	}
	if diff != "" {
		t.Errorf("%s: %s\njson: %s", what, diff, js)
	}
}

// BenchmarkAvroEvent writes an event's key and value as Avro: the JSON
// form, then its transcoding (compare BenchmarkEncodeEvent/*/debezium).
func BenchmarkAvroEvent(b *testing.B) {
	for _, c := range []struct {
		name string
		ev   *sluice.Event
	}{{"small", benchInsert(smallTable, smallRow())}, {"wide", benchInsert(wideTable, wideRow())}} {
		enc, err := New(Options{Name: "bench", Connector: "postgresql", Profile: ProfileDebezium, Typed: true})
		if err != nil {
			b.Fatal(err)
		}
		as, err := enc.AvroSchemas(c.ev)
		if err != nil {
			b.Fatal(err)
		}
		js := make([]byte, 0, 16<<10)
		buf := make([]byte, 0, 16<<10)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				js, _ = enc.AppendKey(js[:0], c.ev)
				buf, err = as.Key.Append(buf[:0], js)
				js = enc.AppendValue(js[:0], c.ev)
				buf, err = as.Value.Append(buf, js)
				if err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(buf)))
		})
		b.Run(c.name+"/direct", func(b *testing.B) {
			b.ReportAllocs()
			now := time.Now()
			for b.Loop() {
				buf, _, err = enc.AppendAvroKey(buf[:0], c.ev, as, &js)
				buf, err = enc.AppendAvroValue(buf, c.ev, now, as, &js)
				if err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}

// TestAvroDirect: the Avro written straight from the rows is, byte for
// byte, the transcoding of the JSON form, for every table, event kind,
// mode and connector of TestAvroRoundTrip (and TOAST's omit mode).
func TestAvroDirect(t *testing.T) {
	modes := encoderModes()
	modes["toast_omit"] = Options{Toast: ToastOmit}
	forEachEncoder(t, modes, func(o *Options) { o.Typed = true }, func(mode, conn string, enc *Encoder) {
		var scratch []byte
		for _, tbl := range testTables {
			for _, ev := range tableEvents(tbl) {
				what := fmt.Sprintf("%s/%s %s %c", mode, conn, tbl.Name, ev.Op)
				as, err := enc.AvroSchemas(ev)
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				want, err := as.Value.Append(nil, enc.AppendValue(nil, ev))
				if err != nil {
					t.Fatalf("%s: transcode: %v", what, err)
				}
				got, err := enc.AppendAvroValue(nil, ev, time.Now(), as, &scratch)
				if err != nil {
					t.Fatalf("%s: direct: %v", what, err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s value: direct % x\ntranscoded % x", what, got, want)
				}
				key, ok := enc.AppendKey(nil, ev)
				gotKey, gotOK, err := enc.AppendAvroKey(nil, ev, as, &scratch)
				if err != nil || gotOK != ok {
					t.Fatalf("%s key: %v, ok %v want %v", what, err, gotOK, ok)
				}
				if ok {
					wantKey, err := as.Key.Append(nil, key)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(gotKey, wantKey) {
						t.Errorf("%s key: direct % x\ntranscoded % x", what, gotKey, wantKey)
					}
				}
			}
		}
	})
}
