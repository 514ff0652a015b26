package postgres

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// An entry of source.tables is a table name or a pattern over
// schema.table. Patterns are shell-style globs, one per name part:
//
//	public.*         every table of schema public
//	sales.order_?    order_1, order_a, … of schema sales
//	*.audit_log      audit_log of every schema
//	public.[a-c]*    tables of public whose name starts with a, b or c
//
// `*` matches any run of characters (none included), `?` one character,
// and `[…]` one character of a class (`[abc]`, `[a-z]`, `[!0-9]` or
// `[^0-9]` for "not"), as in the transforms' `tables` (path.Match). A
// glob never crosses the dot between schema and table, and it
// matches case-sensitively, as PostgreSQL spells names. A part written
// in double quotes is always a literal name, so a table whose name holds
// `*`, `?` or `[` is listed as "public"."odd*name"; a bare name is in
// schema public, as elsewhere (names.go).
//
// Globs rather than Debezium's regular expressions (table.include.list):
// an entry keeps the syntax of a table name, so every exact name written
// before patterns existed means what it meant. As a regular expression
// matched against "schema.table", public.orders would also match
// public_orders (the dot matches any character), and a quoted name could
// not be written at all.
//
// A pattern is expanded against the catalog at every start
// (tables_publication.go): it matches ordinary and partitioned tables the
// role may SELECT from, never a partition (its root is what is captured),
// an unlogged or temporary table (a publication cannot hold them), a
// table of a system schema (pg_*, information_schema), the signal table
// or the state table. A table created later that a pattern matches is
// captured from the next start on.

// tableEntry is one parsed entry of source.tables.
type tableEntry struct {
	schema, name         string // unquoted parts; globs when the flags say so
	schemaGlob, nameGlob bool
}

// pattern reports whether the entry is a pattern rather than one table.
func (e tableEntry) pattern() bool { return e.schemaGlob || e.nameGlob }

// matches reports whether the table schema.name is the entry or one the
// entry's pattern matches. A pattern never matches a table of a system
// schema.
func (e tableEntry) matches(schema, name string) bool {
	if e.pattern() && systemSchema(schema) {
		return false
	}
	return matchPart(e.schema, e.schemaGlob, schema) && matchPart(e.name, e.nameGlob, name)
}

func matchPart(p string, glob bool, s string) bool {
	if !glob {
		return p == s
	}
	return globMatch(p, s)
}

// systemSchema reports whether a schema is PostgreSQL's own.
func systemSchema(schema string) bool {
	return strings.HasPrefix(schema, "pg_") || schema == "information_schema"
}

// parseEntry reads one entry of source.tables: schema.table or a bare
// table of schema public, each part a name, a glob, or a quoted literal.
func parseEntry(s string) (tableEntry, error) {
	schema, name, ok := splitTable(s)
	if !ok {
		return tableEntry{}, errors.New("is not schema.table")
	}
	e := tableEntry{schema: schema, name: name}
	first, rest, _ := cutPart(s)
	if rest == "" { // a bare name: schema public, literal
		e.nameGlob = s[0] != '"' && hasGlob(first)
	} else {
		e.schemaGlob = s[0] != '"' && hasGlob(schema)
		e.nameGlob = rest[1] != '"' && hasGlob(name)
	}
	for _, p := range []struct {
		part string
		glob bool
	}{{e.schema, e.schemaGlob}, {e.name, e.nameGlob}} {
		if p.glob {
			if err := checkGlob(p.part); err != nil {
				return tableEntry{}, fmt.Errorf("is not a valid pattern: %w", err)
			}
		}
	}
	return e, nil
}

// hasGlob reports whether an unquoted part holds a glob character.
func hasGlob(part string) bool { return strings.ContainsAny(part, "*?[") }

// parseEntries parses a checked source.tables list (nil: every table).
func parseEntries(tables []string) []tableEntry {
	out := make([]tableEntry, 0, len(tables))
	for _, t := range tables {
		if e, err := parseEntry(t); err == nil {
			out = append(out, e)
		}
	}
	return out
}

// checkGlob refuses a glob whose character class is not closed, is
// empty, or holds a descending range.
func checkGlob(p string) error {
	for i := 0; i < len(p); i++ {
		if p[i] != '[' {
			continue
		}
		_, n, err := class(p[i:], 0)
		if err != nil {
			return err
		}
		i += n - 1
	}
	return nil
}

// globMatch reports whether s matches the checked glob p entirely.
func globMatch(p, s string) bool {
	// Iterative matching with one backtrack point, the last star: linear
	// in practice, never exponential.
	pi, si := 0, 0
	star, starS := -1, 0
	for si < len(s) {
		if pi < len(p) {
			switch p[pi] {
			case '*':
				star, starS = pi, si
				pi++
				continue
			case '?':
				_, w := utf8.DecodeRuneInString(s[si:])
				pi, si = pi+1, si+w
				continue
			case '[':
				r, w := utf8.DecodeRuneInString(s[si:])
				ok, n, err := class(p[pi:], r)
				if err == nil && ok {
					pi, si = pi+n, si+w
					continue
				}
			default:
				if p[pi] == s[si] {
					pi, si = pi+1, si+1
					continue
				}
			}
		}
		if star < 0 {
			return false
		}
		// Let the last star swallow one more character and retry.
		_, w := utf8.DecodeRuneInString(s[starS:])
		starS += w
		pi, si = star+1, starS
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// class reads the character class at the start of p ("[…]") and reports
// whether r is in it and how many bytes of p the class spans. A "]"
// right after "[", "[!" or "[^" is a member, as in the shell.
func class(p string, r rune) (in bool, n int, err error) {
	i := 1
	negate := i < len(p) && (p[i] == '!' || p[i] == '^')
	if negate {
		i++
	}
	members := 0
	for ; i < len(p); members++ {
		if p[i] == ']' && members > 0 {
			return in != negate, i + 1, nil
		}
		lo, w := utf8.DecodeRuneInString(p[i:])
		i += w
		hi := lo
		if i+1 < len(p) && p[i] == '-' && p[i+1] != ']' {
			hi, w = utf8.DecodeRuneInString(p[i+1:])
			i += 1 + w
			if hi < lo {
				return false, 0, fmt.Errorf("range %c-%c is descending", lo, hi)
			}
		}
		if lo <= r && r <= hi {
			in = true
		}
	}
	return false, 0, errors.New("[ without closing ]")
}

// captures reports whether the source captures the table (schema.table,
// spelled as names.go spells it): source.tables names it or one of its
// patterns matches it. It never captures the signal table or the state
// table. With `tables: all` every other table is captured by the
// configuration, and the publication decides. It reads no catalog: a
// table created after the start that a pattern matches is captured by
// the configuration, though its changes reach the stream only once the
// next start added it to the publication.
func (s *Source) captures(table string) bool {
	schema, name, ok := splitTable(table)
	if !ok {
		return false
	}
	full := tableName(schema, name)
	if s.isSignalTable(full) || s.isStateTable(full) {
		return false
	}
	if len(s.cfg.Tables) == 0 {
		return true
	}
	for _, e := range parseEntries(s.cfg.Tables) {
		if e.matches(schema, name) {
			return true
		}
	}
	return false
}
