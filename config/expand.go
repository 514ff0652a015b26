package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// expandNode replaces ${NAME} and ${NAME:-default} in every scalar value
// of the YAML tree with the environment variable (or the default when the
// variable is unset or empty), as Docker Compose and Kubernetes users
// expect; $$ is a literal $. It works on parsed values, not on the file's
// text, so a variable's content can never change the file's structure,
// and an unquoted, untagged value whose expansion reads as a number or a
// boolean decodes as one (capacity: ${CAPACITY}); !!str keeps it a string. A variable without a default
// that is not set is an error naming the key and its line; the value
// itself is never part of an error.
func expandNode(n *yaml.Node, prefix string, lookup func(string) (string, bool), used *[]variable) []error {
	var errs []error
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			errs = append(errs, expandNode(c, prefix, lookup, used)...)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := strings.ToLower(n.Content[i].Value)
			if prefix != "" {
				key = prefix + "." + key
			}
			errs = append(errs, expandNode(n.Content[i+1], key, lookup, used)...)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			errs = append(errs, expandNode(c, prefix+"["+strconv.Itoa(i)+"]", lookup, used)...)
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "$") {
			return nil
		}
		v, err := expand(n.Value, lookup, used)
		if err != nil {
			return []error{fmt.Errorf("line %d: %s: %w", n.Line, prefix, err)}
		}
		if v != n.Value {
			n.Value = v
			// An untagged plain value is typed again from the expanded
			// text; a quoted, block or explicitly tagged one (!!str
			// ${PASSWORD}) keeps the type it was written with.
			if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle|yaml.TaggedStyle) == 0 {
				n.Tag = ""
			}
		}
	}
	return errs
}

// variable is a variable a value used, so that errors can show its name
// instead of its value (scrub).
type variable struct{ name, value string }

// expand replaces the references in s, noting each variable used.
func expand(s string, lookup func(string) (string, bool), used *[]variable) (string, error) {
	var b strings.Builder
	var errs []error
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
			continue
		case '{':
		default:
			b.WriteByte(c)
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", errors.New("${ without a closing } (write $$ for a literal $)")
		}
		ref := s[i+2 : i+end]
		if allDigits(ref) || ref == "routedByValue" {
			// ${1}: a regular expression's group (route's
			// topic_replacement); ${routedByValue}: the outbox
			// router's placeholder, as Debezium spells it. Never a
			// variable's name.
			b.WriteString(s[i : i+end+1])
			i += end
			continue
		}
		name, def, hasDef := strings.Cut(ref, ":-")
		if !validEnvName(name) {
			return "", fmt.Errorf("${%s}: %q is not an environment variable name", ref, name)
		}
		v, ok := lookup(name)
		switch {
		case ok && v != "":
			b.WriteString(v)
			if used != nil {
				*used = append(*used, variable{name, v})
			}
		case hasDef:
			b.WriteString(def)
		case ok:
			// Set but empty, without a default: empty is what was asked.
		default:
			errs = append(errs, fmt.Errorf("environment variable %s is not set (write ${%s:-default} for a default)", name, name))
		}
		i += end
	}
	return b.String(), errors.Join(errs...)
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// scrub replaces, in an error message, every value a variable gave with
// the variable's reference: a secret given as ${PASSWORD} and used where
// it does not belong ("cannot parse … as int") is shown as ${PASSWORD}.
// Values shorter than 3 characters are left alone: they would match too
// much of any message, and reveal little.
func scrub(msg string, used []variable) string {
	for _, v := range used {
		if len(v.value) >= 3 {
			msg = strings.ReplaceAll(msg, v.value, "${"+v.name+"}")
		}
	}
	return msg
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
