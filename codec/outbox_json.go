package codec

// The outbox transform's expand_json_payload (Debezium's
// table.expand.json.payload): Debezium parses the payload into a Connect
// structure and the JSON converter writes that back. What the recordings
// show (testdata/golden/debezium-smt/postgres/outbox-jsonb-expand), and
// what appendExpandedJSON does, without building a tree:
//
//   - compact: no whitespace between tokens;
//   - members in the text's order, strings and numbers as written (jsonb
//     text: "12.5", "99.99", "0", UTF-8 unescaped);
//   - members whose value is null, and members whose value is an empty
//     array, are left out (a Connect schema cannot be inferred for them;
//     table.json.payload.null.behavior=ignore), at every depth; "{}" stays.
//
// Not recorded, so written as the text has them: elements of arrays
// (null elements, objects with different members), numbers in exponent
// form or with trailing zeros (Debezium goes through a double).

// appendExpandedJSON appends the JSON text src as described above. Text
// that is not one valid JSON value is appended as a JSON string instead,
// the payload's unexpanded form.
func appendExpandedJSON(dst, src []byte) []byte {
	start := len(dst)
	out, rest, ok := expandValue(dst, src, 0)
	if !ok || len(skipJSONSpace(rest)) != 0 {
		return appendString(dst[:start], src)
	}
	return out
}

// maxExpandDepth bounds the recursion on hostile payloads.
const maxExpandDepth = 512

func skipJSONSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}

// expandValue appends the value at the start of src and returns the
// rest of src.
func expandValue(dst, src []byte, depth int) (out, rest []byte, ok bool) {
	src = skipJSONSpace(src)
	if len(src) == 0 || depth > maxExpandDepth {
		return dst, src, false
	}
	switch src[0] {
	case '{':
		return expandObject(dst, src[1:], depth)
	case '[':
		return expandArray(dst, src[1:], depth)
	case '"':
		n := scanJSONString(src)
		if n < 0 {
			return dst, src, false
		}
		return append(dst, src[:n]...), src[n:], true
	}
	n := 0
	for n < len(src) {
		c := src[n]
		if c == ',' || c == ']' || c == '}' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '"' || c == '{' || c == '[' {
			break
		}
		n++
	}
	if n == 0 {
		return dst, src, false
	}
	return append(dst, src[:n]...), src[n:], true
}

// expandObject writes an object whose '{' is consumed, leaving out
// members that are null or empty arrays.
func expandObject(dst, src []byte, depth int) ([]byte, []byte, bool) {
	dst = append(dst, '{')
	src = skipJSONSpace(src)
	if len(src) > 0 && src[0] == '}' {
		return append(dst, '}'), src[1:], true
	}
	first := true
	for {
		src = skipJSONSpace(src)
		n := scanJSONString(src)
		if n < 0 {
			return dst, src, false
		}
		name := src[:n]
		src = skipJSONSpace(src[n:])
		if len(src) == 0 || src[0] != ':' {
			return dst, src, false
		}
		mark := len(dst)
		if !first {
			dst = append(dst, ',')
		}
		dst = append(dst, name...)
		dst = append(dst, ':')
		valStart := len(dst)
		var ok bool
		if dst, src, ok = expandValue(dst, src[1:], depth+1); !ok {
			return dst, src, false
		}
		if v := string(dst[valStart:]); v == "null" || v == "[]" {
			dst = dst[:mark]
		} else {
			first = false
		}
		src = skipJSONSpace(src)
		switch {
		case len(src) > 0 && src[0] == ',':
			src = src[1:]
		case len(src) > 0 && src[0] == '}':
			return append(dst, '}'), src[1:], true
		default:
			return dst, src, false
		}
	}
}

// expandArray writes an array whose '[' is consumed, its elements
// compact.
func expandArray(dst, src []byte, depth int) ([]byte, []byte, bool) {
	dst = append(dst, '[')
	src = skipJSONSpace(src)
	if len(src) > 0 && src[0] == ']' {
		return append(dst, ']'), src[1:], true
	}
	for i := 0; ; i++ {
		if i > 0 {
			dst = append(dst, ',')
		}
		var ok bool
		if dst, src, ok = expandValue(dst, src, depth+1); !ok {
			return dst, src, false
		}
		src = skipJSONSpace(src)
		switch {
		case len(src) > 0 && src[0] == ',':
			src = src[1:]
		case len(src) > 0 && src[0] == ']':
			return append(dst, ']'), src[1:], true
		default:
			return dst, src, false
		}
	}
}

// scanJSONString returns the length of the JSON string at the start of
// src, quotes included, or -1.
func scanJSONString(src []byte) int {
	if len(src) == 0 || src[0] != '"' {
		return -1
	}
	for i := 1; i < len(src); i++ {
		switch src[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}
