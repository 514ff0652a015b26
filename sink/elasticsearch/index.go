package elasticsearch

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/sink"
)

// indexRules are Elasticsearch's index name rules for a template's
// literal text: lower case, none of \ / * ? " < > | , # : or space.
var indexRules = sink.NameRules{What: "index", Noun: "an index name",
	Hint:  `lower case only; not \ / * ? " < > | , # : or space`,
	Legal: func(r rune) bool { return legalIndexRune(r) && !unicode.IsUpper(r) }, Lower: true}

// indexTemplate is a parsed index name template such as
// "{prefix}.{schema}.{table}": a topic template with index name rules.
type indexTemplate struct{ sink.Topic }

// parseIndexTemplate parses and checks a template.
func parseIndexTemplate(tmpl string) (indexTemplate, error) {
	t, err := sink.ParseTemplate(tmpl, &indexRules)
	if err != nil {
		return indexTemplate{}, err
	}
	if strings.ContainsAny(tmpl[:1], "-_+") {
		return indexTemplate{}, fmt.Errorf("index template %q: an index name must not start with '-', '_' or '+'", tmpl)
	}
	if lit, ok := t.Literal(); ok {
		if err := checkIndexName(lit); err != nil {
			return indexTemplate{}, fmt.Errorf("index template %q: %w", tmpl, err)
		}
	}
	return indexTemplate{t}, nil
}

// expand fills in the placeholders; substituted values are lower-cased
// and illegal characters become '_'. The result is checked.
func (t indexTemplate) expand(prefix string, tab *sluice.Table, dbDefault string) (string, error) {
	db := tab.DB
	if db == "" {
		db = dbDefault
	}
	name := t.Expand(prefix, db, tab.Schema, tab.Name)
	return name, checkIndexName(name)
}

func legalIndexRune(r rune) bool {
	switch r {
	case '\\', '/', '*', '?', '"', '<', '>', '|', ' ', ',', '#', ':':
		return false
	}
	return r > 0x20 && r != 0x7f
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
