package elasticsearch

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/eventtest"
)

func present(v sluice.Value) sluice.Value { v.Kind = sluice.KindPresent; return v }

func TestValueEncoding(t *testing.T) {
	col := func(typ sluice.Type) *sluice.Column { return &sluice.Column{Name: "c", Type: typ} }
	arr := func(elem sluice.Type) *sluice.Column {
		return &sluice.Column{Name: "c", Type: sluice.TypeArray, Elem: elem}
	}
	tests := []struct {
		name string
		col  *sluice.Column
		v    sluice.Value
		obj  bool // json_handling: object
		want string
	}{
		{"null", col(sluice.TypeInt32), sluice.Value{Kind: sluice.KindNull}, false, `null`},
		{"bool", col(sluice.TypeBool), present(sluice.Value{Int: 1}), false, `true`},
		{"bit1", col(sluice.TypeBit), present(sluice.Value{Int: 0}), false, `false`},
		{"int64 exact", col(sluice.TypeInt64), present(sluice.Value{Int: 9007199254740993}), false, `9007199254740993`},
		{"float32", col(sluice.TypeFloat32), present(sluice.Value{Float: float64(float32(1.1))}), false, `1.1`},
		{"float64", col(sluice.TypeFloat64), present(sluice.Value{Float: 0.1}), false, `0.1`},
		{"NaN", col(sluice.TypeFloat64), present(sluice.Value{Float: math.NaN()}), false, `"NaN"`},
		{"-Inf", col(sluice.TypeFloat64), present(sluice.Value{Float: math.Inf(-1)}), false, `"-Infinity"`},
		{"decimal exact", col(sluice.TypeDecimal), present(sluice.Value{Bytes: []byte("-123.450")}), false, `"-123.450"`},
		{"text escaped", col(sluice.TypeText), present(sluice.Value{Bytes: []byte("a\"b\\c\n\x01\xff")}), false, `"a\"b\\c\n\u0001\ufffd"`},
		{"bytea base64", col(sluice.TypeBytes), present(sluice.Value{Bytes: []byte{1, 2, 255}}), false, `"AQL/"`},
		{"bits", col(sluice.TypeBits), present(sluice.Value{Bytes: []byte{0b1010}, Int: 6}), false, `"001010"`},
		{"bits long", col(sluice.TypeBits), present(sluice.Value{Bytes: []byte{0x01, 0x80}, Int: 16}), false, `"1000000000000001"`},
		{"date", col(sluice.TypeDate), present(sluice.Value{Int: 19782}), false, `"2024-02-29"`},
		{"date before 1970", col(sluice.TypeDate), present(sluice.Value{Int: -1}), false, `"1969-12-31"`},
		{"date infinity", col(sluice.TypeDate), present(sluice.Value{Int: sluice.InfinityPos}), false, `"infinity"`},
		{"time", col(sluice.TypeTime), present(sluice.Value{Int: 13*3600e6 + 14*60e6 + 15e6 + 123450}), false, `"13:14:15.12345"`},
		{"time 24:00", col(sluice.TypeTime), present(sluice.Value{Int: 86400e6}), false, `"24:00:00"`},
		{"mysql negative time", col(sluice.TypeTime), present(sluice.Value{Int: -3020399e6}), false, `"-838:59:59"`},
		{"mysql year", col(sluice.TypeYear), present(sluice.Value{Int: 2024}), false, `2024`},
		{"mysql set", col(sluice.TypeSet), present(sluice.Value{Bytes: []byte("red,blue")}), false, `"red,blue"`},
		{"mysql geometry", col(sluice.TypeGeometry), present(sluice.Value{Int: 4326, Bytes: []byte{1, 2}}), false, `{"wkb":"AQI=","srid":4326}`},
		{"timetz", col(sluice.TypeTimeTZ), present(sluice.Value{Bytes: []byte("11:14:15Z")}), false, `"11:14:15Z"`},
		{"timestamp", col(sluice.TypeTimestamp), present(sluice.Value{Int: 1704164645123456}), false, `"2024-01-02T03:04:05.123456"`},
		{"timestamp whole second", col(sluice.TypeTimestamp), present(sluice.Value{Int: 1704164645000000}), false, `"2024-01-02T03:04:05"`},
		{"timestamp before 1970", col(sluice.TypeTimestamp), present(sluice.Value{Int: -1}), false, `"1969-12-31T23:59:59.999999"`},
		{"timestamptz", col(sluice.TypeTimestampTZ), present(sluice.Value{Int: 1704164645120000}), false, `"2024-01-02T03:04:05.12Z"`},
		{"timestamptz -infinity", col(sluice.TypeTimestampTZ), present(sluice.Value{Int: sluice.InfinityNeg}), false, `"-infinity"`},
		{"interval", col(sluice.TypeInterval), present(sluice.Value{Bytes: []byte("P1Y2M3DT4H5M6.78S"), Int: 1}), false, `"P1Y2M3DT4H5M6.78S"`},
		{"json as string", col(sluice.TypeJSON), present(sluice.Value{Bytes: []byte(`{"a": [1, 2]}`)}), false, `"{\"a\": [1, 2]}"`},
		{"json as object", col(sluice.TypeJSON), present(sluice.Value{Bytes: []byte(`{"a": [1, 2]}`)}), true, `{"a": [1, 2]}`},
		{"invalid json stays a string", col(sluice.TypeJSON), present(sluice.Value{Bytes: []byte(`{"a"`)}), true, `"{\"a\""`},
		{"uuid", col(sluice.TypeUUID), present(sluice.Value{Bytes: []byte("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")}), false, `"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"`},
		{"int array with null", arr(sluice.TypeInt32), present(sluice.Value{Elems: []sluice.Value{present(sluice.Value{Int: 1}), {Kind: sluice.KindNull}}}), false, `[1,null]`},
		{"2-d text array", arr(sluice.TypeText), present(sluice.Value{Elems: []sluice.Value{
			present(sluice.Value{Elems: []sluice.Value{present(sluice.Value{Bytes: []byte("a")})}}),
			present(sluice.Value{Elems: []sluice.Value{present(sluice.Value{Bytes: []byte("b")})}}),
		}}), false, `[["a"],["b"]]`},
		{"date array", arr(sluice.TypeDate), present(sluice.Value{Elems: []sluice.Value{present(sluice.Value{Int: 0})}}), false, `["1970-01-01"]`},
		{"struct", customerCol, present(sluice.Value{Elems: customerElems("Oslo")}), false,
			`{"id":7,"first_name":"Ann \"A\"","balance":"12.50","since":"2024-01-02T03:04:05.123456Z","address":{"city":"Oslo"}}`},
		{"struct with null fields", customerCol, present(sluice.Value{Elems: []sluice.Value{present(sluice.Value{Int: 8}), {}, {}, {}, {}}}), false,
			`{"id":8,"first_name":null,"balance":null,"since":null,"address":null}`},
		{"struct nested null field", customerCol, present(sluice.Value{Elems: customerElems("")}), false,
			`{"id":7,"first_name":"Ann \"A\"","balance":"12.50","since":"2024-01-02T03:04:05.123456Z","address":{"city":null}}`},
		{"struct null", customerCol, sluice.Value{Kind: sluice.KindNull}, false, `null`},
		{"struct missing fields left out", customerCol, present(sluice.Value{Elems: []sluice.Value{present(sluice.Value{Int: 9}), {Kind: sluice.KindMissing}}}), false, `{"id":9}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := docEncoder{jsonObject: tc.obj}
			got := string(d.appendValue(nil, tc.col, &tc.v))
			if got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
			if !json.Valid([]byte(got)) {
				t.Errorf("%s is not JSON", got)
			}
		})
	}
}

func TestDocument(t *testing.T) {
	d := docEncoder{}
	row := sluice.Row{eventtest.Int(1), eventtest.Text("n"), eventtest.Unchanged, {Kind: sluice.KindNull}}
	src, unch := d.appendDoc(nil, eventtest.OrdersWide, row)
	if string(src) != `{"id":1,"note":"n","big":null}` || len(unch) != 1 || unch[0] != "qty" {
		t.Errorf("doc %s, unchanged %v", src, unch)
	}
	src, unch = d.appendDoc(nil, eventtest.OrdersWide, sluice.Row{eventtest.Missing, eventtest.Missing, eventtest.Unchanged, eventtest.Unchanged})
	if string(src) != `{}` || len(unch) != 2 {
		t.Errorf("only unchanged: %s %v", src, unch)
	}
}

func TestDocumentID(t *testing.T) {
	pair := &sluice.Table{Schema: "public", Name: "pair", Columns: []sluice.Column{
		{Name: "a", Type: sluice.TypeText}, {Name: "b", Type: sluice.TypeText}, {Name: "v", Type: sluice.TypeInt32},
	}, Key: []int{0, 1}}
	typed := func(typ sluice.Type, v sluice.Value) (*sluice.Table, sluice.Row) {
		return &sluice.Table{Columns: []sluice.Column{{Name: "k", Type: typ}}, Key: []int{0}}, sluice.Row{present(v)}
	}
	tests := []struct {
		name    string
		table   *sluice.Table
		row     sluice.Row
		want    string
		wantErr string
	}{
		{name: "int", table: eventtest.OrdersWide, row: orderRow(42, "", 0, ""), want: "42"},
		{name: "composite", table: pair, row: sluice.Row{eventtest.Text("x"), eventtest.Text("y"), eventtest.Int(1)}, want: "x|y"},
		{name: "composite escapes |", table: pair, row: sluice.Row{eventtest.Text("x|y"), eventtest.Text("z")}, want: `x\|y|z`},
		{name: "composite escapes |, other side", table: pair, row: sluice.Row{eventtest.Text("x"), eventtest.Text("y|z")}, want: `x|y\|z`},
		{name: "composite escapes backslash", table: pair, row: sluice.Row{eventtest.Text(`a\`), eventtest.Text("b")}, want: `a\\|b`},
		{name: "composite null", table: pair, row: sluice.Row{{Kind: sluice.KindNull}, eventtest.Text("b")}, want: `\N|b`},
		{name: "single text as is", table: &sluice.Table{Columns: []sluice.Column{{Name: "k", Type: sluice.TypeText}}, Key: []int{0}},
			row: sluice.Row{eventtest.Text(`a|b\c "d"`)}, want: `a|b\c "d"`},
		{name: "no key", table: &sluice.Table{Columns: []sluice.Column{{Name: "k", Type: sluice.TypeText}}},
			row: sluice.Row{eventtest.Text("a")}, wantErr: "neither a primary key"},
		{name: "key without value", table: eventtest.OrdersWide, row: sluice.Row{eventtest.Missing}, wantErr: "no value"},
	}
	for _, typ := range []struct {
		name string
		typ  sluice.Type
		v    sluice.Value
		want string
	}{
		{"uuid", sluice.TypeUUID, sluice.Value{Bytes: []byte("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")}, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
		{"date", sluice.TypeDate, sluice.Value{Int: 19782}, "2024-02-29"},
		{"timestamptz", sluice.TypeTimestampTZ, sluice.Value{Int: 1704164645120000}, "2024-01-02T03:04:05.12Z"},
		{"decimal", sluice.TypeDecimal, sluice.Value{Bytes: []byte("1.50")}, "1.50"},
		{"bytea", sluice.TypeBytes, sluice.Value{Bytes: []byte{1, 2, 255}}, "AQL/"},
		{"bool", sluice.TypeBool, sluice.Value{Int: 1}, "true"},
		{"bits", sluice.TypeBits, sluice.Value{Bytes: []byte{5}, Int: 3}, "101"},
	} {
		tb, row := typed(typ.typ, typ.v)
		tests = append(tests, struct {
			name    string
			table   *sluice.Table
			row     sluice.Row
			want    string
			wantErr string
		}{name: typ.name, table: tb, row: row, want: typ.want})
	}
	d := docEncoder{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := d.appendID(nil, tc.table, tc.row)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Errorf("id = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// TestCompositeIDsDoNotCollide: random keys over a small alphabet full of
// separators and escapes; two different keys never get the same id.
func TestCompositeIDsDoNotCollide(t *testing.T) {
	tb := &sluice.Table{Columns: []sluice.Column{{Name: "a", Type: sluice.TypeText}, {Name: "b", Type: sluice.TypeText}, {Name: "c", Type: sluice.TypeText}}, Key: []int{0, 1, 2}}
	alphabet := []string{"", "|", `\`, "N", "a", `\|`, `\N`}
	r := rand.New(rand.NewPCG(1, 2))
	seen := map[string]string{}
	d := docEncoder{}
	for range 20000 {
		var row sluice.Row
		var parts []string
		for range 3 {
			if r.IntN(8) == 0 {
				row = append(row, sluice.Value{Kind: sluice.KindNull})
				parts = append(parts, "NULL")
				continue
			}
			s := ""
			for range r.IntN(3) {
				s += alphabet[r.IntN(len(alphabet))]
			}
			row = append(row, eventtest.Text(s))
			parts = append(parts, fmt.Sprintf("%q", s))
		}
		key := strings.Join(parts, ",")
		id, err := d.appendID(nil, tb, row)
		if err != nil {
			t.Fatal(err)
		}
		if other, ok := seen[string(id)]; ok && other != key {
			t.Fatalf("keys %s and %s share the id %q", other, key, id)
		}
		seen[string(id)] = key
	}
}

func TestFieldMapping(t *testing.T) {
	d := docEncoder{}
	tests := []struct {
		col  sluice.Column
		want string
	}{
		{sluice.Column{Type: sluice.TypeInt16}, `{"type":"short"}`},
		{sluice.Column{Type: sluice.TypeInt64}, `{"type":"long"}`},
		{sluice.Column{Type: sluice.TypeDecimal}, `{"type":"double","ignore_malformed":true}`},
		{sluice.Column{Type: sluice.TypeTimestampTZ}, `{"type":"date","ignore_malformed":true}`},
		{sluice.Column{Type: sluice.TypeDate}, `{"type":"date","ignore_malformed":true}`},
		{sluice.Column{Type: sluice.TypeText, DBType: "varchar"}, `{"type":"text","fields":{"keyword":{"type":"keyword","ignore_above":256}}}`},
		{sluice.Column{Type: sluice.TypeText, DBType: "inet"}, `{"type":"keyword","ignore_above":8191}`},
		{sluice.Column{Type: sluice.TypeUUID}, `{"type":"keyword","ignore_above":8191}`},
		{sluice.Column{Type: sluice.TypeArray, Elem: sluice.TypeInt32, DBType: "_int4"}, `{"type":"integer"}`},
		{sluice.Column{Type: sluice.TypeArray, Elem: sluice.TypeText, DBType: "_text"}, `{"type":"text","fields":{"keyword":{"type":"keyword","ignore_above":256}}}`},
		{sluice.Column{Type: sluice.TypeBytes}, `{"type":"binary"}`},
		{sluice.Column{Type: sluice.TypeJSON}, `{"type":"text"}`},
	}
	for _, tc := range tests {
		if got := d.fieldMapping(&tc.col); got != tc.want {
			t.Errorf("%s %s: %s, want %s", tc.col.Type, tc.col.DBType, got, tc.want)
		}
	}
	if got := (&docEncoder{jsonObject: true}).fieldMapping(&sluice.Column{Type: sluice.TypeJSON}); got != `{"type":"flattened"}` {
		t.Errorf("json object mapping %s", got)
	}
	m := d.appendMapping(nil, eventtest.OrdersWide, nil)
	if !json.Valid(m) || !strings.Contains(string(m), `"qty":{"type":"integer"}`) {
		t.Errorf("mapping %s", m)
	}
}

func TestMergeDoc(t *testing.T) {
	tests := []struct {
		src, stored string
		unchanged   []string
		want        string
		complete    bool
	}{
		{`{"id":1}`, `{"id":1,"big":"B","x":2}`, []string{"big"}, `{"id":1,"big":"B"}`, true},
		{`{}`, `{"big":[1,2]}`, []string{"big"}, `{"big":[1,2]}`, true},
		{`{"id":1}`, `{"id":1}`, []string{"big"}, `{"id":1}`, false},
		{`{"id":1}`, ``, []string{"big", "other"}, `{"id":1}`, false},
		{`{"id":1}`, `not json`, []string{"big"}, `{"id":1}`, false},
	}
	for _, tc := range tests {
		got, complete := mergeDoc([]byte(tc.src), tc.unchanged, json.RawMessage(tc.stored))
		if string(got) != tc.want || complete != tc.complete {
			t.Errorf("mergeDoc(%s, %v, %s) = %s, %v; want %s, %v", tc.src, tc.unchanged, tc.stored, got, complete, tc.want, tc.complete)
		}
	}
}

func TestClassify(t *testing.T) {
	e := func(typ string) *esError { return &esError{Type: typ} }
	tests := []struct {
		status int
		err    *esError
		del    bool
		want   outcome
	}{
		{201, nil, false, outOK},
		{404, nil, true, outOK},
		{404, e("index_not_found_exception"), false, outFatal},
		{409, e("version_conflict_engine_exception"), false, outStale},
		{429, e("es_rejected_execution_exception"), false, outRetry},
		{503, e("unavailable_shards_exception"), false, outRetry},
		{403, e("cluster_block_exception"), false, outRetry},
		{403, e("security_exception"), false, outFatal},
		{400, e("mapper_parsing_exception"), false, outDeadLetter},
		{400, e("document_parsing_exception"), false, outDeadLetter},
		{400, e("illegal_argument_exception"), false, outDeadLetter},
	}
	for _, tc := range tests {
		if got := classify(tc.status, tc.err, tc.del); got != tc.want {
			t.Errorf("classify(%d, %v, %v) = %d, want %d", tc.status, tc.err, tc.del, got, tc.want)
		}
	}
}

func TestIndexTemplate(t *testing.T) {
	tab := &sluice.Table{DB: "Shop", Schema: "Public", Name: "Order Items"}
	tests := []struct {
		tmpl, want, wantErr string
	}{
		{tmpl: "{prefix}.{schema}.{table}", want: "srv.public.order_items"},
		{tmpl: "{db}-{table}", want: "shop-order_items"},
		{tmpl: "search-all", want: "search-all"},
		{tmpl: "Upper", wantErr: "not allowed"},
		{tmpl: "a b", wantErr: "not allowed"},
		{tmpl: "_x{table}", wantErr: "must not start"},
		{tmpl: "{tabel}", wantErr: "unknown placeholder"},
		{tmpl: "{table", wantErr: "unclosed"},
		{tmpl: "", wantErr: "empty"},
		{tmpl: "..", wantErr: "not allowed"},
	}
	for _, tc := range tests {
		tpl, err := parseIndexTemplate(tc.tmpl)
		if err == nil {
			var got string
			got, err = tpl.expand("SRV", tab, "")
			if err == nil && got != tc.want {
				t.Errorf("%q expands to %q, want %q", tc.tmpl, got, tc.want)
			}
		}
		if (err != nil) != (tc.wantErr != "") || err != nil && !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%q: err %v, want %q", tc.tmpl, err, tc.wantErr)
		}
	}
	// A substituted value can still make a name Elasticsearch refuses.
	tpl, _ := parseIndexTemplate("{table}")
	if _, err := tpl.expand("", &sluice.Table{Name: "_hidden"}, ""); err == nil {
		t.Error("an index name starting with _ was accepted")
	}
}

// TestBitStringCount: the bit count comes with the value and may claim
// more bits than the bytes hold (Debezium's Bits of an unbounded varbit
// read back from a topic say 2147483647): the string stops at the bytes.
func TestBitStringCount(t *testing.T) {
	for _, c := range []struct {
		packed []byte
		n      int
		want   string
	}{
		{[]byte{0x05}, 3, "101"},
		{[]byte{0x81, 0x02}, 10, "1010000001"},
		{[]byte{0x05}, 2147483647, "00000101"},
		{nil, 5, ""},
	} {
		if got := string(appendBitString(nil, c.packed, c.n)); got != c.want {
			t.Errorf("appendBitString(%x, %d) = %q, want %q", c.packed, c.n, got, c.want)
		}
	}
}
