package postgres

import "testing"

func TestSplitTable(t *testing.T) {
	cases := []struct {
		in             string
		schema, table  string
		ok             bool
		canonicalAgain string // tableName of the parts; "" when it is in
	}{
		{"public.orders", "public", "orders", true, ""},
		{"orders", "public", "orders", true, "public.orders"},
		{"Sales.OrderLines", "Sales", "OrderLines", true, ""},
		{`"Sales"."Order.Lines"`, "Sales", "Order.Lines", true, `Sales."Order.Lines"`},
		{`Sales."Order.Lines"`, "Sales", "Order.Lines", true, ""},
		{`"my.schema".t`, "my.schema", "t", true, ""},
		{`"Bob's ""Deals"""`, "public", `Bob's "Deals"`, true, `public."Bob's ""Deals"""`},
		{`s."a""b"`, "s", `a"b`, true, ""},
		{"a.b.c", "", "", false, ""},
		{"", "", "", false, ""},
		{".t", "", "", false, ""},
		{"s.", "", "", false, ""},
		{`"unclosed.t`, "", "", false, ""},
		{`"".t`, "", "", false, ""},
		{`s."t"x`, "", "", false, ""},
		{`s.t"x`, "", "", false, ""},
	}
	for _, c := range cases {
		schema, table, ok := splitTable(c.in)
		if ok != c.ok || schema != c.schema || table != c.table {
			t.Errorf("splitTable(%q) = %q, %q, %v; want %q, %q, %v", c.in, schema, table, ok, c.schema, c.table, c.ok)
			continue
		}
		if !ok {
			continue
		}
		want := c.canonicalAgain
		if want == "" {
			want = c.in
		}
		if got := tableName(schema, table); got != want {
			t.Errorf("tableName(%q, %q) = %q, want %q", schema, table, got, want)
		}
		if s2, t2, ok2 := splitTable(tableName(schema, table)); !ok2 || s2 != schema || t2 != table {
			t.Errorf("%q does not read back: %q, %q, %v", tableName(schema, table), s2, t2, ok2)
		}
	}
}
