package mysql

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/sluice-cdc/sluice"
)

// present marks v as present (not null).
func present(v sluice.Value) sluice.Value { v.Kind = sluice.KindPresent; return v }

// fromBinlog converts a value as go-mysql decodes it from a row image.
func (ci *colInfo) fromBinlog(c *sluice.Column, v any) (sluice.Value, error) {
	if v == nil {
		return sluice.Value{}, nil
	}
	switch ci.kind {
	case kInt, kUint, kYear:
		var i int64
		switch x := v.(type) {
		case int8:
			i = int64(x)
			if ci.kind == kUint {
				i = int64(uint8(x))
			}
		case int16:
			i = int64(x)
			if ci.kind == kUint {
				i = int64(uint16(x))
			}
		case int32:
			i = int64(x)
			if ci.kind == kUint {
				if c.Type == sluice.TypeInt32 { // MEDIUMINT UNSIGNED: 24 bits
					i = int64(uint32(x) & 0xffffff)
				} else {
					i = int64(uint32(x))
				}
			}
		case int64:
			i = x
		case int:
			i = int64(x)
		default:
			return sluice.Value{}, fmt.Errorf("unexpected %T for an integer", v)
		}
		if ci.kind == kYear {
			return yearValue(i), nil
		}
		return present(sluice.Value{Int: i}), nil
	case kUint64:
		x, ok := v.(int64)
		if !ok {
			return sluice.Value{}, fmt.Errorf("unexpected %T for BIGINT UNSIGNED", v)
		}
		return present(sluice.Value{Bytes: strconv.AppendUint(nil, uint64(x), 10)}), nil
	case kDecimal:
		s, ok := v.(string)
		if !ok {
			return sluice.Value{}, fmt.Errorf("unexpected %T for DECIMAL", v)
		}
		return present(sluice.Value{Bytes: []byte(s)}), nil
	case kFloat:
		x, ok := v.(float32)
		if !ok {
			return sluice.Value{}, fmt.Errorf("unexpected %T for FLOAT", v)
		}
		return present(sluice.Value{Float: float64(x)}), nil
	case kDouble:
		x, ok := v.(float64)
		if !ok {
			return sluice.Value{}, fmt.Errorf("unexpected %T for DOUBLE", v)
		}
		return present(sluice.Value{Float: x}), nil
	case kBit:
		x, ok := v.(int64)
		if !ok {
			return sluice.Value{}, fmt.Errorf("unexpected %T for BIT", v)
		}
		return ci.bitValue(uint64(x)), nil
	case kEnum:
		x, ok := v.(int64)
		if !ok {
			return sluice.Value{}, fmt.Errorf("unexpected %T for ENUM", v)
		}
		return ci.enumValue(x)
	case kSet:
		x, ok := v.(int64)
		if !ok {
			return sluice.Value{}, fmt.Errorf("unexpected %T for SET", v)
		}
		return ci.setValue(x), nil
	}
	if ci.wire == mysql.MYSQL_TYPE_TIME {
		// go-mysql reads an old-format TIME unsigned: a negative one
		// arrives as text such as "1676:72:16" (-01:00:00), which
		// parseTime would take for a long positive time.
		s, ok := v.(string)
		if !ok {
			return sluice.Value{}, fmt.Errorf("unexpected %T for an old-format TIME", v)
		}
		us, err := goMySQLOldTime(s)
		if err != nil {
			return sluice.Value{}, err
		}
		return present(sluice.Value{Int: us}), nil
	}
	// The rest arrive as text or bytes.
	var b []byte
	switch x := v.(type) {
	case string:
		b = []byte(x)
	case []byte:
		b = append([]byte{}, x...) // may alias the event buffer
	default:
		return sluice.Value{}, fmt.Errorf("unexpected %T for a %s column", v, c.Type)
	}
	return ci.fromBytes(b[:len(b):len(b)])
}

// enumValue is the label of ENUM index x (1-based; 0 is the empty string
// MySQL stores for an invalid label).
func (ci *colInfo) enumValue(x int64) (sluice.Value, error) {
	if x == 0 {
		return present(sluice.Value{Bytes: []byte{}}), nil
	}
	if x < 0 || x > int64(len(ci.labels)) {
		return sluice.Value{}, fmt.Errorf("ENUM index %d beyond its %d labels", x, len(ci.labels))
	}
	return present(sluice.Value{Bytes: []byte(ci.labels[x-1])}), nil
}

// setValue is the comma-separated labels of the SET bits x.
func (ci *colInfo) setValue(x int64) sluice.Value {
	var b []byte
	for i, l := range ci.labels {
		if x&(1<<i) != 0 {
			if len(b) > 0 {
				b = append(b, ',')
			}
			b = append(b, l...)
		}
	}
	if b == nil {
		b = []byte{}
	}
	return present(sluice.Value{Bytes: b})
}

// fromField converts a value of a text-protocol result row (snapshots).
func (ci *colInfo) fromField(c *sluice.Column, f *mysql.FieldValue) (sluice.Value, error) {
	switch f.Type {
	case mysql.FieldValueTypeNull:
		return sluice.Value{}, nil
	case mysql.FieldValueTypeSigned:
		switch ci.kind {
		case kUint64:
			return present(sluice.Value{Bytes: strconv.AppendInt(nil, f.AsInt64(), 10)}), nil
		case kYear:
			return yearValue(f.AsInt64()), nil
		}
		return present(sluice.Value{Int: f.AsInt64()}), nil
	case mysql.FieldValueTypeUnsigned:
		switch ci.kind {
		case kUint64:
			return present(sluice.Value{Bytes: strconv.AppendUint(nil, f.AsUint64(), 10)}), nil
		case kYear:
			return yearValue(int64(f.AsUint64())), nil
		}
		return present(sluice.Value{Int: int64(f.AsUint64())}), nil
	case mysql.FieldValueTypeFloat:
		if ci.kind == kFloat {
			return present(sluice.Value{Float: float64(float32(f.AsFloat64()))}), nil
		}
		return present(sluice.Value{Float: f.AsFloat64()}), nil
	}
	b := append([]byte{}, f.AsString()...) // the row buffer is reused
	switch ci.kind {
	case kInt, kUint, kYear:
		i, err := strconv.ParseInt(string(b), 10, 64)
		if err != nil {
			return sluice.Value{}, fmt.Errorf("integer %q: %w", b, err)
		}
		if ci.kind == kYear {
			return yearValue(i), nil
		}
		return present(sluice.Value{Int: i}), nil
	case kUint64, kDecimal:
		return present(sluice.Value{Bytes: b}), nil
	case kFloat, kDouble:
		x, err := strconv.ParseFloat(string(b), 64)
		if err != nil {
			return sluice.Value{}, fmt.Errorf("float %q: %w", b, err)
		}
		if ci.kind == kFloat {
			x = float64(float32(x))
		}
		return present(sluice.Value{Float: x}), nil
	case kBit:
		var x uint64
		for _, c := range b { // big-endian bytes
			x = x<<8 | uint64(c)
		}
		return ci.bitValue(x), nil
	case kEnum, kSet:
		return present(sluice.Value{Bytes: b}), nil
	case kText, kJSON:
		// The session's character set is utf8mb4: the server converted.
		return present(sluice.Value{Bytes: b}), nil
	}
	return ci.parse(b)
}

// fromText converts text or bytes from a row image: character data is
// still in the column's character set.
func (ci *colInfo) fromText(b []byte) (sluice.Value, error) {
	switch ci.kind {
	case kText, kJSON:
		if ci.dec != nil {
			out, err := ci.dec.Bytes(b)
			if err != nil {
				return sluice.Value{}, fmt.Errorf("convert to UTF-8: %w", err)
			}
			b = out
		}
		if !utf8.Valid(b) {
			b = []byte(strings.ToValidUTF8(string(b), "\uFFFD"))
		}
		return present(sluice.Value{Bytes: b}), nil
	}
	return ci.parse(b)
}

// parse handles the kinds whose text form the binlog decoder and the
// text protocol share.
func (ci *colInfo) parse(b []byte) (sluice.Value, error) {
	switch ci.kind {
	case kBinary:
		return present(sluice.Value{Bytes: b}), nil
	case kGeometry:
		if len(b) < 4 {
			return sluice.Value{}, fmt.Errorf("geometry of %d bytes has no SRID", len(b))
		}
		return present(sluice.Value{Int: int64(binary.LittleEndian.Uint32(b)), Bytes: b[4:]}), nil
	case kDate:
		days, err := parseDate(b)
		if err == errZero {
			return ci.zero(), nil
		}
		if err != nil {
			return sluice.Value{}, err
		}
		return present(sluice.Value{Int: days}), nil
	case kDatetime, kTimestamp:
		us, err := parseDatetime(b)
		if err == errZero {
			return ci.zero(), nil
		}
		if err != nil {
			return sluice.Value{}, err
		}
		return present(sluice.Value{Int: us}), nil
	case kTime:
		us, err := parseTime(b)
		if err != nil {
			return sluice.Value{}, err
		}
		return present(sluice.Value{Int: us}), nil
	}
	return present(sluice.Value{Bytes: b}), nil
}

// zero is what a zero date becomes, as Debezium does: null, or in a NOT
// NULL column its default (DEFAULT '2000-01-01'), else the epoch.
func (ci *colInfo) zero() sluice.Value {
	if ci.notNull {
		if ci.def.Kind == sluice.KindPresent {
			return ci.def
		}
		return present(sluice.Value{})
	}
	return sluice.Value{}
}

// yearValue is a YEAR value. The zero year (0000) is 1900: the binlog
// stores a YEAR as its offset from 1900, and Debezium's binlog reader
// adds 1900 to 0 too. A snapshot read of 0000 is made 1900 as well, so a
// row reads the same from the snapshot and from the binlog (Debezium's
// own snapshot fails on it).
func yearValue(y int64) sluice.Value {
	if y == 0 {
		y = 1900
	}
	return present(sluice.Value{Int: y})
}

// bitValue stores BIT(1) as a boolean and wider BITs as Debezium's
// io.debezium.data.Bits: the bytes little-endian.
func (ci *colInfo) bitValue(x uint64) sluice.Value {
	if ci.bits <= 1 {
		return present(sluice.Value{Int: int64(x & 1)})
	}
	n := (ci.bits + 7) / 8
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(x >> (8 * i))
	}
	return present(sluice.Value{Int: int64(ci.bits), Bytes: b})
}
