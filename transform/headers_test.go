package transform

import (
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice"
)

// TestHeaders: fixed headers in Connect JSON typed as InsertHeader types
// the same literal (the recording headers has "acme" and 42), computed
// ones optional and null when the expression is; raw values are the text.
// Headers added before stay first, and a filter reads them.
func TestHeaders(t *testing.T) {
	for _, c := range []struct {
		name string
		raw  map[string]any
		want []string // name=value, "name" alone for a null header
	}{
		{"connect literals", map[string]any{"headers": []any{
			map[string]any{"name": "tenant", "value": "acme"}, map[string]any{"name": "shard", "value": 42},
			map[string]any{"name": "big", "value": 70000}, map[string]any{"name": "f", "value": 1.5},
			map[string]any{"name": "b", "value": true}}},
			[]string{`tenant={"schema":{"type":"string","optional":false},"payload":"acme"}`,
				`shard={"schema":{"type":"int8","optional":false},"payload":42}`,
				`big={"schema":{"type":"int32","optional":false},"payload":70000}`,
				`f={"schema":{"type":"float64","optional":false},"payload":1.5}`,
				`b={"schema":{"type":"boolean","optional":false},"payload":true}`}},
		{"connect computed", map[string]any{"headers": []any{
			map[string]any{"name": "domain", "expression": `split(after.Email, "@")[1]`},
			map[string]any{"name": "age", "expression": `after.Age`, "type": "int"},
			map[string]any{"name": "none", "expression": `after.Notes == "x" ? "y" : nil`}}},
			[]string{`domain={"schema":{"type":"string","optional":true},"payload":"example.com"}`,
				`age={"schema":{"type":"int64","optional":true},"payload":41}`,
				`none={"schema":{"type":"string","optional":true},"payload":null}`}},
		{"raw", map[string]any{"encoding": "raw", "headers": []any{
			map[string]any{"name": "tenant", "value": "acme"}, map[string]any{"name": "notes", "expression": `after.Notes`},
			map[string]any{"name": "none", "expression": `after.Notes == "x" ? "y" : nil`}}},
			[]string{`tenant=acme`, `notes=héllo wörld`, `none`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.raw["type"] = "headers"
			tr := build(t, c.raw)
			for range 2 {
				ev := customer()
				ev.Headers = []sluice.Header{{Name: "first", Value: []byte("1"), Text: "1"}}
				if keep, err := tr.Apply(ev); err != nil || !keep {
					t.Fatalf("Apply = %v, %v", keep, err)
				}
				got := []string{}
				for _, h := range ev.Headers[1:] {
					s := h.Name
					if h.Value != nil {
						s += "=" + string(h.Value)
					}
					got = append(got, s)
				}
				if strings.Join(got, "\n") != strings.Join(c.want, "\n") || ev.Headers[0].Name != "first" {
					t.Fatalf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(c.want, "\n  "))
				}
			}
		})
	}
}

// TestHeadersShared: fixed headers on an event without any are one slice
// shared by every event, and a later transform adding more copies it.
func TestHeadersShared(t *testing.T) {
	first := build(t, map[string]any{"type": "headers", "headers": []any{map[string]any{"name": "a", "value": "x"}}})
	second := build(t, map[string]any{"type": "headers", "headers": []any{map[string]any{"name": "b", "value": "y"}}})
	e1, e2 := customer(), customer()
	for _, ev := range []*sluice.Event{e1, e2} {
		if _, err := first.Apply(ev); err != nil {
			t.Fatal(err)
		}
	}
	if &e1.Headers[0] != &e2.Headers[0] {
		t.Error("fixed headers are not shared")
	}
	if _, err := second.Apply(e1); err != nil {
		t.Fatal(err)
	}
	if len(e2.Headers) != 1 || len(e1.Headers) != 2 || e1.Headers[1].Name != "b" {
		t.Errorf("after a second transform: %v and %v", e1.Headers, e2.Headers)
	}
}

// TestFilterOnHeaders: headers.x is a header's text, nil when absent.
func TestFilterOnHeaders(t *testing.T) {
	tr := build(t, map[string]any{"type": "filter", "expression": `headers.tenant == "acme" && headers["no-such"] == nil`})
	for _, c := range []struct {
		hs   []sluice.Header
		keep bool
	}{
		{[]sluice.Header{{Name: "tenant", Text: "acme"}}, true},
		{[]sluice.Header{{Name: "tenant", Text: "other"}}, false},
		{[]sluice.Header{{Name: "tenant", Null: true}}, false},
		{nil, false},
	} {
		ev := customer()
		ev.Headers = c.hs
		if keep, err := tr.Apply(ev); err != nil || keep != c.keep {
			t.Errorf("%v: keep %v, %v; want %v", c.hs, keep, err, c.keep)
		}
	}
}

// TestHeadersErrors: bad entries are refused when the pipeline is built.
func TestHeadersErrors(t *testing.T) {
	for _, c := range []struct {
		raw  map[string]any
		want string
	}{
		{map[string]any{}, "transforms[0].headers: required"},
		{map[string]any{"encoding": "avro", "headers": []any{map[string]any{"name": "a", "value": 1}}}, `transforms[0].encoding: "avro" is not connect or raw`},
		{map[string]any{"headers": []any{map[string]any{"value": "x"}}}, `headers[0].name: "" is empty`},
		{map[string]any{"headers": []any{map[string]any{"name": "a"}}}, "headers[0]: set value or expression"},
		{map[string]any{"headers": []any{map[string]any{"name": "a", "value": "x", "type": "int"}}}, "headers[0].type: only with expression"},
		{map[string]any{"headers": []any{map[string]any{"name": "a", "value": []any{1}}}}, "headers[0].value: [1] is not a string, number or boolean"},
		{map[string]any{"headers": []any{map[string]any{"name": "a", "expression": "1 +"}}}, "headers[0].expression:"},
		{map[string]any{"headers": []any{map[string]any{"name": "a", "expression": "1", "type": "int"}, map[string]any{"name": "a", "value": 1}}}, `headers[1].name: "a" is empty or set twice`},
		{map[string]any{"headers": []any{map[string]any{"name": "a", "expression": "1", "type": "date"}}}, `headers[0].type: "date" is not`},
		{map[string]any{"headers": []any{map[string]any{"name": "a", "expression": "1"}}}, "headers[0].expression:"},
	} {
		c.raw["type"] = "headers"
		_, err := New(c.raw, Env{Path: "pipelines.p.transforms[0]"})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.raw, err, c.want)
		}
	}
}
