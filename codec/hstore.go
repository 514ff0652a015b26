package codec

import (
	"sort"
	"unicode/utf8"
)

// appendHstore writes PostgreSQL hstore text (`"k1"=>"v1", "k 2"=>NULL`)
// as Debezium does: a JSON object of the pairs, as a JSON string
// (hstore.handling.mode=json, asString) or as the object itself (map).
// Debezium reads the text with pgjdbc's HStoreConverter into a
// java.util.HashMap and writes the map's entries in its iteration order,
// which this reproduces, so the bytes match. Text that is not hstore
// output is written as a string.
func appendHstore(dst, text []byte, asString bool) []byte {
	pairs, ok := parseHstore(text)
	if !ok {
		return appendString(dst, text)
	}
	order := javaHashMapOrder(pairs)
	obj := make([]byte, 0, len(text)+8)
	obj = append(obj, '{')
	for i, idx := range order {
		if i > 0 {
			obj = append(obj, ',')
		}
		p := pairs[idx]
		obj = appendQuoted(obj, p.key, !asString)
		obj = append(obj, ':')
		if p.null {
			obj = append(obj, "null"...)
		} else {
			obj = appendQuoted(obj, p.val, !asString)
		}
	}
	obj = append(obj, '}')
	if asString {
		return appendString(dst, obj)
	}
	return append(dst, obj...)
}

type hstorePair struct {
	key, val []byte
	null     bool
}

// parseHstore parses hstore output: "key"=>"value" pairs separated by
// ", ", keys and values double-quoted with backslash escapes, NULL
// unquoted.
func parseHstore(s []byte) ([]hstorePair, bool) {
	var out []hstorePair
	i := 0
	skip := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
			i++
		}
	}
	quoted := func() ([]byte, bool) {
		if i >= len(s) || s[i] != '"' {
			return nil, false
		}
		i++
		var b []byte
		for i < len(s) {
			switch c := s[i]; c {
			case '\\':
				if i+1 >= len(s) {
					return nil, false
				}
				b = append(b, s[i+1])
				i += 2
			case '"':
				i++
				return b, true
			default:
				b = append(b, c)
				i++
			}
		}
		return nil, false
	}
	for {
		skip()
		if i >= len(s) {
			return out, true
		}
		k, ok := quoted()
		if !ok {
			return nil, false
		}
		skip()
		if i+1 >= len(s) || s[i] != '=' || s[i+1] != '>' {
			return nil, false
		}
		i += 2
		skip()
		p := hstorePair{key: k}
		if i+4 <= len(s) && string(s[i:i+4]) == "NULL" {
			p.null = true
			i += 4
		} else if p.val, ok = quoted(); !ok {
			return nil, false
		}
		if p.val == nil {
			p.val = []byte{}
		}
		out = append(out, p)
		skip()
		if i < len(s) {
			if s[i] != ',' {
				return nil, false
			}
			i++
		}
	}
}

// javaHashMapOrder returns the order in which a java.util.HashMap filled
// with the pairs' keys, in order, iterates them: by bucket (the spread
// String.hashCode masked by the table size the map grew to), and in
// insertion order within a bucket. A repeated key keeps its first place.
func javaHashMapOrder(pairs []hstorePair) []int {
	n := len(pairs)
	capacity := 16
	for float64(n) > 0.75*float64(capacity) {
		capacity *= 2
	}
	type entry struct{ bucket, idx int }
	entries := make([]entry, 0, n)
	seen := map[string]int{}
	for i, p := range pairs {
		if j, ok := seen[string(p.key)]; ok {
			// HashMap.put keeps the first entry's place, with the last value.
			entries[j].idx = i
			continue
		}
		h := javaStringHash(p.key)
		h ^= int32(uint32(h) >> 16)
		seen[string(p.key)] = len(entries)
		entries = append(entries, entry{bucket: int(uint32(h) & uint32(capacity-1)), idx: i})
	}
	// Stable by bucket: insertion order within one.
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].bucket < entries[j].bucket })
	out := make([]int, len(entries))
	for i, e := range entries {
		out[i] = e.idx
	}
	return out
}

// javaStringHash is Java's String.hashCode of UTF-8 s: over its UTF-16
// code units.
func javaStringHash(s []byte) int32 {
	var h int32
	for len(s) > 0 {
		r, size := utf8.DecodeRune(s)
		s = s[size:]
		if r > 0xffff {
			r -= 0x10000
			h = 31*h + int32(0xd800+(r>>10))
			h = 31*h + int32(0xdc00+(r&0x3ff))
			continue
		}
		h = 31*h + int32(r)
	}
	return h
}
