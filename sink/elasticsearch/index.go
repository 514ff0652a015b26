package elasticsearch

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/sluice-cdc/sluice"
)

// indexPart is a literal or a placeholder of an index name template.
type indexPart struct {
	ph  string // "prefix", "db", "schema", "table"; "" for a literal
	lit string
}

// indexTemplate is a parsed index name template such as
// "{prefix}.{schema}.{table}".
type indexTemplate struct {
	src   string
	parts []indexPart
}

// parseIndexTemplate parses and checks a template. Literal text must
// already be a legal, lower-case index name fragment.
func parseIndexTemplate(tmpl string) (indexTemplate, error) {
	if tmpl == "" {
		return indexTemplate{}, errors.New("empty index template")
	}
	t := indexTemplate{src: tmpl}
	rest := tmpl
	for rest != "" {
		open := strings.IndexByte(rest, '{')
		lit := rest
		if open >= 0 {
			lit = rest[:open]
		}
		if lit != "" {
			if i := strings.IndexFunc(lit, func(r rune) bool { return !legalIndexRune(r) || unicode.IsUpper(r) }); i >= 0 {
				r := []rune(lit[i:])[0]
				return indexTemplate{}, fmt.Errorf("index template %q: character %q is not allowed in an index name (lower case only; not \\ / * ? \" < > | , # : or space)", tmpl, r)
			}
			t.parts = append(t.parts, indexPart{lit: lit})
		}
		if open < 0 {
			break
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return indexTemplate{}, fmt.Errorf("index template %q: unclosed '{'", tmpl)
		}
		name := rest[open+1 : open+end]
		switch name {
		case "prefix", "db", "schema", "table":
		default:
			return indexTemplate{}, fmt.Errorf("index template %q: unknown placeholder {%s} (known: {prefix}, {db}, {schema}, {table})", tmpl, name)
		}
		t.parts = append(t.parts, indexPart{ph: name})
		rest = rest[open+end+1:]
	}
	if first := t.parts[0]; first.ph == "" && strings.ContainsAny(first.lit[:1], "-_+") {
		return indexTemplate{}, fmt.Errorf("index template %q: an index name must not start with '-', '_' or '+'", tmpl)
	}
	if len(t.parts) == 1 && t.parts[0].ph == "" {
		if err := checkIndexName(t.parts[0].lit); err != nil {
			return indexTemplate{}, fmt.Errorf("index template %q: %w", tmpl, err)
		}
	}
	return t, nil
}

// uses reports whether the template contains placeholder ph.
func (t indexTemplate) uses(ph string) bool {
	for _, p := range t.parts {
		if p.ph == ph {
			return true
		}
	}
	return false
}

// expand fills in the placeholders; substituted values are lower-cased
// and illegal characters become '_'. The result is checked.
func (t indexTemplate) expand(prefix string, tab *sluice.Table, dbDefault string) (string, error) {
	db := tab.DB
	if db == "" {
		db = dbDefault
	}
	schema := tab.Schema
	if schema == "" {
		schema = db
	}
	var b strings.Builder
	for _, p := range t.parts {
		switch p.ph {
		case "":
			b.WriteString(p.lit)
		case "prefix":
			writeIndexSanitized(&b, prefix)
		case "db":
			writeIndexSanitized(&b, db)
		case "schema":
			writeIndexSanitized(&b, schema)
		case "table":
			writeIndexSanitized(&b, tab.Name)
		}
	}
	name := b.String()
	return name, checkIndexName(name)
}

func legalIndexRune(r rune) bool {
	switch r {
	case '\\', '/', '*', '?', '"', '<', '>', '|', ' ', ',', '#', ':':
		return false
	}
	return r > 0x20 && r != 0x7f
}

func writeIndexSanitized(b *strings.Builder, s string) {
	for _, r := range s {
		if legalIndexRune(r) {
			b.WriteRune(unicode.ToLower(r))
		} else {
			b.WriteByte('_')
		}
	}
}

// checkIndexName applies Elasticsearch's rules for index names.
func checkIndexName(name string) error {
	switch {
	case name == "":
		return errors.New("index name is empty")
	case name == "." || name == "..":
		return fmt.Errorf("index name %q is not allowed", name)
	case len(name) > 255:
		return fmt.Errorf("index name %q is longer than 255 bytes", name)
	case strings.ContainsAny(name[:1], "-_+"):
		return fmt.Errorf("index name %q must not start with '-', '_' or '+'", name)
	}
	for _, r := range name {
		if !legalIndexRune(r) || unicode.IsUpper(r) {
			return fmt.Errorf("index name %q: character %q is not allowed", name, r)
		}
	}
	return nil
}
