package mysql

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/sluice-cdc/sluice"
)

// imageTable is a table for the row decoder's tests: its columns' binlog
// types, their table map metadata and what sluice makes of them.
type imageTable struct {
	types []byte
	metas [][]byte
	cols  []colType
}

// benchSmall is the benchmark's small table (cmd/sluice-bench): id
// bigint, account int, amount decimal(12,2), status varchar(20)
// (utf8mb4), created_at timestamp(6), note text.
var benchSmall = imageTable{
	types: []byte{mysql.MYSQL_TYPE_LONGLONG, mysql.MYSQL_TYPE_LONG, mysql.MYSQL_TYPE_NEWDECIMAL,
		mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_TIMESTAMP2, mysql.MYSQL_TYPE_BLOB},
	metas: [][]byte{nil, nil, {12, 2}, {80, 0}, {6}, {2}},
	cols: []colType{{kind: kInt, width: 8}, {kind: kInt, width: 4}, {kind: kDecimal, prec: 12, scale: 2},
		{kind: kText}, {kind: kTimestamp, fsp: 6}, {kind: kText}},
}

// benchSmallImage is a row of benchSmall: 42, 7, 1234.56, 'paid',
// '2024-01-02 10:17:37.014245' UTC, 'a note'.
var benchSmallImage = []byte{
	0x00,                                // null bitmap
	42, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, // id, account
	0x80, 0x00, 0x00, 0x04, 0xd2, 0x38, // 1234.56
	4, 'p', 'a', 'i', 'd',
	0x65, 0x93, 0xe2, 0xc1, 0x00, 0x37, 0xa5, // seconds, microseconds
	6, 0, 'a', ' ', 'n', 'o', 't', 'e',
}

// benchSmallRow is benchSmallImage as sluice values.
var benchSmallRow = sluice.Row{
	present(sluice.Value{Int: 42}), present(sluice.Value{Int: 7}), present(sluice.Value{Bytes: []byte("1234.56")}),
	present(sluice.Value{Bytes: []byte("paid")}), present(sluice.Value{Int: 1704190657014245}),
	present(sluice.Value{Bytes: []byte("a note")}),
}

// parse frames a table map of tt and a rows event of type typ whose
// images are images, and parses them as the source's syncer does
// (headerOnly). It returns the rows event and a relation of tt.
func (tt imageTable) parse(t testing.TB, typ replication.EventType, bitmaps [][]byte, images []byte) (*replication.RowsEvent, *relation) {
	t.Helper()
	p := fzParser(typ, headerOnly)
	n := len(tt.types)
	tm := []byte{1, 0, 0, 0, 0, 0, 0, 0, 2, 'd', 'b', 0, 1, 't', 0, byte(n)}
	tm = append(tm, tt.types...)
	var meta []byte
	for _, m := range tt.metas {
		meta = append(meta, m...)
	}
	tm = append(append(tm, byte(len(meta))), meta...)
	nullable := func(i int) bool { return tt.cols[i].kind == kText || tt.cols[i].kind == kDecimal }
	tm = append(tm, make([]byte, (n+7)/8)...) // the null bitmap
	for i := range n {
		if nullable(i) {
			tm[len(tm)-(n+7)/8+i/8] |= 1 << (i % 8)
		}
	}
	rows := []byte{1, 0, 0, 0, 0, 0, 0, 0, 2, 0, byte(n)}
	for _, b := range bitmaps {
		rows = append(rows, b...)
	}
	rows = append(rows, images...)
	var re *replication.RowsEvent
	for _, ev := range [][]byte{fzEvent(replication.TABLE_MAP_EVENT, tm), fzEvent(typ, rows)} {
		be, err := p.Parse(ev)
		if err != nil {
			t.Fatal(err)
		}
		if e, ok := be.Event.(*replication.RowsEvent); ok {
			re = e
		}
	}
	cols := make([]sluice.Column, n)
	infos := make([]colInfo, n)
	for i := range n {
		cols[i], infos[i] = columnFor(string(rune('a'+i)), tt.cols[i], nullable(i))
		infos[i].wire, infos[i].meta = wireOf(re.Table.ColumnType[i], re.Table.ColumnMeta[i]), re.Table.ColumnMeta[i]
	}
	return re, &relation{table: &sluice.Table{DB: "db", Name: "t", Columns: cols}, cols: infos, native: true}
}

// fullBitmap is the column bitmap of a full row image of n columns.
func fullBitmap(n int) []byte {
	b := make([]byte, (n+7)/8)
	for i := range n {
		b[i/8] |= 1 << (i % 8)
	}
	return b
}

// TestDecodeImages: inserts, updates (before and after images) and
// images without some columns, read by the row decoder and by go-mysql.
func TestDecodeImages(t *testing.T) {
	n := len(benchSmall.types)
	full := fullBitmap(n)
	// Columns 0, 2 and 3 only; 3 null.
	partial := []byte{0b0000_1101}
	partialImage := append([]byte{0b100}, benchSmallImage[1:9]...)
	partialImage = append(partialImage, benchSmallImage[13:19]...)
	missing := func(r sluice.Row) sluice.Row {
		r = append(sluice.Row(nil), r...)
		for _, i := range []int{1, 4, 5} {
			r[i] = sluice.Value{Kind: sluice.KindMissing}
		}
		r[3] = sluice.Value{}
		return r
	}
	tests := []struct {
		name    string
		typ     replication.EventType
		bitmaps [][]byte
		images  []byte
		want    []sluice.Row
	}{
		{"insert", replication.WRITE_ROWS_EVENTv2, [][]byte{full}, benchSmallImage, []sluice.Row{benchSmallRow}},
		{"two inserts", replication.WRITE_ROWS_EVENTv2, [][]byte{full}, append(append([]byte{}, benchSmallImage...), benchSmallImage...),
			[]sluice.Row{benchSmallRow, benchSmallRow}},
		{"update", replication.UPDATE_ROWS_EVENTv2, [][]byte{full, full}, append(append([]byte{}, benchSmallImage...), benchSmallImage...),
			[]sluice.Row{benchSmallRow, benchSmallRow}},
		{"columns left out", replication.DELETE_ROWS_EVENTv2, [][]byte{partial}, partialImage, []sluice.Row{missing(benchSmallRow)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, rel := benchSmall.parse(t, tc.typ, tc.bitmaps, tc.images)
			st := &stream{}
			h := &replication.EventHeader{EventType: tc.typ}
			got, err := st.images(h, rel, e)
			if err != nil {
				t.Fatal(err)
			}
			// go-mysql's decoder, as for the events the row decoder leaves.
			rel.native = false
			e2, _ := benchSmall.parse(t, tc.typ, tc.bitmaps, tc.images)
			ref, err := (&stream{}).images(h, rel, e2)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) || len(ref) != len(tc.want) {
				t.Fatalf("%d rows, go-mysql %d, want %d", len(got), len(ref), len(tc.want))
			}
			for i := range tc.want {
				for j := range tc.want[i] {
					if !got[i][j].Equal(tc.want[i][j]) || !ref[i][j].Equal(tc.want[i][j]) {
						t.Errorf("row %d column %d: %+v, go-mysql %+v, want %+v", i, j, got[i][j], ref[i][j], tc.want[i][j])
					}
				}
			}
		})
	}
}

// TestDecodeImagesRefuses: a row image cut short anywhere is an error,
// not a panic or a row of garbage.
func TestDecodeImagesRefuses(t *testing.T) {
	full := fullBitmap(len(benchSmall.types))
	for _, cut := range []int{1, 9, 15, 20, 26, len(benchSmallImage) - 1} {
		e, rel := benchSmall.parse(t, replication.WRITE_ROWS_EVENTv2, [][]byte{full}, benchSmallImage[:cut])
		u, _ := undecodedOf(e)
		if rows, err := decodeImages(rel, e, u.body[u.pos:], nil); err == nil {
			t.Errorf("image cut to %d bytes: read %v, want an error", cut, rows)
		}
	}
}

// TestDecodeImagesAllocs holds the row decoder to its allocation count: a
// row of the benchmark's small table costs three (the copy of the
// event's images, the row, the decimal's text). BenchmarkRowImage
// measures the time.
func TestDecodeImagesAllocs(t *testing.T) {
	e, rel := benchSmall.parse(t, replication.WRITE_ROWS_EVENTv2, [][]byte{fullBitmap(len(benchSmall.types))}, benchSmallImage)
	st, h := &stream{}, &replication.EventHeader{EventType: replication.WRITE_ROWS_EVENTv2}
	n := testing.AllocsPerRun(100, func() {
		if _, err := st.images(h, rel, e); err != nil {
			t.Fatal(err)
		}
	})
	if n > 3 {
		t.Errorf("%v allocations per row, want at most 3", n)
	}
}

// TestHeaderOnlyAllocs: what the syncer leaves of a rows event for the
// stream (its body and where the images start) costs one allocation; a
// single-row transaction has a rows event per row.
func TestHeaderOnlyAllocs(t *testing.T) {
	e, _ := benchSmall.parse(t, replication.WRITE_ROWS_EVENTv2, [][]byte{fullBitmap(len(benchSmall.types))}, benchSmallImage)
	want, ok := undecodedOf(e)
	if !ok {
		t.Fatal("the parsed rows event holds no undecoded images")
	}
	n := testing.AllocsPerRun(100, func() {
		if err := headerOnly(e, want.body); err != nil {
			t.Fatal(err)
		}
	})
	if got, ok := undecodedOf(e); !ok || got.pos != want.pos || &got.body[0] != &want.body[0] {
		t.Fatalf("undecodedOf after headerOnly = %+v, %v; want the body from %d", got, ok, want.pos)
	}
	if n != 1 {
		t.Errorf("headerOnly allocates %v times, want 1", n)
	}
}

// BenchmarkRowImage reads a row of the benchmark's small table with the
// row decoder and with go-mysql's decoder plus stream.convert.
func BenchmarkRowImage(b *testing.B) {
	e, rel := benchSmall.parse(b, replication.WRITE_ROWS_EVENTv2, [][]byte{fullBitmap(len(benchSmall.types))}, benchSmallImage)
	u, _ := undecodedOf(e)
	b.Run("native", func(b *testing.B) {
		b.ReportAllocs()
		st, h := &stream{}, &replication.EventHeader{EventType: replication.WRITE_ROWS_EVENTv2}
		for b.Loop() {
			if _, err := st.images(h, rel, e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("go-mysql", func(b *testing.B) {
		b.ReportAllocs()
		st := &stream{}
		for b.Loop() {
			e.Rows = nil
			if err := e.DecodeData(u.pos, u.body); err != nil {
				b.Fatal(err)
			}
			for i, r := range e.Rows {
				if _, err := st.convert(rel, e, i, r); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// fzNative checks the row decoder (rowimage.go) against go-mysql on the
// same row images: where go-mysql and stream.convert read them, the row
// decoder reads the same values; where go-mysql refuses them, so does
// the row decoder. It may refuse more: bytes the server does not write
// (errMalformed), and values convert refuses. One difference is by
// design: a DATETIME with a zero month or day is the zero date, as a
// snapshot reads it, where go-mysql moves one after 1970 to a real date.
func fzNative(t *testing.T, spec fzSpec, rel *relation, rows [][]any, image []byte) {
	ci := &rel.cols[0]
	if !nativeWire(ci.wire) {
		return
	}
	img := bytes.Clone(image)
	e := &replication.RowsEvent{ColumnCount: 1, ColumnBitmap1: []byte{1}, Rows: [][]any{{&undecoded{body: img}}}}
	rel.native = true
	got, err := (&stream{}).images(&replication.EventHeader{EventType: replication.WRITE_ROWS_EVENTv2}, rel, e)
	for k := range img {
		img[k] = 0xA5 // the values must not alias the event
	}
	if rows == nil {
		if err == nil && len(got) > 0 {
			t.Fatalf("%s: go-mysql refuses %x, the row decoder read %+v", spec.name, image, got)
		}
		return
	}
	// A DATETIME with a zero month or day is the zero date (go-mysql may
	// move it to a real date, or to one convert refuses).
	zeroInDate := fzZeroInDate(ci, image)
	zeroed := func(i int) bool { return i < len(zeroInDate) && zeroInDate[i] }
	want := make([]sluice.Row, len(rows))
	var convErr error
	for i, r := range rows {
		row, err := (&stream{}).convert(rel, &replication.RowsEvent{Rows: rows}, i, r)
		if err != nil && !zeroed(i) {
			convErr = err
			break
		}
		want[i] = row
	}
	if err != nil {
		if !errors.Is(err, errMalformed) && convErr == nil {
			t.Fatalf("%s %x: the row decoder refuses (%v) what go-mysql reads as %v", spec.name, image, err, rows)
		}
		return
	}
	if convErr != nil {
		t.Fatalf("%s %x: the row decoder reads %+v where convert refuses: %v", spec.name, image, got, convErr)
	}
	if len(got) != len(rows) {
		t.Fatalf("%s %x: the row decoder read %d rows, go-mysql %d", spec.name, image, len(got), len(rows))
	}
	for i := range got {
		w := want[i]
		if zeroed(i) {
			w = sluice.Row{ci.zero()}
		}
		if !got[i][0].Equal(w[0]) {
			t.Fatalf("%s %x row %d: the row decoder read %+v, want %+v (go-mysql %#v)", spec.name, image, i, got[i][0], w[0], rows[i][0])
		}
	}
}

// fzZeroInDate reports for each row image of a DATETIME column whether
// its month or day is zero; nil for other columns.
func fzZeroInDate(ci *colInfo, image []byte) []bool {
	n := 8
	switch ci.wire {
	case mysql.MYSQL_TYPE_DATETIME2:
		n = 5 + (int(ci.meta)+1)/2
	case mysql.MYSQL_TYPE_DATETIME:
	default:
		return nil
	}
	var out []bool
	for len(image) > 0 {
		null := image[0]&1 != 0
		image = image[1:]
		if null {
			out = append(out, false)
			continue
		}
		if len(image) < n {
			break
		}
		var m, d int64
		if ci.wire == mysql.MYSQL_TYPE_DATETIME {
			ymd := int64(mysql.FixedLengthInt(image[:8])) / 1_000_000
			m, d = ymd/100%100, ymd%100
		} else {
			ymd := (int64(mysql.BFixedLengthInt(image[:5])) - 0x80_0000_0000) >> 17
			m, d = ymd>>5%13, ymd&31
		}
		out = append(out, m == 0 || d == 0)
		image = image[n:]
	}
	return out
}

// TestOldTime: a TIME before MySQL 5.6.4 (and MariaDB's with
// mysql56_temporal_format=OFF) is HHMMSS as a signed 24-bit integer
// (int3store, read back with sint3korr). Read by the row decoder and by
// go-mysql plus fromBinlog (compressed events, tables with a JSON
// column), it is the value a snapshot reads from the same time's text.
func TestOldTime(t *testing.T) {
	for _, text := range []string{"00:00:00", "01:02:03", "-01:00:00", "-838:59:59", "838:59:59", "-00:00:01"} {
		t.Run(text, func(t *testing.T) {
			want, err := parseTime([]byte(text))
			if err != nil {
				t.Fatal(err)
			}
			// int3store of the time as the server computes it.
			var h, m, s int
			if _, err := fmt.Sscanf(strings.TrimPrefix(text, "-"), "%d:%d:%d", &h, &m, &s); err != nil {
				t.Fatal(err)
			}
			x := int32(h*10000 + m*100 + s)
			if text[0] == '-' {
				x = -x
			}
			b := []byte{byte(x), byte(x >> 8), byte(x >> 16)}
			ci := &colInfo{kind: kTime, wire: mysql.MYSQL_TYPE_TIME}
			got, n, err := ci.decodeValue(b)
			if err != nil || n != 3 || !got.Equal(present(sluice.Value{Int: want})) {
				t.Errorf("row decoder: %x is %+v (%d bytes, %v), want %d µs", b, got, n, err, want)
			}
			rows, _, _ := fzDecodeRows(mysql.MYSQL_TYPE_TIME, nil, false, append([]byte{0}, b...))
			if len(rows) != 1 {
				t.Fatalf("go-mysql read %d rows of %x", len(rows), b)
			}
			got, err = ci.fromBinlog(&sluice.Column{Type: sluice.TypeTime}, rows[0][0])
			if err != nil || !got.Equal(present(sluice.Value{Int: want})) {
				t.Errorf("go-mysql: %x (%v) is %+v (%v), want %d µs", b, rows[0][0], got, err, want)
			}
		})
	}
	// Text go-mysql does not print for 3 bytes is an error.
	for _, s := range []string{"", "1:02:03", "01:02", "-01:00:00", "01:2:03", "1677:72:16", "12345:00:00"} {
		if us, err := goMySQLOldTime(s); err == nil {
			t.Errorf("goMySQLOldTime(%q) = %d, want an error", s, us)
		}
	}
}
