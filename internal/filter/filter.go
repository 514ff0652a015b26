// Package filter parses the condition of a snapshot request
// (`sluice snapshot --where`, a signal's "additional-conditions") for every
// source, so that a condition means the same on PostgreSQL and MySQL.
//
// A snapshot filter (`sluice snapshot --where`, a signal's
// "additional-conditions") arrives as text from whoever can write the
// signal table, and the chunk query runs as sluice's role. So the filter
// is never pasted into SQL: it is parsed into a small predicate grammar,
// its columns are resolved against the table, and the SQL sluice runs is
// rebuilt from the parsed tree with every literal bound as a parameter.
// Anything outside the grammar (functions, sub-selects, casts, several
// statements, comments) is refused with an error that says so.
//
//	filter    = or
//	or        = and { OR and }
//	and       = not { AND not }
//	not       = NOT not | "(" or ")" | predicate
//	predicate = column cmp literal | literal cmp column
//	          | column IS [NOT] NULL
//	          | column [NOT] IN "(" literal { "," literal } ")"
//	          | column [NOT] BETWEEN literal AND literal
//	          | column [NOT] LIKE|ILIKE string
//	cmp       = "=" | "<>" | "!=" | "<" | "<=" | ">" | ">="
//	literal   = number | string | TRUE | FALSE
//	column    = name | "quoted name"
//
// Names fold to lower case unless quoted, as in SQL. Each source binds the
// tree's columns to its table and renders its own SQL from it, with every
// literal a parameter.
package filter

import "errors"

// ErrRefused wraps every refusal of a filter's text.
var ErrRefused = errors.New("snapshot filter refused")

// Node is one node of a parsed filter.
type Node struct {
	Kind Kind
	Kids []*Node  // And, Or, Not
	Col  string   // the column's name as the table spells it
	Idx  int      // the column's index, set by the source that binds it
	Op   string   // Cmp: the operator; Like: LIKE or ILIKE
	Neg  bool     // IS NOT NULL, NOT IN, NOT BETWEEN, NOT LIKE
	Lits []string // the literals' text
}

// Kind is what a Node tests.
type Kind uint8

// The node kinds.
const (
	And Kind = iota
	Or
	Not
	Cmp
	Null
	In
	Between
	Like
)
