package main

import (
	"bytes"
	"fmt"
	"strings"
)

// lookupSQL creates and fills the lookup table of -lookup-rows: rows ids
// 0 … rows-1, so that every small workload row's account (id % 10000)
// finds its row when rows ≥ 10,000 and the wide rows' customer_id (id %
// 100000) when rows ≥ 100,000.
func lookupSQL(table string, rows int) string {
	return fmt.Sprintf(`CREATE TABLE %[1]s (
  id integer PRIMARY KEY,
  name text NOT NULL,
  city text NOT NULL,
  tier text NOT NULL
);
INSERT INTO %[1]s SELECT g, 'Customer ' || g, (ARRAY['Lyon','Oslo','Lima','Pune','Kyiv'])[1 + g %% 5], (ARRAY['gold','silver','bronze'])[1 + g %% 3]
  FROM generate_series(0, %[2]d - 1) g`, table, rows)
}

// transformsFor names a run's tables in a -compare-transforms list:
// {table} is the case's table, {lookup} the lookup table of -lookup-rows.
func transformsFor(yaml string, tables []string) string {
	pairs := []string{"{table}", tables[0]}
	if len(tables) > 1 {
		pairs = append(pairs, "{lookup}", tables[1])
	}
	return strings.NewReplacer(pairs...).Replace(yaml)
}

// allContain checks that every sampled change record with an after image
// holds want: the compare runs did the work they are measured for. (A
// delete's before image under REPLICA IDENTITY DEFAULT holds only the key,
// so a join has nothing to look up there.)
func allContain(samples []sample, want string) error {
	n := 0
	for _, s := range samples {
		if s.Value == nil || bytes.Contains(s.Value, []byte(`"after":null`)) {
			continue
		}
		if !bytes.Contains(s.Value, []byte(want)) {
			return fmt.Errorf("compare: a record's value does not contain %q: %.300s", want, s.Value)
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("compare: no sampled record to check for %q", want)
	}
	return nil
}
