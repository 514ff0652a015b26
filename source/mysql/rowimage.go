package mysql

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/sluice-cdc/sluice"
)

// The row decoder reads a rows event's row images straight into sluice
// values. go-mysql's decoder turns every column into an interface value
// (dates and times into formatted text that values.go then parses back),
// which cost about a third of the source's CPU on single-row
// transactions. go-mysql still frames and parses the events (the syncer's
// RowsEventDecodeFunc stops it after the header, headerOnly); its decoder
// remains for the events and tables this one does not read (nativeWire).

// errMalformed is a value the server does not write: a fraction, decimal
// group or date field beyond its range.
var errMalformed = errors.New("malformed value")

// errShort is a row image that ends inside a value.
var errShort = errors.New("row image ends inside a value")

// wireOf is the type a column's values have in a row image, and its table
// map metadata: for MYSQL_TYPE_STRING the real type (CHAR, ENUM, SET) is
// in the metadata, as go-mysql reads it.
func wireOf(t byte, meta uint16) byte {
	if t == mysql.MYSQL_TYPE_STRING && meta >= 256 {
		b0 := byte(meta >> 8)
		if b0&0x30 != 0x30 {
			return b0 | 0x30
		}
		return b0
	}
	return t
}

// nativeWire reports whether the row decoder reads values of wire type t.
// MySQL's binary JSON and vectors are left to go-mysql.
func nativeWire(t byte) bool {
	switch t {
	case mysql.MYSQL_TYPE_TIMESTAMP, mysql.MYSQL_TYPE_DATETIME, mysql.MYSQL_TYPE_TIME: // before MySQL 5.6.4
		return true
	case mysql.MYSQL_TYPE_TINY, mysql.MYSQL_TYPE_SHORT, mysql.MYSQL_TYPE_INT24, mysql.MYSQL_TYPE_LONG,
		mysql.MYSQL_TYPE_LONGLONG, mysql.MYSQL_TYPE_FLOAT, mysql.MYSQL_TYPE_DOUBLE, mysql.MYSQL_TYPE_NEWDECIMAL,
		mysql.MYSQL_TYPE_BIT, mysql.MYSQL_TYPE_YEAR, mysql.MYSQL_TYPE_DATE, mysql.MYSQL_TYPE_TIME2,
		mysql.MYSQL_TYPE_DATETIME2, mysql.MYSQL_TYPE_TIMESTAMP2, mysql.MYSQL_TYPE_ENUM, mysql.MYSQL_TYPE_SET,
		mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_VAR_STRING, mysql.MYSQL_TYPE_STRING, mysql.MYSQL_TYPE_BLOB,
		mysql.MYSQL_TYPE_GEOMETRY:
		return true
	}
	return false
}

// decodeImages reads the row images of a rows event of rel's table: one
// per row, two (before, after) per row of an update. The values' bytes
// alias data, which must be the caller's own (images copies it out of
// go-mysql's event).
func decodeImages(rel *relation, e *replication.RowsEvent, data []byte, dst []sluice.Row) ([]sluice.Row, error) {
	n := len(rel.cols)
	if int(e.ColumnCount) != n {
		return dst, fmt.Errorf("rows event has %d columns, table map %d", e.ColumnCount, n)
	}
	update := e.Type() == replication.EnumRowsEventTypeUpdate
	for len(data) > 0 {
		row, k, err := rel.decodeImage(data, e.ColumnBitmap1)
		if err != nil {
			return dst, err
		}
		dst, data = append(dst, row), data[k:]
		if update {
			row, k, err = rel.decodeImage(data, e.ColumnBitmap2)
			if err != nil {
				return dst, err
			}
			dst, data = append(dst, row), data[k:]
		}
	}
	return dst, nil
}

// decodeImage reads one row image: the null bitmap of the columns the
// image holds (bitmap), then their values. A column the image leaves out
// (binlog_row_image other than FULL) is KindMissing.
func (rel *relation) decodeImage(data, bitmap []byte) (sluice.Row, int, error) {
	n := len(rel.cols)
	if len(bitmap) < (n+7)/8 {
		return nil, 0, fmt.Errorf("column bitmap of %d bytes for %d columns", len(bitmap), n)
	}
	present := 0
	for i := range n {
		if bitmap[i>>3]&(1<<(i&7)) != 0 {
			present++
		}
	}
	nb := (present + 7) / 8
	if len(data) < nb {
		return nil, 0, errShort
	}
	nulls, pos := data[:nb], nb
	row := make(sluice.Row, n)
	cols := rel.table.Columns
	k := 0
	for i := range n {
		if bitmap[i>>3]&(1<<(i&7)) == 0 {
			row[i].Kind = sluice.KindMissing
			continue
		}
		null := nulls[k>>3]&(1<<(k&7)) != 0
		k++
		if null {
			continue
		}
		v, m, err := rel.cols[i].decodeValue(data[pos:])
		if err != nil {
			return nil, 0, fmt.Errorf("column %s: %w", cols[i].Name, err)
		}
		row[i], pos = v, pos+m
	}
	return row, pos, nil
}

// decodeValue reads one non-null value of the column from the start of b
// and returns it with the bytes it took.
func (ci *colInfo) decodeValue(b []byte) (sluice.Value, int, error) {
	meta := ci.meta
	switch ci.wire {
	case mysql.MYSQL_TYPE_TINY:
		return ci.intValue(b, 1)
	case mysql.MYSQL_TYPE_SHORT:
		return ci.intValue(b, 2)
	case mysql.MYSQL_TYPE_INT24:
		return ci.intValue(b, 3)
	case mysql.MYSQL_TYPE_LONG:
		return ci.intValue(b, 4)
	case mysql.MYSQL_TYPE_LONGLONG:
		return ci.intValue(b, 8)
	case mysql.MYSQL_TYPE_FLOAT:
		if len(b) < 4 {
			return sluice.Value{}, 0, errShort
		}
		return present(sluice.Value{Float: float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))}), 4, nil
	case mysql.MYSQL_TYPE_DOUBLE:
		if len(b) < 8 {
			return sluice.Value{}, 0, errShort
		}
		return present(sluice.Value{Float: math.Float64frombits(binary.LittleEndian.Uint64(b))}), 8, nil
	case mysql.MYSQL_TYPE_NEWDECIMAL:
		return decimalValue(b, int(meta>>8), int(meta&0xff))
	case mysql.MYSQL_TYPE_BIT:
		nbits := int(meta>>8)*8 + int(meta&0xff)
		n := (nbits + 7) / 8
		if n < 1 || n > 8 || nbits <= 1 && n != 1 {
			return sluice.Value{}, 0, fmt.Errorf("BIT of %d bits", nbits)
		}
		if len(b) < n {
			return sluice.Value{}, 0, errShort
		}
		return ci.bitValue(mysql.BFixedLengthInt(b[:n])), n, nil
	case mysql.MYSQL_TYPE_YEAR:
		if len(b) < 1 {
			return sluice.Value{}, 0, errShort
		}
		y := int64(b[0])
		if y != 0 {
			y += 1900
		}
		return yearValue(y), 1, nil
	case mysql.MYSQL_TYPE_DATE:
		if len(b) < 3 {
			return sluice.Value{}, 0, errShort
		}
		x := int(mysql.FixedLengthInt(b[:3]))
		v, err := ci.dateValue(x>>9, x>>5&15, x&31)
		return v, 3, err
	case mysql.MYSQL_TYPE_TIMESTAMP:
		if len(b) < 4 {
			return sluice.Value{}, 0, errShort
		}
		if sec := int64(mysql.FixedLengthInt(b[:4])); sec != 0 {
			return present(sluice.Value{Int: sec * 1_000_000}), 4, nil
		}
		return ci.zero(), 4, nil
	case mysql.MYSQL_TYPE_DATETIME:
		return ci.datetime(b)
	case mysql.MYSQL_TYPE_TIME:
		if len(b) < 3 {
			return sluice.Value{}, 0, errShort
		}
		return present(sluice.Value{Int: oldTime(mysql.FixedLengthInt(b[:3]))}), 3, nil
	case mysql.MYSQL_TYPE_TIMESTAMP2:
		return ci.timestamp2(b, int(meta))
	case mysql.MYSQL_TYPE_DATETIME2:
		return ci.datetime2(b, int(meta))
	case mysql.MYSQL_TYPE_TIME2:
		return time2(b, int(meta))
	case mysql.MYSQL_TYPE_ENUM:
		n := int(meta & 0xff)
		if n != 1 && n != 2 {
			return sluice.Value{}, 0, fmt.Errorf("ENUM of %d bytes", n)
		}
		if len(b) < n {
			return sluice.Value{}, 0, errShort
		}
		v, err := ci.enumValue(int64(mysql.FixedLengthInt(b[:n])))
		return v, n, err
	case mysql.MYSQL_TYPE_SET:
		n := int(meta & 0xff)
		if n < 1 || n > 8 {
			return sluice.Value{}, 0, fmt.Errorf("SET of %d bytes", n)
		}
		if len(b) < n {
			return sluice.Value{}, 0, errShort
		}
		return ci.setValue(int64(mysql.FixedLengthInt(b[:n]))), n, nil
	case mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_VAR_STRING:
		return ci.stringValue(b, int(meta))
	case mysql.MYSQL_TYPE_STRING:
		return ci.stringValue(b, stringLength(meta))
	case mysql.MYSQL_TYPE_BLOB, mysql.MYSQL_TYPE_GEOMETRY:
		n := int(meta)
		if n < 1 || n > 4 {
			return sluice.Value{}, 0, fmt.Errorf("BLOB with a length of %d bytes", n)
		}
		if len(b) < n {
			return sluice.Value{}, 0, errShort
		}
		l := mysql.FixedLengthInt(b[:n])
		if uint64(len(b)-n) < l {
			return sluice.Value{}, 0, errShort
		}
		end := n + int(l)
		v, err := ci.fromBytes(b[n:end:end])
		return v, end, err
	}
	return sluice.Value{}, 0, fmt.Errorf("binlog type %d is not read natively", ci.wire)
}

// intValue reads an n-byte integer with the column's signedness.
func (ci *colInfo) intValue(b []byte, n int) (sluice.Value, int, error) {
	if len(b) < n {
		return sluice.Value{}, 0, errShort
	}
	u := mysql.FixedLengthInt(b[:n])
	switch ci.kind {
	case kUint:
		return present(sluice.Value{Int: int64(u)}), n, nil
	case kUint64:
		return present(sluice.Value{Bytes: strconv.AppendUint(nil, u, 10)}), n, nil
	}
	shift := 64 - 8*n
	return present(sluice.Value{Int: int64(u<<shift) >> shift}), n, nil
}

// stringValue reads a CHAR, VARCHAR or BINARY value: a length of one byte
// (columns of fewer than 256 bytes) or two, then the bytes.
func (ci *colInfo) stringValue(b []byte, max int) (sluice.Value, int, error) {
	n := 1
	if max >= 256 {
		n = 2
	}
	if len(b) < n {
		return sluice.Value{}, 0, errShort
	}
	end := n + int(mysql.FixedLengthInt(b[:n]))
	if len(b) < end {
		return sluice.Value{}, 0, errShort
	}
	v, err := ci.fromBytes(b[n:end:end])
	return v, end, err
}

// fromBytes converts text or bytes of a row image, padding a BINARY(n)
// value back to its length. b has no capacity beyond its length, so the
// padding never writes into the row image.
func (ci *colInfo) fromBytes(b []byte) (sluice.Value, error) {
	if ci.pad > len(b) {
		b = append(b, make([]byte, ci.pad-len(b))...)
	}
	return ci.fromText(b)
}

// pow10 are the powers of ten up to a million.
var pow10 = [...]int64{1, 10, 100, 1000, 10_000, 100_000, 1_000_000}

// fraction reads the fractional seconds of a TIME2, DATETIME2 or
// TIMESTAMP2 value of fsp digits stored in (fsp+1)/2 bytes, as
// microseconds cut to fsp digits.
func fraction(b []byte, fsp int) (int64, error) {
	var us int64
	switch fsp {
	case 1, 2:
		us = int64(b[0]) * 10_000
	case 3, 4:
		us = int64(mysql.BFixedLengthInt(b[:2])) * 100
	case 5, 6:
		us = int64(mysql.BFixedLengthInt(b[:3]))
	}
	if us > 999_999 {
		return 0, errMalformed
	}
	return us - us%pow10[6-fsp], nil
}

// temporalLen is the length of a TIME2, DATETIME2 or TIMESTAMP2 value
// (typ) at the start of b: base bytes, then (fsp+1)/2 of the fraction.
func temporalLen(b []byte, typ string, base, fsp int) (int, error) {
	if fsp > 6 {
		return 0, fmt.Errorf("%s(%d)", typ, fsp)
	}
	n := base + (fsp+1)/2
	if len(b) < n {
		return 0, errShort
	}
	return n, nil
}

// timestamp2 reads a TIMESTAMP(fsp): seconds since the epoch, big-endian,
// then the fraction. Zero is the zero date.
func (ci *colInfo) timestamp2(b []byte, fsp int) (sluice.Value, int, error) {
	n, err := temporalLen(b, "TIMESTAMP", 4, fsp)
	if err != nil {
		return sluice.Value{}, 0, err
	}
	sec := int64(mysql.BFixedLengthInt(b[:4]))
	us, err := fraction(b[4:], fsp)
	if err != nil {
		return sluice.Value{}, 0, err
	}
	if sec == 0 {
		return ci.zero(), n, nil
	}
	return present(sluice.Value{Int: sec*1_000_000 + us}), n, nil
}

// datetime2 reads a DATETIME(fsp): 40 bits of year×13+month, day, hour,
// minute and second, offset by 2^39, then the fraction.
func (ci *colInfo) datetime2(b []byte, fsp int) (sluice.Value, int, error) {
	n, err := temporalLen(b, "DATETIME", 5, fsp)
	if err != nil {
		return sluice.Value{}, 0, err
	}
	x := int64(mysql.BFixedLengthInt(b[:5])) - 0x80_0000_0000
	us, err := fraction(b[5:], fsp)
	if err != nil {
		return sluice.Value{}, 0, err
	}
	if x == 0 {
		return ci.zero(), n, nil
	}
	if x < 0 {
		return sluice.Value{}, 0, errMalformed
	}
	ymd, hms := x>>17, x&(1<<17-1)
	v, err := ci.datetimeValue(int(ymd>>5/13), int(ymd>>5%13), int(ymd&31), hms>>12*3600+hms>>6&63*60+hms&63, us)
	return v, n, err
}

// datetime reads a DATETIME of the format before MySQL 5.6.4: the
// decimal digits YYYYMMDDhhmmss as an integer.
func (ci *colInfo) datetime(b []byte) (sluice.Value, int, error) {
	if len(b) < 8 {
		return sluice.Value{}, 0, errShort
	}
	x := int64(mysql.FixedLengthInt(b[:8]))
	if x == 0 {
		return ci.zero(), 8, nil
	}
	if x < 0 {
		return sluice.Value{}, 0, errMalformed
	}
	ymd, hms := x/1_000_000, x%1_000_000
	v, err := ci.datetimeValue(int(ymd/10000), int(ymd/100%100), int(ymd%100), hms/10000*3600+hms/100%100*60+hms%100, 0)
	return v, 8, err
}

// datetimeValue is the wall clock y-m-d plus secs and us: the zero date
// when the month or day is zero, as parseDatetime reads it.
func (ci *colInfo) datetimeValue(y, m, d int, secs, us int64) (sluice.Value, error) {
	days, err := ci.dateValue(y, m, d)
	if err != nil || m == 0 || d == 0 { // an error, or the zero date
		return days, err
	}
	return present(sluice.Value{Int: (days.Int*86400+secs)*1_000_000 + us}), nil
}

// dateValue is the date y-m-d: zero in the month or day is a zero date,
// as parseDate reads it.
func (ci *colInfo) dateValue(y, m, d int) (sluice.Value, error) {
	switch {
	case y > 9999:
		return sluice.Value{}, errMalformed
	case m == 0 || d == 0:
		return ci.zero(), nil
	case m > 12:
		return sluice.Value{}, fmt.Errorf("date %04d-%02d-%02d out of range: %w", y, m, d, errMalformed)
	}
	return present(sluice.Value{Int: daysFromCivil(y, m, d)}), nil
}

// time2 reads a TIME(fsp): 24 bits of sign, hours, minutes and seconds
// offset by 2^23, then the fraction (negative values store it
// complemented); with 5 or 6 digits all 48 bits are one offset integer.
func time2(b []byte, fsp int) (sluice.Value, int, error) {
	n, err := temporalLen(b, "TIME", 3, fsp)
	if err != nil {
		return sluice.Value{}, 0, err
	}
	var tmp int64
	switch fsp {
	case 5, 6:
		tmp = int64(mysql.BFixedLengthInt(b[:6])) - 0x8000_0000_0000
	default:
		ip := int64(mysql.BFixedLengthInt(b[:3])) - 0x80_0000
		var frac int64
		switch fsp {
		case 1, 2:
			frac = int64(b[3])
			if ip < 0 && frac != 0 {
				ip, frac = ip+1, frac-0x100
			}
			frac *= 10_000
		case 3, 4:
			frac = int64(mysql.BFixedLengthInt(b[3:5]))
			if ip < 0 && frac != 0 {
				ip, frac = ip+1, frac-0x10000
			}
			frac *= 100
		}
		tmp = ip<<24 + frac
	}
	neg := tmp < 0
	if neg {
		tmp = -tmp
	}
	hms, us := tmp>>24, tmp&(1<<24-1)
	if us > 999_999 {
		return sluice.Value{}, 0, errMalformed
	}
	us -= us % pow10[6-fsp]
	v := (hms>>12&1023*3600+hms>>6&63*60+hms&63)*1_000_000 + us
	if neg {
		v = -v
	}
	return present(sluice.Value{Int: v}), n, nil
}

// dig2bytes is the bytes a group of 0–8 decimal digits takes, and
// decPow the bound of such a group.
var (
	dig2bytes = [...]int{0, 1, 1, 2, 2, 3, 3, 4, 4}
	decPow    = [...]uint64{1, 10, 100, 1000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000}
)

// decimalValue reads a DECIMAL(prec, scale) in MySQL's binary form:
// groups of nine digits in four big-endian bytes, a shorter group at
// the outer ends, the sign in the top bit and negative values
// complemented. It writes the digits as go-mysql does: no leading zeros,
// the scale's digits after the point.
func decimalValue(b []byte, prec, scale int) (sluice.Value, int, error) {
	if prec < 1 || prec > 65 || scale > prec || scale > 30 {
		return sluice.Value{}, 0, fmt.Errorf("DECIMAL(%d,%d)", prec, scale)
	}
	intg := prec - scale
	ifull, ipart := intg/9, intg%9
	ffull, fpart := scale/9, scale%9
	n := ifull*4 + dig2bytes[ipart] + ffull*4 + dig2bytes[fpart]
	if len(b) < n {
		return sluice.Value{}, 0, errShort
	}
	var mask byte
	if b[0]&0x80 == 0 {
		mask = 0xff
	}
	at := 0
	group := func(k int) uint64 { // k bytes, the sign bit cleared
		var x uint64
		for i := range k {
			c := b[at+i] ^ mask
			if at+i == 0 {
				c ^= 0x80
			}
			x = x<<8 | uint64(c)
		}
		at += k
		return x
	}
	out := make([]byte, 0, prec+3)
	if mask != 0 {
		out = append(out, '-')
	}
	lead := true
	if ipart > 0 {
		if x := group(dig2bytes[ipart]); x != 0 {
			if x >= decPow[ipart] {
				return sluice.Value{}, 0, errMalformed
			}
			out, lead = strconv.AppendUint(out, x, 10), false
		}
	}
	for range ifull {
		x := group(4)
		if x > 999_999_999 {
			return sluice.Value{}, 0, errMalformed
		}
		switch {
		case !lead:
			out = appendPadded(out, x, 9)
		case x != 0:
			out, lead = strconv.AppendUint(out, x, 10), false
		}
	}
	if lead {
		out = append(out, '0')
	}
	if scale > 0 {
		out = append(out, '.')
		for range ffull {
			x := group(4)
			if x > 999_999_999 {
				return sluice.Value{}, 0, errMalformed
			}
			out = appendPadded(out, x, 9)
		}
		if fpart > 0 {
			x := group(dig2bytes[fpart])
			if x >= decPow[fpart] {
				return sluice.Value{}, 0, errMalformed
			}
			out = appendPadded(out, x, fpart)
		}
	}
	return present(sluice.Value{Bytes: out}), n, nil
}

// appendPadded appends x in at least width digits.
func appendPadded(b []byte, x uint64, width int) []byte {
	var tmp [20]byte
	d := strconv.AppendUint(tmp[:0], x, 10)
	for i := len(d); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, d...)
}
