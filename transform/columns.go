package transform

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/secret"
)

func init() { Register("columns", newColumns, ColumnsConfig{}) }

// ColumnsConfig is the columns transform's entry: which columns of its
// tables the events keep and what happens to their values. It applies to
// before, after and the key alike.
type ColumnsConfig struct {
	// Include keeps only these columns; Exclude drops these. At most one.
	Include []string `yaml:"include"`
	Exclude []string `yaml:"exclude"`
	// IncludeKey keeps the table's key columns too, listed in Include or
	// not, for one include list over tables whose keys differ or are not
	// known when the file is written. It is what the Elasticsearch sink's
	// former columns option did (its document id is the key), so that
	// option translates into include lists without failing on the key.
	IncludeKey bool `yaml:"include_key"`
	// Mask replaces a column's values with fixed text.
	Mask map[string]string `yaml:"mask"`
	// Hash replaces a column's values with the hex SHA-256 of the salt
	// followed by the value's text, so equal values stay equal (joins,
	// keys) without revealing them. A struct column (a row the join
	// transform added) is hashed whole, its fields' texts in order. The
	// salt is a secret: give it in SaltFile (or through ${VAR}) rather
	// than in the file.
	Hash     []string      `yaml:"hash"`
	Salt     secret.Secret `yaml:"salt"`
	SaltFile string        `yaml:"salt_file"`
	// Truncate cuts a text column's values to at most n characters.
	Truncate map[string]int `yaml:"truncate"`
	// Rename gives columns other names in the events (old → new).
	Rename map[string]string `yaml:"rename"`
}

// columnOp is what happens to one kept column's values.
type columnOp uint8

const (
	opKeep columnOp = iota
	opMask
	opHash
	opTruncate
)

// shape is the columns transform's plan for one table: the derived
// description and, per derived column, where its values come from.
type shape struct {
	table    *sluice.Table
	src      []int           // input column of each derived column
	ops      []columnOp      // per derived column
	in       []sluice.Column // per derived column: the input column (its type for hashing)
	arg      []int           // per derived column: the truncate limit
	identity bool            // nothing changes: events pass as they are
	hashes   int             // derived columns hashed, for one buffer per row
}

type columns struct {
	c       ColumnsConfig
	mask    map[string][]byte
	salt    []byte
	include map[string]bool
	exclude map[string]bool
	hash    map[string]bool
	tables  perTable[*shape]
}

func newColumns(c ColumnsConfig, env Env) (*columns, error) {
	t := &columns{c: c, mask: map[string][]byte{}, include: set(c.Include), exclude: set(c.Exclude),
		hash: set(c.Hash)}
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", env.Path, key, fmt.Sprintf(format, a...)))
	}
	if len(c.Include) > 0 && len(c.Exclude) > 0 {
		bad("exclude", "set include or exclude, not both")
	}
	if c.IncludeKey && len(c.Include) == 0 {
		bad("include_key", "only with include")
	}
	if len(c.Include)+len(c.Exclude)+len(c.Mask)+len(c.Hash)+len(c.Truncate)+len(c.Rename) == 0 {
		bad("include", "the entry changes nothing: set include, exclude, mask, hash, truncate or rename")
	}
	// A column gets at most one value operation.
	owner := map[string]string{}
	claim := func(key, col string) {
		if col == "" {
			bad(key, "empty column name")
			return
		}
		if prev, dup := owner[col]; dup {
			bad(key, "column %q already has %s", col, prev)
			return
		}
		owner[col] = key
	}
	for _, n := range slices.Sorted(maps.Keys(c.Mask)) {
		claim("mask."+n, n)
		t.mask[n] = []byte(c.Mask[n])
	}
	for i, n := range c.Hash {
		claim(fmt.Sprintf("hash[%d]", i), n)
	}
	for _, n := range slices.Sorted(maps.Keys(c.Truncate)) {
		claim("truncate."+n, n)
		if c.Truncate[n] < 1 {
			bad("truncate."+n, "%d: must be at least 1 character", c.Truncate[n])
		}
	}
	for col, key := range owner {
		if t.exclude[col] || len(t.include) > 0 && !t.include[col] {
			bad(key, "column %q is not kept (include/exclude)", col)
		}
	}
	renamed := map[string]string{}
	for _, n := range slices.Sorted(maps.Keys(c.Rename)) {
		to := c.Rename[n]
		if to == "" {
			bad("rename."+n, "empty new name")
		} else if prev, dup := renamed[to]; dup {
			bad("rename."+n, "%q is already the new name of %q", to, prev)
		}
		renamed[to] = n
	}
	if salt, err := secret.Resolve(c.Salt, c.SaltFile, "salt"); err != nil {
		errs = append(errs, fmt.Errorf("%s.%w", env.Path, err))
	} else {
		t.salt = []byte(salt)
	}
	if len(c.Hash) > 0 && len(t.salt) == 0 {
		bad("salt", "required with hash: without a salt a hash of a small domain (a phone number, a birth date) is reversed by trying every value")
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *columns) Apply(ev *sluice.Event) (bool, error) {
	if ev.Table == nil {
		return true, nil
	}
	s, err := t.tables.get(ev.Table, t.plan)
	if err != nil {
		return false, err
	}
	if s.identity {
		return true, nil
	}
	ev.Table = s.table
	ev.Before = t.project(s, ev.Before)
	ev.After = t.project(s, ev.After)
	ev.OtherKey = t.project(s, ev.OtherKey)
	return true, nil
}

// plan derives a table's description: kept columns in their order,
// renamed, masked and hashed columns as text, the key's columns mapped.
func (t *columns) plan(in *sluice.Table) (*shape, error) {
	s := &shape{identity: true}
	out := *in
	out.Columns = nil
	at := make([]int, len(in.Columns)) // input column → derived, or -1
	for i, col := range in.Columns {
		if t.exclude[col.Name] || len(t.include) > 0 && !t.include[col.Name] && !(col.Key && t.c.IncludeKey) {
			at[i] = -1
			s.identity = false
			if col.Key {
				return nil, fmt.Errorf("drops the key column %q of %s; a key without it would merge rows: keep it, or choose another key with a key transform before this one",
					col.Name, in.QualifiedName())
			}
			continue
		}
		op := opKeep
		switch _, masked := t.mask[col.Name]; {
		case masked:
			op = opMask
		case t.hash[col.Name]:
			op = opHash
			s.hashes++
		case t.c.Truncate[col.Name] > 0:
			op = opTruncate
			switch col.Type {
			case sluice.TypeText, sluice.TypeJSON, sluice.TypeXML:
			default:
				return nil, fmt.Errorf("truncate.%s: column %q of %s is %s, not text", col.Name, col.Name, in.QualifiedName(), typeName(&col))
			}
		}
		if col.Key && (op == opMask || op == opTruncate) {
			return nil, fmt.Errorf("masks or truncates the key column %q of %s, which would merge rows; hash it instead", col.Name, in.QualifiedName())
		}
		if op != opKeep {
			s.identity = false
			col = textColumn(col)
		}
		if to, ok := t.c.Rename[col.Name]; ok {
			col.Name = to
			s.identity = false
		}
		at[i] = len(out.Columns)
		out.Columns = append(out.Columns, col)
		s.src = append(s.src, i)
		s.ops = append(s.ops, op)
		s.in = append(s.in, in.Columns[i])
		s.arg = append(s.arg, t.c.Truncate[in.Columns[i].Name])
	}
	if s.identity {
		return s, nil
	}
	out.Key = make([]int, len(in.Key))
	for i, k := range in.Key {
		out.Key[i] = at[k]
	}
	for i := range out.Columns {
		if out.Index(out.Columns[i].Name) != i {
			return nil, fmt.Errorf("rename: %s would have two columns named %q", in.QualifiedName(), out.Columns[i].Name)
		}
	}
	s.table = &out
	return s, nil
}

// textColumn is col once its values are replaced by text.
func textColumn(col sluice.Column) sluice.Column {
	return sluice.Column{Name: col.Name, DBType: "text", Type: sluice.TypeText, Optional: col.Optional, Key: col.Key, Scale: -1}
}

// project builds the derived row of r: one allocation for the row, one
// for all its hashes.
func (t *columns) project(s *shape, r sluice.Row) sluice.Row {
	if r == nil {
		return nil
	}
	out := make(sluice.Row, len(s.src))
	var buf []byte
	if s.hashes > 0 {
		buf = make([]byte, 0, s.hashes*hex.EncodedLen(sha256.Size))
	}
	for i, j := range s.src {
		var v sluice.Value
		if j < len(r) {
			v = r[j]
		} else {
			v = sluice.Value{Kind: sluice.KindMissing}
		}
		if v.Kind != sluice.KindPresent {
			out[i] = v
			continue
		}
		switch s.ops[i] {
		case opKeep:
			out[i] = v
		case opMask:
			out[i] = sluice.Value{Kind: sluice.KindPresent, Bytes: t.mask[s.in[i].Name]}
		case opHash:
			start := len(buf)
			buf = hashValue(buf, t.salt, &s.in[i], v)
			out[i] = sluice.Value{Kind: sluice.KindPresent, Bytes: buf[start:len(buf):len(buf)]}
		case opTruncate:
			out[i] = sluice.Value{Kind: sluice.KindPresent, Bytes: truncateRunes(v.Bytes, s.arg[i])}
		}
	}
	return out
}

// hashValue appends to buf the hex SHA-256 of salt followed by v's text
// (valueText).
func hashValue(buf, salt []byte, col *sluice.Column, v sluice.Value) []byte {
	h := sha256.New()
	h.Write(salt)
	var scratch [64]byte
	h.Write(valueText(scratch[:0], col, col.Type, v))
	var sum [sha256.Size]byte
	return hex.AppendEncode(buf, h.Sum(sum[:0]))
}

// valueText appends the text a hash covers of v, a value of type typ of
// column col (typ is col.Type, or col.Elem for an array's elements): the
// value's bytes for types stored as bytes, the decimal number for
// integers, Go's shortest float text, for arrays the elements' texts as
// a JSON-like list, and for structs (a joined row) {name:text,…} of the
// fields in order, so that a struct hashes whole, like an array: equal
// rows give equal hashes.
func valueText(buf []byte, col *sluice.Column, typ sluice.Type, v sluice.Value) []byte {
	if v.Kind != sluice.KindPresent {
		return append(buf, "null"...)
	}
	switch typ {
	case sluice.TypeFloat32, sluice.TypeFloat64:
		return strconv.AppendFloat(buf, v.Float, 'g', -1, 64)
	case sluice.TypeArray:
		buf = append(buf, '[')
		for i, e := range v.Elems {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = valueText(buf, col, col.Elem, e)
		}
		return append(buf, ']')
	case sluice.TypeStruct:
		buf = append(buf, '{')
		for i := range col.Fields {
			if i > 0 {
				buf = append(buf, ',')
			}
			f := &col.Fields[i]
			buf = append(buf, f.Name...)
			buf = append(buf, ':')
			e := sluice.Value{Kind: sluice.KindMissing}
			if i < len(v.Elems) {
				e = v.Elems[i]
			}
			buf = valueText(buf, f, f.Type, e)
		}
		return append(buf, '}')
	case sluice.TypeBool, sluice.TypeInt16, sluice.TypeInt32, sluice.TypeInt64, sluice.TypeDate, sluice.TypeTime,
		sluice.TypeTimestamp, sluice.TypeTimestampTZ, sluice.TypeBit, sluice.TypeYear:
		return strconv.AppendInt(buf, v.Int, 10)
	case sluice.TypeInterval:
		if v.Bytes == nil {
			return strconv.AppendInt(buf, v.Int, 10)
		}
	}
	return append(buf, v.Bytes...)
}

// typeName names col's type in an error: the database's name, or the
// logical one for a struct (whose DBType is a Connect schema name).
func typeName(col *sluice.Column) string {
	if col.Type == sluice.TypeStruct || col.DBType == "" {
		return col.Type.String()
	}
	return col.DBType
}

// truncateRunes returns b cut to at most n UTF-8 characters; it shares
// b's bytes.
func truncateRunes(b []byte, n int) []byte {
	for i := range b {
		if utf8.RuneStart(b[i]) {
			if n == 0 {
				return b[:i:i]
			}
			n--
		}
	}
	return b
}

func set(names []string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}
