package codec

import (
	"crypto/md5"
	"encoding/hex"

	"github.com/sluice-cdc/sluice"
)

// placeholderFor returns the JSON Debezium writes for an unchanged TOAST
// value of column c (PostgreSQL's UnchangedToastedReplicationMessageColumn):
// the placeholder as a string, as bytes, in a one-element array, or, for
// int4[], date[] and int8[], as the array of the placeholder's bytes.
func (e *Encoder) placeholderFor(c *sluice.Column) []byte {
	if c.Type == sluice.TypeStruct {
		return e.structPlaceholder(c) // DBType is the struct's name, not a database type
	}
	ph := e.opt.Placeholder
	var b []byte
	switch c.DBType {
	case "_text", "_varchar", "_bpchar", "_json", "_jsonb":
		b = append(b, '[')
		b = appendStr(b, ph)
		return append(b, ']')
	case "_bytea":
		b = append(b, '[')
		b = e.appendBinary(b, []byte(ph))
		return append(b, ']')
	case "_int4", "_date", "_int8":
		b = append(b, '[')
		for i := 0; i < len(ph); i++ {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendInt(b, int64(int8(ph[i])))
		}
		return append(b, ']')
	case "_uuid":
		sum := md5.Sum([]byte(ph)) // UUID.nameUUIDFromBytes: version 3
		sum[6] = sum[6]&0x0f | 0x30
		sum[8] = sum[8]&0x3f | 0x80
		h := hex.EncodeToString(sum[:])
		b = append(b, `["`...)
		b = append(b, h[:8]+"-"+h[8:12]+"-"+h[12:16]+"-"+h[16:20]+"-"+h[20:]...)
		return append(b, `"]`...)
	case "hstore":
		var m []byte
		m = append(m, '{')
		m = appendStr(m, ph)
		m = append(m, ':')
		m = appendStr(m, ph)
		m = append(m, '}')
		if e.opt.Hstore == HstoreMap {
			return m
		}
		return appendString(b, m)
	}
	if c.Type == sluice.TypeBytes {
		switch e.opt.Binary {
		case BinaryBytes:
			return appendBase64(b, []byte(ph))
		case BinaryHex:
			return appendStr(b, ph)
		}
		return append(b, "null"...) // Debezium cannot convert its marker to base64
	}
	if c.Type == sluice.TypeArray {
		b = append(b, '[')
		b = appendStr(b, ph)
		return append(b, ']')
	}
	return appendStr(b, ph)
}

// appendFallback writes the value of a column the source did not have (a
// non-key column of a key-only old row): null, or for a NOT NULL column
// the zero of its type, as Debezium's converters fall back to, so that
// the image still matches its schema.
func (e *Encoder) appendFallback(dst []byte, c *sluice.Column, p *colPlan) []byte {
	if c.Optional {
		return append(dst, "null"...)
	}
	switch p.kind {
	case kBool, kBitsBool:
		return append(dst, "false"...)
	case kInt, kUnsignedLong, kDate, kTimeMicro, kTimeMilli, kTimeMilliNonNeg, kTimestampMicro, kTimestampMilli, kIntervalMicro:
		return append(dst, '0')
	case kFloat32, kFloat64:
		return append(dst, "0.0"...)
	case kDecimal:
		return e.appendDecimal(dst, c, []byte("0"))
	case kBytes, kBits:
		return append(dst, `""`...)
	case kZoned:
		return appendZoned(dst, 0, int(p.prec))
	case kIntervalString, kIntervalExact:
		return append(dst, `"P0Y0M0DT0H0M0S"`...)
	case kArray:
		return append(dst, "[]"...)
	case kHstoreJSON:
		return append(dst, `"{}"`...)
	case kHstoreMap:
		return append(dst, "{}"...)
	case kGeometry, kPoint, kPgPoint, kPostgis:
		return append(dst, "null"...)
	case kStruct:
		return e.appendStruct(dst, c, p.st, nil, false) // every field its own fallback
	}
	return append(dst, `""`...)
}
