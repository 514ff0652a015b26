package mysql

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"golang.org/x/text/encoding/charmap"

	"github.com/sluice-cdc/sluice"
)

// FuzzBinlogValue decodes fuzzed row images of a one-column table with
// go-mysql's binlog parser, configured as the source's syncer configures
// it (strings for times, UTC for TIMESTAMP, decimals as text), and turns
// the rows into sluice rows with stream.convert and colInfo.fromBinlog.
// Column type and metadata are fuzzed within what MySQL writes. The
// conversion never panics, never keeps a reference to the event buffer,
// and each value means what go-mysql decoded: integers with the column's
// signedness, exact decimal text, float bits, BIT bytes, ENUM and SET
// labels, text as UTF-8, and dates and times that print back as the text
// go-mysql produced (an old-format TIME: as the server's text of it,
// fzOldTimeText). Where go-mysql itself refuses the bytes (or panics,
// which its parser turns into an error) there is nothing to convert.
func FuzzBinlogValue(f *testing.F) {
	for sel := range fzSpecs {
		f.Add(uint8(sel), uint16(0x0a02), false, []byte{0, 0x7f, 0xff, 0, 0, 0x80, 0, 0, 0, 0})
		f.Add(uint8(sel), uint16(0x0306), true, []byte{0, 0x99, 0xb3, 0x42, 0xd8, 0x1c, 0x0f, 0x42, 0x40, 0xe1})
		f.Add(uint8(sel), uint16(0xff40), true, []byte{1})
	}
	// Hand-made images: 2024-02-29 (DATE), '2024-01-02 10:17:37.014245'
	// (DATETIME2(6)), '-838:59:59' (TIME2(0)), 12.50 (DECIMAL(4,2)).
	f.Add(uint8(fzDate), uint16(0), false, []byte{0, 0x5d, 0xd0, 0x0f})
	// '2024-01-02 10:17:37.014245' (DATETIME2(6)), the same instant to the
	// millisecond (TIMESTAMP2(3)) and '12:34:56' (TIME2(0)), the last two
	// in two rows with a null between them.
	f.Add(uint8(fzDatetime2), uint16(6), false, []byte{0, 0x99, 0xb2, 0x44, 0xa4, 0x65, 0x00, 0x37, 0xa5})
	f.Add(uint8(fzTimestamp2), uint16(3), false, []byte{0, 0x65, 0x93, 0xe2, 0xc1, 0x00, 0x8c, 1, 0, 0x65, 0x93, 0xe2, 0xc1, 0x00, 0x8c})
	f.Add(uint8(fzTime2), uint16(0), false, []byte{0, 0x80, 0xc8, 0xb8, 1, 0, 0x80, 0xc8, 0xb8})
	// DATETIME before MySQL 5.6.4: zero, and '2020-00-15 10:00:00' (a zero
	// month: the zero date, null in this nullable column).
	f.Add(uint8(fzDatetime), uint16(0), false, []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x60, 0x78, 0xb9, 0x2e, 0x5f, 0x12, 0, 0})
	f.Add(uint8(fzDatetime2), uint16(6), false, []byte{0, 0x99, 0xb2, 0x04, 0xa4, 0x65, 0x00, 0x37, 0xc5})
	f.Add(uint8(fzTime2), uint16(0), false, []byte{0, 0x72, 0xfe, 0xc5})
	f.Add(uint8(fzDecimal), uint16(0x0402), false, []byte{0, 0x80, 0x0c, 0x32})
	// TIME before MySQL 5.6.4: '-01:00:00' (-10000 in 24 bits) and
	// '838:59:59'.
	f.Add(uint8(fzTime), uint16(0), false, []byte{0, 0xf0, 0xd8, 0xff, 0, 0xa7, 0xf5, 0x7f})
	f.Add(uint8(fzVarchar), uint16(20), false, append([]byte{0, 6}, "gr\xc3\xbcn\xff"...))
	f.Add(uint8(fzVarchar), uint16(20), false, append([]byte{0, 5}, "valid"...)) // valid UTF-8, kept without a copy: it must not alias the event
	f.Add(uint8(fzVarcharLatin1), uint16(20), false, []byte{0, 3, 'g', 0xfc, 0x80})
	f.Add(uint8(fzJSON), uint16(4), false, []byte{0, 3, 0, 0, 0, 0x04, 0x01, 0x00})
	f.Add(uint8(fzGeometry), uint16(4), false, []byte{0, 6, 0, 0, 0, 0xe6, 0x10, 0, 0, 1, 2})
	f.Add(uint8(fzEnum), uint16(2), false, []byte{0, 0xff, 0xff})
	f.Add(uint8(fzSet), uint16(0x0802), false, []byte{0, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, sel uint8, meta uint16, notNull bool, image []byte) {
		spec := fzSpecs[int(sel)%len(fzSpecs)]
		metaBytes, ct := spec.build(meta)
		rows, event, tm := fzDecodeRows(spec.typ, metaBytes, !notNull, image)
		c, ci := columnFor("c", ct, !notNull)
		ci.wire, ci.meta = wireOf(tm.ColumnType[0], tm.ColumnMeta[0]), tm.ColumnMeta[0]
		rel := &relation{table: &sluice.Table{DB: "db", Name: "t", Columns: []sluice.Column{c}}, cols: []colInfo{ci}}
		fzNative(t, spec, rel, rows, image)
		if rows == nil {
			return // go-mysql refuses these bytes
		}
		e := &replication.RowsEvent{Rows: rows}
		type result struct {
			got, want sluice.Value
			gv        any
		}
		var results []result
		for i, r := range rows {
			want, wantErr := fzExpect(t, spec, ct, &ci, r[0])
			row, err := (&stream{}).convert(rel, e, i, r)
			if (err != nil) != (wantErr != "") {
				t.Fatalf("%s %#v: err %v, want %q", spec.name, r[0], err, wantErr)
			}
			if err == nil {
				results = append(results, result{row[0], want, r[0]})
			}
		}
		for k := range event {
			event[k] = 0xA5 // the event buffer is reused
		}
		for _, r := range results {
			if !r.got.Equal(r.want) {
				t.Fatalf("%s %q: got %+v, want %+v", spec.name, fmt.Sprint(r.gv), r.got, r.want)
			}
		}
	})
}

// fzSpec is a column type as a table map describes it.
type fzSpec struct {
	name string
	typ  byte
	// build derives the table map's metadata bytes and the column type
	// from the fuzzed meta, within what MySQL writes.
	build func(m uint16) ([]byte, colType)
}

const (
	fzDecimal       = 10
	fzDatetime      = 15
	fzTimestamp2    = 16
	fzDatetime2     = 17
	fzTime2         = 18
	fzDate          = 19
	fzTime          = 20
	fzEnum          = 23
	fzSet           = 24
	fzVarchar       = 25
	fzVarcharLatin1 = 26
	fzJSON          = 31
	fzGeometry      = 33
)

// ENUM labels may be empty or hold a comma; SET labels may not (MySQL
// refuses such a SET definition).
var (
	fzEnumLabels = []string{"a,b", "", "ü"}
	fzSetLabels  = []string{"red", "green", "blue", "ü", "x", "y", "z", "w", "v", "u", "t", "s", "r", "q", "p", "o", "n"}
)

func fzInt(name string, typ byte, width int, unsigned bool) fzSpec {
	return fzSpec{name, typ, func(uint16) ([]byte, colType) {
		return nil, colType{kind: kInt, width: width, unsigned: unsigned}
	}}
}

func fzFsp(name string, typ byte, k kind) fzSpec {
	return fzSpec{name, typ, func(m uint16) ([]byte, colType) {
		fsp := int(m % 7)
		return []byte{byte(fsp)}, colType{kind: k, fsp: fsp}
	}}
}

func fzBlob(name string, typ byte, k kind, charset string) fzSpec {
	return fzSpec{name, typ, func(m uint16) ([]byte, colType) {
		return []byte{byte(1 + m%4)}, colType{kind: k, dec: decoderFor(charset)}
	}}
}

func fzVarString(name string, charset string) fzSpec {
	return fzSpec{name, mysql.MYSQL_TYPE_VARCHAR, func(m uint16) ([]byte, colType) {
		return binary.LittleEndian.AppendUint16(nil, max(m, 1)), colType{kind: kText, dec: decoderFor(charset)}
	}}
}

// fzSpecs lists the column types; the fz… constants index it.
var fzSpecs = []fzSpec{
	fzInt("tinyint", mysql.MYSQL_TYPE_TINY, 1, false),
	fzInt("tinyint unsigned", mysql.MYSQL_TYPE_TINY, 1, true),
	fzInt("smallint", mysql.MYSQL_TYPE_SHORT, 2, false),
	fzInt("smallint unsigned", mysql.MYSQL_TYPE_SHORT, 2, true),
	fzInt("mediumint", mysql.MYSQL_TYPE_INT24, 3, false),
	fzInt("mediumint unsigned", mysql.MYSQL_TYPE_INT24, 3, true),
	fzInt("int", mysql.MYSQL_TYPE_LONG, 4, false),
	fzInt("int unsigned", mysql.MYSQL_TYPE_LONG, 4, true),
	fzInt("bigint", mysql.MYSQL_TYPE_LONGLONG, 8, false),
	fzInt("bigint unsigned", mysql.MYSQL_TYPE_LONGLONG, 8, true),
	{"decimal", mysql.MYSQL_TYPE_NEWDECIMAL, func(m uint16) ([]byte, colType) {
		prec := 1 + int(m>>8)%65
		scale := int(m&0xff) % (min(prec, 30) + 1)
		return []byte{byte(prec), byte(scale)}, colType{kind: kDecimal, prec: prec, scale: scale}
	}},
	{"float", mysql.MYSQL_TYPE_FLOAT, func(uint16) ([]byte, colType) { return []byte{4}, colType{kind: kFloat} }},
	{"double", mysql.MYSQL_TYPE_DOUBLE, func(uint16) ([]byte, colType) { return []byte{8}, colType{kind: kDouble} }},
	{"bit", mysql.MYSQL_TYPE_BIT, func(m uint16) ([]byte, colType) {
		bits := 1 + int(m%64)
		return []byte{byte(bits % 8), byte(bits / 8)}, colType{kind: kBit, bits: bits}
	}},
	{"timestamp", mysql.MYSQL_TYPE_TIMESTAMP, func(uint16) ([]byte, colType) { return nil, colType{kind: kTimestamp} }},
	{"datetime", mysql.MYSQL_TYPE_DATETIME, func(uint16) ([]byte, colType) { return nil, colType{kind: kDatetime} }},
	fzFsp("timestamp(fsp)", mysql.MYSQL_TYPE_TIMESTAMP2, kTimestamp),
	fzFsp("datetime(fsp)", mysql.MYSQL_TYPE_DATETIME2, kDatetime),
	fzFsp("time(fsp)", mysql.MYSQL_TYPE_TIME2, kTime),
	{"date", mysql.MYSQL_TYPE_DATE, func(uint16) ([]byte, colType) { return nil, colType{kind: kDate} }},
	{"time", mysql.MYSQL_TYPE_TIME, func(uint16) ([]byte, colType) { return nil, colType{kind: kTime} }},
	{"year", mysql.MYSQL_TYPE_YEAR, func(uint16) ([]byte, colType) { return nil, colType{kind: kYear} }},
	{"char", mysql.MYSQL_TYPE_STRING, func(m uint16) ([]byte, colType) {
		return []byte{mysql.MYSQL_TYPE_STRING, byte(max(m, 1))}, colType{kind: kText}
	}},
	{"enum", mysql.MYSQL_TYPE_STRING, func(m uint16) ([]byte, colType) {
		return []byte{mysql.MYSQL_TYPE_ENUM, byte(1 + m%2)}, colType{kind: kEnum, labels: fzEnumLabels}
	}},
	{"set", mysql.MYSQL_TYPE_STRING, func(m uint16) ([]byte, colType) {
		pack := 1 + int(m&0xff)%8
		n := 1 + int(m>>8)%min(pack*8, len(fzSetLabels))
		return []byte{mysql.MYSQL_TYPE_SET, byte(pack)}, colType{kind: kSet, labels: fzSetLabels[:n]}
	}},
	fzVarString("varchar", "utf8mb4"),
	fzVarString("varchar latin1", "latin1"),
	fzBlob("blob", mysql.MYSQL_TYPE_BLOB, kBinary, "binary"),
	fzBlob("text", mysql.MYSQL_TYPE_BLOB, kText, "utf8mb4"),
	fzBlob("text utf16", mysql.MYSQL_TYPE_BLOB, kText, "utf16"),
	fzBlob("longtext json (MariaDB)", mysql.MYSQL_TYPE_BLOB, kJSON, "utf8mb4"),
	{"json", mysql.MYSQL_TYPE_JSON, func(m uint16) ([]byte, colType) { return []byte{byte(1 + m%4)}, colType{kind: kJSON} }},
	fzBlob("varbinary", mysql.MYSQL_TYPE_BLOB, kBinary, "binary"),
	fzBlob("geometry", mysql.MYSQL_TYPE_GEOMETRY, kGeometry, "binary"),
}

// fzEvent frames a binlog event body.
func fzEvent(typ replication.EventType, body []byte) []byte {
	return rawEvent(typ, 1_700_000_000, 0, body, false)
}

// fzParser is a binlog parser configured as the source's syncer
// configures it (strings for times, UTC for TIMESTAMP, decimals as text;
// decode: its RowsEventDecodeFunc) that has read a 5.5 server's format
// description: no checksums; table ids of 6 bytes (post-header lengths 8
// for table maps, 10 for rows events of type rows).
func fzParser(rows replication.EventType, decode func(*replication.RowsEvent, []byte) error) *replication.BinlogParser {
	p := replication.NewBinlogParser()
	p.SetParseTime(false)
	p.SetTimestampStringLocation(time.UTC)
	p.SetUseDecimal(false)
	p.SetRowsEventDecodeFunc(decode)
	fde := binary.LittleEndian.AppendUint16(nil, 4)
	fde = append(fde, make([]byte, 50)...)
	copy(fde[2:], "5.5.0-fuzz")
	fde = append(fde, 0, 0, 0, 0, replication.EventHeaderSize)
	lengths := make([]byte, 40)
	lengths[replication.TABLE_MAP_EVENT-1] = 8
	lengths[rows-1] = 10
	if _, err := p.Parse(fzEvent(replication.FORMAT_DESCRIPTION_EVENT, append(fde, lengths...))); err != nil {
		panic(fmt.Sprintf("fuzz harness: %v", err))
	}
	return p
}

// fzDecodeRows parses a format description, a table map of one column and
// a WRITE_ROWS_EVENTv2 whose row images are image. It returns the rows and
// the rows event's buffer, or nil when go-mysql refuses the bytes, and
// the table map.
func fzDecodeRows(typ byte, meta []byte, nullable bool, image []byte) ([][]any, []byte, *replication.TableMapEvent) {
	p := fzParser(replication.WRITE_ROWS_EVENTv2, nil)

	tm := []byte{1, 0, 0, 0, 0, 0, 0, 0, 2, 'd', 'b', 0, 1, 't', 0, 1, typ, byte(len(meta))}
	tm = append(tm, meta...)
	null := byte(0)
	if nullable {
		null = 1
	}
	tm = append(tm, null)

	rows := []byte{1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1, 1}
	rows = append(rows, image...)
	event := fzEvent(replication.WRITE_ROWS_EVENTv2, rows)

	be, err := p.Parse(fzEvent(replication.TABLE_MAP_EVENT, tm))
	if err != nil {
		panic(fmt.Sprintf("fuzz harness: %v", err))
	}
	tme := be.Event.(*replication.TableMapEvent)
	be, err = p.Parse(event)
	if err != nil {
		return nil, nil, tme
	}
	re, ok := be.Event.(*replication.RowsEvent)
	if !ok || len(re.Rows) == 0 {
		return nil, nil, tme
	}
	return re.Rows, event, tme
}

var (
	fzDecimalRE  = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)
	fzDatetimeRE = regexp.MustCompile(`^([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,6})?$`)
	fzDateRE     = regexp.MustCompile(`^([0-9]{4})-([0-9]{2})-([0-9]{2})$`)
	fzTimeRE     = regexp.MustCompile(`^(-?)([0-9]{2,}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,6})?$`)
)

func fzPresent(v sluice.Value) sluice.Value { v.Kind = sluice.KindPresent; return v }

// fzExpect is the value a go-mysql value gv of the column must become, or
// the reason it must be an error.
func fzExpect(t *testing.T, spec fzSpec, ct colType, ci *colInfo, gv any) (sluice.Value, string) {
	t.Helper()
	if gv == nil {
		return sluice.Value{}, ""
	}
	bad := func() { t.Fatalf("%s: go-mysql returned %T %#v, which the oracle does not expect", spec.name, gv, gv) }
	zero := sluice.Value{}
	if ci.notNull {
		zero = fzPresent(sluice.Value{}) // the epoch, as Debezium does
	}
	switch ci.kind {
	case kInt, kUint, kUint64:
		var x int64
		switch v := gv.(type) {
		case int8:
			x = int64(v)
		case int16:
			x = int64(v)
		case int32:
			x = int64(v)
		case int64:
			x = v
		default:
			bad()
		}
		if !ct.unsigned {
			return fzPresent(sluice.Value{Int: x}), ""
		}
		u := uint64(x)
		if ct.width < 8 {
			u &= 1<<(8*ct.width) - 1 // the column's unsigned value
		}
		if ci.kind == kUint64 {
			return fzPresent(sluice.Value{Bytes: []byte(strconv.FormatUint(u, 10))}), ""
		}
		return fzPresent(sluice.Value{Int: int64(u)}), ""
	case kYear:
		y, ok := gv.(int)
		if !ok {
			bad()
		}
		if y == 0 {
			y = 1900 // the zero year, as Debezium writes it (yearValue)
		}
		return fzPresent(sluice.Value{Int: int64(y)}), ""
	case kDecimal:
		s, ok := gv.(string)
		if !ok {
			bad()
		}
		// TypeDecimal holds exact decimal text (row.go).
		if !fzDecimalRE.MatchString(s) {
			t.Fatalf("decimal(%d,%d): go-mysql decoded %q, which is not decimal text", ct.prec, ct.scale, s)
		}
		return fzPresent(sluice.Value{Bytes: []byte(s)}), ""
	case kFloat:
		x, ok := gv.(float32)
		if !ok {
			bad()
		}
		return fzPresent(sluice.Value{Float: float64(x)}), ""
	case kDouble:
		x, ok := gv.(float64)
		if !ok {
			bad()
		}
		return fzPresent(sluice.Value{Float: x}), ""
	case kBit:
		x, ok := gv.(int64)
		if !ok {
			bad()
		}
		if ct.bits == 1 {
			return fzPresent(sluice.Value{Int: x & 1}), ""
		}
		n := (ct.bits + 7) / 8
		var be [8]byte
		binary.BigEndian.PutUint64(be[:], uint64(x))
		le := make([]byte, n) // Debezium's Bits: little-endian
		for i := range le {
			le[i] = be[7-i]
		}
		return fzPresent(sluice.Value{Int: int64(ct.bits), Bytes: le}), ""
	case kEnum:
		x, ok := gv.(int64)
		if !ok {
			bad()
		}
		switch {
		case x == 0:
			return fzPresent(sluice.Value{Bytes: []byte{}}), "" // MySQL's '' for an invalid value
		case x > int64(len(ct.labels)):
			return sluice.Value{}, "ENUM index beyond the labels"
		}
		return fzPresent(sluice.Value{Bytes: []byte(ct.labels[x-1])}), ""
	case kSet:
		x, ok := gv.(int64)
		if !ok {
			bad()
		}
		var names []string
		for i, l := range ct.labels {
			if x&(1<<i) != 0 {
				names = append(names, l)
			}
		}
		return fzPresent(sluice.Value{Bytes: []byte(strings.Join(names, ","))}), ""
	case kDate:
		s, ok := gv.(string)
		if !ok {
			bad()
		}
		m := fzDateRE.FindStringSubmatch(s)
		switch {
		case m == nil:
			return sluice.Value{}, "not YYYY-MM-DD" // e.g. a year of 5 digits from corrupt bytes
		case m[2] == "00" || m[3] == "00":
			return zero, ""
		}
		d, ok := fzCivil(m[1], m[2], m[3])
		if !ok {
			return sluice.Value{}, "month or day out of range"
		}
		days := d.Unix() / 86400
		if d.Format("2006-01-02") == s && time.Unix(days*86400, 0).UTC().Format("2006-01-02") != s {
			t.Fatalf("date %q: day %d does not print back", s, days)
		}
		return fzPresent(sluice.Value{Int: days}), ""
	case kDatetime, kTimestamp:
		s, ok := gv.(string)
		if !ok {
			bad()
		}
		m := fzDatetimeRE.FindStringSubmatch(s)
		switch {
		case m == nil:
			return sluice.Value{}, "not YYYY-MM-DD HH:MM:SS[.f]"
		case m[2] == "00" || m[3] == "00":
			return zero, "" // zero dates, and zero in-date parts
		}
		d, ok := fzCivil(m[1], m[2], m[3])
		if !ok {
			return sluice.Value{}, "month or day out of range"
		}
		h, _ := strconv.Atoi(m[4])
		mi, _ := strconv.Atoi(m[5])
		sec, _ := strconv.Atoi(m[6])
		frac := fzMicros(m[7])
		// A wall clock read in UTC (DATETIME), or the instant go-mysql
		// printed in UTC (TIMESTAMP). Fields beyond their range (bytes
		// MySQL does not write) are counted on, as in parseDatetime.
		us := (d.Unix()+int64(h*3600+mi*60+sec))*1_000_000 + frac
		if h < 24 && mi < 60 && sec < 60 && d.Format("2006-01-02") == m[1]+"-"+m[2]+"-"+m[3] {
			// Printed back with the column's digits, it is the input.
			layout := "2006-01-02 15:04:05"
			if len(m[7]) > 0 {
				layout += "." + strings.Repeat("0", len(m[7])-1)
			}
			if got := time.UnixMicro(us).UTC().Format(layout); got != s {
				t.Fatalf("%s %q: %d µs prints back as %q", spec.name, s, us, got)
			}
		}
		return fzPresent(sluice.Value{Int: us}), ""
	case kTime:
		s, ok := gv.(string)
		if !ok {
			bad()
		}
		if spec.typ == mysql.MYSQL_TYPE_TIME {
			s = fzOldTimeText(t, s)
		}
		m := fzTimeRE.FindStringSubmatch(s)
		if m == nil {
			return sluice.Value{}, "not [-]HH:MM:SS[.f]"
		}
		h, _ := strconv.ParseInt(m[2], 10, 64)
		mi, _ := strconv.ParseInt(m[3], 10, 64)
		sec, _ := strconv.ParseInt(m[4], 10, 64)
		us := (h*3600+mi*60+sec)*1_000_000 + fzMicros(m[5])
		if m[1] == "-" {
			us = -us
		}
		if mi < 60 && sec < 60 {
			a := max(us, -us)
			got := fmt.Sprintf("%s%02d:%02d:%02d", m[1], a/3_600_000_000, a/60_000_000%60, a/1_000_000%60)
			if len(m[5]) > 0 {
				got += fmt.Sprintf(".%06d", a%1_000_000)[:len(m[5])]
			}
			if got != s {
				t.Fatalf("%s %q: %d µs prints back as %q", spec.name, s, us, got)
			}
		}
		return fzPresent(sluice.Value{Int: us}), ""
	case kText, kJSON:
		b := fzBytes(t, spec, gv)
		if ci.dec == nil {
			// values.go: invalid UTF-8 (a run of bad bytes) becomes U+FFFD.
			return fzPresent(sluice.Value{Bytes: []byte(strings.ToValidUTF8(string(b), "\uFFFD"))}), ""
		}
		out, err := ci.dec.Bytes(b)
		if err != nil {
			return sluice.Value{}, "not in the character set"
		}
		if !utf8.Valid(out) {
			t.Fatalf("%s %q: decoded to invalid UTF-8 %q", spec.name, b, out)
		}
		if spec.name == "varchar latin1" {
			// MySQL's latin1, as the server converts it for a snapshot
			// (utf8mb4 session): cp1252, whose five unassigned bytes are
			// the C1 controls U+0081, U+008D, U+008F, U+0090, U+009D.
			if want := fzLatin1(b); !bytes.Equal(out, want) {
				t.Fatalf("latin1 %q: decoded %q, MySQL reads %q", b, out, want)
			}
		}
		return fzPresent(sluice.Value{Bytes: out}), ""
	case kBinary:
		return fzPresent(sluice.Value{Bytes: bytes.Clone(fzBytes(t, spec, gv))}), ""
	case kGeometry:
		b := fzBytes(t, spec, gv)
		if len(b) < 4 {
			return sluice.Value{}, "geometry without SRID"
		}
		return fzPresent(sluice.Value{Int: int64(binary.LittleEndian.Uint32(b)), Bytes: bytes.Clone(b[4:])}), ""
	}
	t.Fatalf("%s: no oracle for kind %d", spec.name, ci.kind)
	return sluice.Value{}, ""
}

// fzLatin1 decodes MySQL's latin1 (SELECT CONVERT(_latin1 0x81 USING
// utf8mb4) is U+0081 on MariaDB 10.11).
func fzLatin1(b []byte) []byte {
	var out []byte
	for _, c := range b {
		switch c {
		case 0x81, 0x8d, 0x8f, 0x90, 0x9d:
			out = utf8.AppendRune(out, rune(c))
		default:
			r := charmap.Windows1252.DecodeByte(c)
			out = utf8.AppendRune(out, r)
		}
	}
	return out
}

// fzBytes is the text or bytes go-mysql returns for string-like columns,
// copied (the oracle must not alias the event buffer either).
func fzBytes(t *testing.T, spec fzSpec, gv any) []byte {
	switch v := gv.(type) {
	case string:
		return []byte(v)
	case []byte:
		return bytes.Clone(v)
	}
	t.Fatalf("%s: go-mysql returned %T", spec.name, gv)
	return nil
}

// fzCivil reads a date whose month is 1 to 12 and day 1 to 31 (a day past
// the month's end, which MySQL stores with ALLOW_INVALID_DATES, counts on
// into the next month, as parseDate does).
func fzCivil(y, m, d string) (time.Time, bool) {
	yy, _ := strconv.Atoi(y)
	mm, _ := strconv.Atoi(m)
	dd, _ := strconv.Atoi(d)
	if mm < 1 || mm > 12 || dd < 1 || dd > 31 {
		return time.Time{}, false
	}
	return time.Date(yy, time.Month(mm), dd, 0, 0, 0, 0, time.UTC), true
}

// fzMicros reads ".f…" (1 to 6 digits) as microseconds.
func fzMicros(frac string) int64 {
	if frac == "" {
		return 0
	}
	n, _ := strconv.ParseInt((frac[1:] + "00000")[:6], 10, 64)
	return n
}

// fzOldTimeText is the server's text of an old-format TIME (before MySQL
// 5.6.4) that go-mysql printed as s: go-mysql reads the 24 bits of the
// signed HHMMSS unsigned, so one with bit 23 set is the negative time
// x - 2^24.
func fzOldTimeText(t *testing.T, s string) string {
	t.Helper()
	var h, m, sec int
	if n, err := fmt.Sscanf(s, "%d:%d:%d", &h, &m, &sec); n != 3 || err != nil {
		t.Fatalf("time: go-mysql printed %q", s)
	}
	x := h*10000 + m*100 + sec
	if x < 1<<23 {
		return s
	}
	y := 1<<24 - x
	return fmt.Sprintf("-%02d:%02d:%02d", y/10000, y/100%100, y%100)
}
