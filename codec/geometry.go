package codec

import (
	"bytes"
	"encoding/binary"
	"math"
)

func appendSRID(dst []byte, srid int64) []byte {
	dst = append(dst, `,"srid":`...)
	if srid == 0 {
		dst = append(dst, "null"...) // Debezium writes SRID 0 as null
	} else {
		dst = appendInt(dst, srid)
	}
	return append(dst, '}')
}

func appendPoint(dst []byte, x, y float64, wkb []byte, srid int64) []byte {
	dst = append(dst, `{"x":`...)
	dst = appendFloat(dst, x, 64)
	dst = append(dst, `,"y":`...)
	dst = appendFloat(dst, y, 64)
	dst = append(dst, `,"wkb":`...)
	dst = appendBase64(dst, wkb)
	return appendSRID(dst, srid)
}

// wkbPoint reads the coordinates of a WKB POINT.
func wkbPoint(b []byte) (x, y float64, ok bool) {
	if len(b) < 21 {
		return 0, 0, false
	}
	var order binary.ByteOrder = binary.LittleEndian
	if b[0] == 0 {
		order = binary.BigEndian
	}
	if order.Uint32(b[1:5]) != 1 {
		return 0, 0, false
	}
	return math.Float64frombits(order.Uint64(b[5:13])), math.Float64frombits(order.Uint64(b[13:21])), true
}

// putWKBPoint writes the little-endian WKB of POINT(x y) into b[:21].
func putWKBPoint(b []byte, x, y float64) {
	b[0] = 1
	binary.LittleEndian.PutUint32(b[1:5], 1)
	binary.LittleEndian.PutUint64(b[5:13], math.Float64bits(x))
	binary.LittleEndian.PutUint64(b[13:21], math.Float64bits(y))
}

// parsePgPoint parses PostgreSQL's point output "(x,y)". The coordinates
// are read by parseDouble, as Debezium's PGpoint reads them with
// Double.parseDouble: PostgreSQL's float8 output never leaves float64's
// range, but were it to, the point would hold infinities rather than
// becoming null.
func parsePgPoint(b []byte) (x, y float64, ok bool) {
	if len(b) < 5 || b[0] != '(' || b[len(b)-1] != ')' {
		return 0, 0, false
	}
	xs, ys, found := bytes.Cut(b[1:len(b)-1], []byte{','})
	if !found {
		return 0, 0, false
	}
	x, okx := parseDouble(xs)
	y, oky := parseDouble(ys)
	return x, y, okx && oky
}
