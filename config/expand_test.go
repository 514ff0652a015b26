package config

import (
	"strings"
	"testing"
)

// TestExpandVariables: ${VAR} and ${VAR:-default} in values, $$ for a
// literal $, numbers stay numbers when unquoted, strings when quoted.
func TestExpandVariables(t *testing.T) {
	env := map[string]string{"PG_HOST": "db.internal", "CAP": "64", "EMPTY": "", "SECRET": "canary-s3cr3t"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for _, c := range []struct{ in, want string }{
		{"${PG_HOST}", "db.internal"},
		{"postgres://sluice@${PG_HOST}:${PG_PORT:-5432}/shop", "postgres://sluice@db.internal:5432/shop"},
		{"${EMPTY:-fallback}", "fallback"},
		{"${EMPTY}", ""},
		{"price: $$5 and $5 and ${CAP}$", "price: $5 and $5 and 64$"},
		{"no references", "no references"},
		{"${1}.orders and ${12}", "${1}.orders and ${12}"},                 // regular expression groups stay
		{"outbox.event.${routedByValue}", "outbox.event.${routedByValue}"}, // the outbox router's placeholder stays
	} {
		got, err := expand(c.in, lookup, nil)
		if err != nil || got != c.want {
			t.Errorf("expand(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	f, err := parse([]byte(`pipelines:
  shop:
    capacity: ${CAP}
    topic_prefix: "${CAP}"
    source: {type: postgres, dsn: "postgres://u@${PG_HOST}/x", password: "${SECRET}"}
    sinks: {stdout: {}}
`), lookup)
	if err != nil {
		t.Fatal(err)
	}
	p := f.Pipelines["shop"]
	if p.Capacity != 64 || p.TopicPrefix != "64" || p.Source["dsn"] != "postgres://u@db.internal/x" || p.Source["password"] != "canary-s3cr3t" {
		t.Fatalf("decoded %+v", p)
	}
}

// TestExpandKeepsExplicitTags: a value tagged !!str stays a string after
// expansion, as the same text written literally does; only untagged plain
// values are typed again from what they expand to.
func TestExpandKeepsExplicitTags(t *testing.T) {
	env := map[string]string{"PW": "0123", "ON": "true", "N": "7"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for _, c := range []struct {
		value string
		want  any
	}{
		{"!!str ${PW}", "0123"},
		{"!!str 0123", "0123"},
		{"!!str ${ON}", "true"},
		{"${N}", 7},
		{"!!int ${N}", 7},
		{"${ON}", true},
	} {
		f, err := parse([]byte("pipelines:\n  p:\n    source:\n      type: x\n      v: "+c.value+"\n    sinks: {stdout: {}}\n"), lookup)
		if err != nil {
			t.Errorf("%s: %v", c.value, err)
			continue
		}
		if got := f.Pipelines["p"].Source["v"]; got != c.want {
			t.Errorf("%s decoded as %#v, want %#v", c.value, got, c.want)
		}
	}
}

// secretLookup is an environment with only SECRET set, to a canary that
// no error may show.
func secretLookup(k string) (string, bool) {
	if k == "SECRET" {
		return "canary-s3cr3t", true
	}
	return "", false
}

// TestExpandErrors: an unset variable without a default, a malformed
// reference: one error each, naming the key and its line, never a value.
func TestExpandErrors(t *testing.T) {
	_, err := parse([]byte(`pipelines:
  shop:
    capacity: lots
    source:
      type: postgres
      dsn: ${PG_DSN}
      password: ${SECRET}${
    sinks: {stdout: {}}
`), secretLookup)
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{
		"line 6: pipelines.shop.source.dsn: environment variable PG_DSN is not set (write ${PG_DSN:-default} for a default)",
		"line 7: pipelines.shop.source.password: ${ without a closing }",
		"line 3: pipelines.shop.capacity: cannot parse",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "canary") {
		t.Errorf("an error shows the secret:\n%s", msg)
	}
}

// TestErrorsShowVariablesNotValues: a variable's value used where it does
// not fit is shown in the error as the variable's reference.
func TestErrorsShowVariablesNotValues(t *testing.T) {
	_, err := parse([]byte(`pipelines:
  shop:
    capacity: ${SECRET}
    source: {type: postgres, dsn: "postgres://u@h/x"}
    sinks: {stdout: {}}
`), secretLookup)
	if err == nil || strings.Contains(err.Error(), "canary") || !strings.Contains(err.Error(), `line 3: pipelines.shop.capacity: cannot parse "${SECRET}"`) {
		t.Fatalf("error %v", err)
	}
}
