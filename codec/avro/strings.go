package avro

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// str transcodes a JSON string as an Avro string.
func (p *parser) str(dst []byte) ([]byte, error) {
	raw, esc, err := p.rawStringEsc()
	if err != nil {
		return dst, err
	}
	if !esc {
		dst = appendLong(dst, int64(len(raw)))
		return append(dst, raw...), nil
	}
	n, err := unescapedLen(raw)
	if err != nil {
		return dst, err
	}
	dst = appendLong(dst, int64(n))
	return unescape(dst, raw), nil
}

// bytes transcodes a base64 JSON string as Avro bytes.
func (p *parser) bytes(dst []byte) ([]byte, error) {
	raw, err := p.rawString()
	if err != nil {
		return dst, err
	}
	n := base64.StdEncoding.DecodedLen(len(raw))
	if len(raw) >= 2 && raw[len(raw)-1] == '=' {
		n--
		if raw[len(raw)-2] == '=' {
			n--
		}
	}
	dst = appendLong(dst, int64(n))
	out, err := base64.StdEncoding.AppendDecode(dst, raw)
	if err != nil {
		return dst, fmt.Errorf("base64 expected: %w", err)
	}
	return out, nil
}

func decodeBase64(b []byte) ([]byte, error) { return base64.StdEncoding.AppendDecode(nil, b) }

// unescapedLen is the UTF-8 length of the JSON string body b.
func unescapedLen(b []byte) (int, error) {
	n := 0
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			n++
			continue
		}
		i++
		if i >= len(b) {
			return 0, errSyntax
		}
		if b[i] != 'u' {
			n++
			continue
		}
		r, w, ok := hexRune(b, i)
		if !ok {
			return 0, errSyntax
		}
		n += utf8.RuneLen(r)
		i += w
	}
	return n, nil
}

// hexRune decodes the \uXXXX escape whose 'u' is at b[i] (and the low
// surrogate after it), returning the rune and the bytes after 'u' used.
func hexRune(b []byte, i int) (rune, int, bool) {
	h := func(at int) (rune, bool) {
		if at+4 > len(b) {
			return 0, false
		}
		v, err := strconv.ParseUint(string(b[at:at+4]), 16, 16)
		return rune(v), err == nil
	}
	r, ok := h(i + 1)
	if !ok {
		return 0, 0, false
	}
	if utf16.IsSurrogate(r) && i+6 < len(b) && b[i+5] == '\\' && b[i+6] == 'u' {
		if r2, ok := h(i + 7); ok {
			if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
				return d, 10, true
			}
		}
	}
	if utf16.IsSurrogate(r) {
		r = utf8.RuneError
	}
	return r, 4, true
}

func unescape(dst, b []byte) []byte {
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		i++
		switch b[i] {
		case 'n':
			dst = append(dst, '\n')
		case 't':
			dst = append(dst, '\t')
		case 'r':
			dst = append(dst, '\r')
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'u':
			r, w, _ := hexRune(b, i)
			dst = utf8.AppendRune(dst, r)
			i += w
		default: // '"', '\\', '/'
			dst = append(dst, b[i])
		}
	}
	return dst
}
