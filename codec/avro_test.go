package codec

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"testing"
	"time"

	havro "github.com/hamba/avro/v2"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/codec/avro"
)

// TestAvroRoundTrip: for every table, event kind, mode and connector the
// Connect-schema test covers, the Avro schemas parse (hamba/avro, an
// independent implementation), and each key and value transcoded to Avro
// decodes back to the values of the JSON the encoder writes.
func TestAvroRoundTrip(t *testing.T) {
	fixed := func() time.Time { return time.Unix(0, 1559033904863841257) }
	for mode, opt := range encoderModes() {
		for _, conn := range []string{ConnectorPostgres, ConnectorMySQL, ConnectorMariaDB} {
			opt := opt
			opt.Name, opt.Connector, opt.DB, opt.Clock, opt.Typed = "srv", conn, "shop", fixed, true
			enc, err := New(opt)
			if err != nil {
				t.Fatal(err)
			}
			for _, tbl := range []*sluice.Table{allTypes, specialTypes, mysqlTypes, structTable} {
				for _, ev := range tableEvents(tbl) {
					what := fmt.Sprintf("%s/%s %s %c", mode, conn, tbl.Name, ev.Op)
					as, err := enc.AvroSchemas(ev)
					if err != nil {
						t.Fatalf("%s: %v", what, err)
					}
					val := enc.AppendValue(nil, ev)
					checkAvro(t, what+" value", as.Value, val)
					if key, ok := enc.AppendKey(nil, ev); ok {
						checkAvro(t, what+" key", as.Key, key)
					}
				}
			}
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

func checkAvro(t *testing.T, what string, s *avro.Schema, js []byte) {
	t.Helper()
	parsed, err := havro.Parse(s.JSON)
	if err != nil {
		t.Fatalf("%s: schema does not parse: %v\n%s", what, err, s.JSON)
	}
	bin, err := s.Append(nil, js)
	if err != nil {
		t.Fatalf("%s: transcode: %v\n%s", what, err, js)
	}
	var got any
	if err := havro.Unmarshal(parsed, bin, &got); err != nil {
		t.Fatalf("%s: decode: %v\n%s", what, err, js)
	}
	var want any
	d := json.NewDecoder(bytes.NewReader(js))
	d.UseNumber()
	if err := d.Decode(&want); err != nil {
		t.Fatal(err)
	}
	if diff := sameValue(want, got, ""); diff != "" {
		t.Errorf("%s: %s\njson: %s", what, diff, js)
	}
}

// sameValue compares a JSON value with hamba's decoding of its Avro form:
// bytes are base64 in JSON, NaN and the infinities are strings, unions
// decode to the value or to {branch: value}.
func sameValue(want, got any, path string) string {
	if m, ok := got.(map[string]any); ok && len(m) == 1 {
		if _, isObj := want.(map[string]any); !isObj || !sameKeys(want.(map[string]any), m) {
			for _, v := range m { // a union's branch
				got = v
			}
		}
	}
	switch w := want.(type) {
	case nil:
		if got != nil {
			return fmt.Sprintf("%s: want null, got %#v", path, got)
		}
	case bool:
		if got != w {
			return fmt.Sprintf("%s: want %v, got %#v", path, w, got)
		}
	case json.Number:
		var f float64
		switch g := got.(type) {
		case time.Time: // Connect's Date (days) or Timestamp (milliseconds)
			i, _ := w.Int64()
			if g.UnixMilli() != i && g.Unix()/86400 != i {
				return fmt.Sprintf("%s: want %s, got %v", path, w, g)
			}
			return ""
		case time.Duration: // Connect's Time (milliseconds)
			if i, _ := w.Int64(); g.Milliseconds() != i {
				return fmt.Sprintf("%s: want %s, got %v", path, w, g)
			}
			return ""
		case int:
			f = float64(g)
			if i, err := w.Int64(); err == nil && int64(g) != i {
				return fmt.Sprintf("%s: want %s, got %d", path, w, g)
			}
			return ""
		case int64:
			if i, err := w.Int64(); err != nil || g != i {
				return fmt.Sprintf("%s: want %s, got %d", path, w, g)
			}
			return ""
		case float32:
			f = float64(g)
			wf, _ := w.Float64()
			if float32(wf) != g {
				return fmt.Sprintf("%s: want %s, got %v", path, w, g)
			}
			return ""
		case float64:
			f = g
		default:
			return fmt.Sprintf("%s: want number %s, got %#v", path, w, got)
		}
		if wf, _ := w.Float64(); wf != f {
			return fmt.Sprintf("%s: want %s, got %v", path, w, f)
		}
	case string:
		switch g := got.(type) {
		case string:
			if g != w {
				return fmt.Sprintf("%s: want %q, got %q", path, w, g)
			}
		case *big.Rat: // a decimal: its unscaled bytes in the JSON
			raw, err := base64.StdEncoding.DecodeString(w)
			if err != nil || !decimalIs(raw, g) {
				return fmt.Sprintf("%s: want decimal bytes %q, got %v", path, w, g)
			}
		case []byte:
			if base64.StdEncoding.EncodeToString(g) != w {
				return fmt.Sprintf("%s: want bytes %q, got %x", path, w, g)
			}
		case float32, float64:
			f, _ := g.(float64)
			if f32, ok := g.(float32); ok {
				f = float64(f32)
			}
			ok := w == "NaN" && math.IsNaN(f) || w == "Infinity" && math.IsInf(f, 1) || w == "-Infinity" && math.IsInf(f, -1)
			if !ok {
				return fmt.Sprintf("%s: want %q, got %v", path, w, f)
			}
		default:
			return fmt.Sprintf("%s: want %q, got %#v", path, w, got)
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Sprintf("%s: want %d items, got %#v", path, len(w), got)
		}
		for i := range w {
			if d := sameValue(w[i], g[i], fmt.Sprintf("%s[%d]", path, i)); d != "" {
				return d
			}
		}
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: want object, got %#v", path, got)
		}
		for k, v := range w {
			if d := sameValue(v, g[k], path+"."+k); d != "" {
				return d
			}
		}
		for k, v := range g {
			if _, ok := w[k]; !ok && v != nil {
				return fmt.Sprintf("%s.%s: not in the JSON, got %#v", path, k, v)
			}
		}
	}
	return ""
}

// decimalIs reports whether the two's-complement unscaled value raw is r
// at some scale.
func decimalIs(raw []byte, r *big.Rat) bool {
	u := new(big.Int).SetBytes(raw)
	if len(raw) > 0 && raw[0]&0x80 != 0 {
		u.Sub(u, new(big.Int).Lsh(big.NewInt(1), uint(8*len(raw))))
	}
	ten := big.NewInt(10)
	d := big.NewInt(1)
	for range 60 {
		if new(big.Rat).SetFrac(u, d).Cmp(r) == 0 {
			return true
		}
		d.Mul(d, ten)
	}
	return false
}

func sameKeys(a, b map[string]any) bool {
	for k := range b {
		if _, ok := a[k]; !ok {
			return false
		}
	}
	return true
}
