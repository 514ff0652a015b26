package join

import (
	"bytes"
	"fmt"

	"github.com/sluice-cdc/sluice"
)

// change is a lookup row's change that may re-emit rows: its key and the
// row before and after (projected; nil when absent).
type change struct {
	n     int // changes held: 0 when the last event changed no lookup row
	keys  [2][]byte
	old   [2]sluice.Row
	neu   [2]sluice.Row
	oldSh [2]uint64
	neuSh [2]uint64
}

func (c *change) add(key []byte, old sluice.Row, oldSh uint64, neu sluice.Row, neuSh uint64) {
	if c.n == len(c.keys) {
		return
	}
	c.keys[c.n], c.old[c.n], c.oldSh[c.n], c.neu[c.n], c.neuSh[c.n] = key, old, oldSh, neu, neuSh
	c.n++
}

// prev is the version just before v: reading as of it sees the state
// before the change at v, also when a replay finds v already written.
func (v version) prev() version {
	switch {
	case v.row > 0:
		v.row--
	case v.lsn > 0:
		v.lsn, v.row = v.lsn-1, ^uint32(0)
	case v.tx > 0:
		v.tx, v.lsn, v.row = v.tx-1, ^uint64(0), ^uint32(0)
	}
	return v
}

// keyOf builds the join key of row's columns cols (types from t), or
// reports ok false when one is NULL or missing.
func (j *Join) keyOf(dst []byte, t *sluice.Table, cols []int, row sluice.Row) (_ []byte, ok bool, err error) {
	for _, i := range cols {
		if i >= len(row) {
			return dst, false, nil
		}
		dst, ok, err = appendKey(dst, t.Columns[i].Type, &row[i])
		if err != nil {
			return dst, false, fmt.Errorf("join: %s.%s: %w", t.QualifiedName(), t.Columns[i].Name, err)
		}
		if !ok {
			return dst, false, nil
		}
	}
	return dst, true, nil
}

// missingIn reports whether a key column is absent from row (a key-only
// old image), as opposed to NULL.
func missingIn(cols []int, row sluice.Row) bool {
	for _, i := range cols {
		if i >= len(row) || row[i].Kind == sluice.KindMissing || row[i].Kind == sluice.KindUnchanged {
			return true
		}
	}
	return false
}

// stored reads a row of space at key as of v: its shape and values.
func (j *Join) stored(space byte, key []byte, v version) (uint64, sluice.Row, error) {
	b, err := j.st.get(space, key, v)
	if err != nil || b == nil {
		return 0, nil, err
	}
	return decodeRow(b)
}

// applyLookup writes a lookup table change into the store.
func (j *Join) applyLookup(ev *sluice.Event, lt *lookupTable) error {
	v := versionOf(ev)
	t := ev.Table
	j.stats.lookupChanges.Add(1)
	switch ev.Op {
	case sluice.OpCreate, sluice.OpRead, sluice.OpUpdate:
		key, ok, err := j.keyOf(nil, t, lt.key, ev.After)
		if err != nil {
			return err
		}
		if ev.Op == sluice.OpUpdate && ev.Before != nil && !missingIn(lt.key, ev.Before) {
			old, oldOK, err := j.keyOf(nil, t, lt.key, ev.Before)
			if err != nil {
				return err
			}
			if oldOK && (!ok || !bytes.Equal(old, key)) { // the lookup key changed: the old one is gone
				if err := j.removeLookup(old, v); err != nil {
					return err
				}
			}
		}
		if !ok {
			return j.commit() // a NULL lookup key matches nothing
		}
		prevSh, prev, err := j.stored(spaceLookup, key, v.prev())
		if err != nil {
			return err
		}
		row := make(sluice.Row, len(lt.proj))
		for f, i := range lt.proj {
			row[f] = ev.After[i]
			if row[f].Kind == sluice.KindUnchanged && prev != nil && prevSh == lt.shape.id {
				row[f] = prev[f] // an unchanged TOASTed value: the stored one
			}
		}
		if err := j.st.put(j.batch, spaceLookup, key, v, appendRow(nil, lt.shape.id, row)); err != nil {
			return err
		}
		if j.reemit && !sameRow(prevSh, prev, lt.shape.id, row) {
			j.pending.add(key, prev, prevSh, row, lt.shape.id)
		}
	case sluice.OpDelete:
		if ev.Before == nil || missingIn(lt.key, ev.Before) {
			return fmt.Errorf("join: a delete of lookup table %s lacks the old values of the lookup columns: they must be its key, or the table needs REPLICA IDENTITY FULL", t.QualifiedName())
		}
		key, ok, err := j.keyOf(nil, t, lt.key, ev.Before)
		if err != nil || !ok {
			return err
		}
		if err := j.removeLookup(key, v); err != nil {
			return err
		}
	case sluice.OpTruncate:
		err := j.st.scan([]byte{spaceLookup}, v, func(rest, _ []byte) (bool, error) {
			return true, j.st.put(j.batch, spaceLookup, bytes.Clone(rest), v, nil)
		})
		if err != nil {
			return err
		}
	}
	return j.commit()
}

// removeLookup writes a tombstone for key at v.
func (j *Join) removeLookup(key []byte, v version) error {
	prevSh, prev, err := j.stored(spaceLookup, key, v.prev())
	if err != nil {
		return err
	}
	if err := j.st.put(j.batch, spaceLookup, key, v, nil); err != nil {
		return err
	}
	if j.reemit && prev != nil {
		j.pending.add(key, prev, prevSh, nil, 0)
	}
	return nil
}

func sameRow(ash uint64, a sluice.Row, bsh uint64, b sluice.Row) bool {
	if (a == nil) != (b == nil) || ash != bsh || len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

// structOf is the struct value of a stored lookup row of shape sh, laid
// out as the current lookup shape: fields matched by name, those the
// row does not have are null.
func (j *Join) structOf(sh uint64, row sluice.Row) (sluice.Value, error) {
	if row == nil {
		return sluice.Value{Kind: sluice.KindNull}, nil
	}
	cur := j.lookupShape
	if cur == nil || sh == cur.id {
		return sluice.Value{Kind: sluice.KindPresent, Elems: row}, nil
	}
	from, err := j.shapeByID(sh)
	if err != nil {
		return sluice.Value{}, err
	}
	elems := make([]sluice.Value, len(cur.Cols))
	for f := range cur.Cols {
		if i := from.table.Index(cur.Cols[f].Name); i >= 0 && i < len(row) {
			elems[f] = row[i]
		}
	}
	return sluice.Value{Kind: sluice.KindPresent, Elems: elems}, nil
}
