package postgres

import "strings"

// Table names in configuration and in the snapshot state are written
// "schema.table", each part as the database spells it (case counts). A part
// holding a dot or a double quote is written the way SQL quotes an
// identifier — "Sales"."Order.Lines", with a double quote inside doubled —
// so every name has one spelling that reads back to the same parts. A bare
// name is in schema public.

// tableName is the spelling of schema.name that splitTable reads back.
func tableName(schema, name string) string {
	return quotePart(schema) + "." + quotePart(name)
}

func quotePart(s string) string {
	if s != "" && !strings.ContainsAny(s, `."`) {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// splitTable splits "schema.table" (parts optionally double-quoted); a
// bare name means schema public.
func splitTable(s string) (schema, table string, ok bool) {
	first, rest, ok := cutPart(s)
	if !ok {
		return "", "", false
	}
	if rest == "" {
		return "public", first, true
	}
	if rest[0] != '.' {
		return "", "", false
	}
	second, rest, ok := cutPart(rest[1:])
	if !ok || rest != "" {
		return "", "", false
	}
	return first, second, true
}

// cutPart reads one name part from the start of s: a quoted identifier,
// or the text up to the next dot. It returns the part and what follows.
func cutPart(s string) (part, rest string, ok bool) {
	if s == "" {
		return "", "", false
	}
	if s[0] != '"' {
		i := strings.IndexByte(s, '.')
		if i < 0 {
			i = len(s)
		}
		part = s[:i]
		return part, s[i:], part != "" && !strings.Contains(part, `"`)
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] != '"' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '"' {
			b.WriteByte('"')
			i++
			continue
		}
		return b.String(), s[i+1:], b.Len() > 0
	}
	return "", "", false // no closing quote
}
