package transform

import "github.com/sluice-cdc/sluice"

// maxCachedTables bounds the per-table caches of transforms: each schema
// change makes a new *Table, and a long-running daemon must not keep them
// all.
const maxCachedTables = 4096

// perTable caches what a transform derives from a table description (a
// plan, a compiled expression, a match): events of one table share its
// *Table, so the work is done once per table and schema version, not per
// event. The last table is kept beside the map, as events mostly come in
// runs of one table. Apply is never concurrent, so neither is get.
type perTable[V any] struct {
	last  *sluice.Table
	lastV V
	m     map[*sluice.Table]V
}

// get returns what build derived from t, calling it the first time; a
// build error is not cached.
func (c *perTable[V]) get(t *sluice.Table, build func(*sluice.Table) (V, error)) (V, error) {
	if t == c.last && t != nil {
		return c.lastV, nil
	}
	v, ok := c.m[t]
	if !ok {
		var err error
		if v, err = build(t); err != nil {
			return v, err
		}
		if c.m == nil {
			c.m = map[*sluice.Table]V{}
		} else if len(c.m) >= maxCachedTables {
			clear(c.m) // old schema versions; the live ones come back
		}
		c.m[t] = v
	}
	c.last, c.lastV = t, v
	return v, nil
}
