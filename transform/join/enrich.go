package join

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/sluice-cdc/sluice"
)

// enrich adds the struct to ev's rows, reading the lookup row as of ev's
// own version, and with reemit keeps the row and its reverse index entry.
func (j *Join) enrich(ev *sluice.Event, in *tableInfo) (bool, error) {
	if !j.match.Match(ev) {
		return true, nil
	}
	et, err := j.enrichInfo(in, ev.Table)
	if err != nil {
		return false, err
	}
	v := versionOf(ev)
	t := ev.Table
	var after, before sluice.Value
	var afterKey []byte
	found := true
	if ev.After != nil {
		var ok bool
		after, afterKey, ok, err = j.lookupStruct(t, et, ev.After, v)
		if err != nil {
			return false, err
		}
		found = ok
	}
	if ev.Before != nil {
		var beforeKey []byte
		var ok bool
		if afterKey != nil && !missingIn(et.fk, ev.Before) {
			beforeKey, _, _ = j.keyOf(nil, t, et.fk, ev.Before)
		}
		if beforeKey != nil && bytes.Equal(beforeKey, afterKey) {
			before = after
		} else {
			before, _, ok, err = j.lookupStruct(t, et, ev.Before, v)
			if err != nil {
				return false, err
			}
			if ev.After == nil {
				found = ok
			}
		}
	}
	if j.reemit {
		if err := j.keepRow(ev, et, v); err != nil {
			return false, err
		}
	}
	if !found {
		j.stats.missing.Add(1)
		switch j.missing {
		case missingDrop:
			j.stats.dropped.Add(1)
			return false, nil
		case missingError:
			return false, fmt.Errorf("join: no row of %s matches (missing: error)", j.cfg.Lookup)
		}
	}
	j.stats.enriched.Add(1)
	ev.Table = j.outTable(et)
	ev.After = withField(ev.After, after)
	ev.Before = withField(ev.Before, before)
	return true, nil
}

// lookupStruct reads the lookup row row refers to, as of v. A key
// column absent from row (a key-only old image) gives a missing value,
// found; a NULL one no row.
func (j *Join) lookupStruct(t *sluice.Table, et *enrichTable, row sluice.Row, v version) (val sluice.Value, key []byte, found bool, err error) {
	if missingIn(et.fk, row) {
		return sluice.Value{Kind: sluice.KindMissing}, nil, true, nil
	}
	j.keyBuf, found, err = j.keyOf(j.keyBuf[:0], t, et.fk, row)
	if err != nil || !found {
		return sluice.Value{Kind: sluice.KindNull}, nil, false, err
	}
	sh, lrow, err := j.stored(spaceLookup, j.keyBuf, v)
	if err != nil {
		return val, nil, false, err
	}
	if lrow == nil {
		return sluice.Value{Kind: sluice.KindNull}, j.keyBuf, false, nil
	}
	val, err = j.structOf(sh, lrow)
	return val, j.keyBuf, true, err
}

// withField returns a new row: row and the struct after it.
func withField(row sluice.Row, v sluice.Value) sluice.Row {
	if row == nil {
		return nil
	}
	out := make(sluice.Row, len(row)+1)
	copy(out, row)
	out[len(row)] = v
	return out
}

// keepRow stores an enriched table's row (as the join received it) and
// its reverse index entry, so that a lookup change finds and re-emits it.
func (j *Join) keepRow(ev *sluice.Event, et *enrichTable, v version) error {
	t := ev.Table
	img := ev.After
	if ev.Op == sluice.OpDelete {
		img = ev.Before
	}
	if img == nil || missingIn(t.Key, img) {
		return nil
	}
	rowKey, ok, err := j.keyOf(nil, t, t.Key, img)
	if err != nil || !ok {
		return err
	}
	prevSh, prev, err := j.stored(spaceRows, rowKey, v.prev())
	if err != nil {
		return err
	}
	var prevFK []byte
	if prev != nil {
		if prevFK, err = j.storedFK(prevSh, prev, et); err != nil {
			return err
		}
	}
	if ev.Op == sluice.OpDelete {
		if err := j.st.put(j.batch, spaceRows, rowKey, v, nil); err != nil {
			return err
		}
		if prevFK != nil {
			if err := j.st.put(j.batch, spaceReverse, append(prevFK, rowKey...), v, nil); err != nil {
				return err
			}
		}
		return j.commit()
	}
	row := ev.After
	if prev != nil && prevSh == et.shape.id && slices.ContainsFunc(row, unchanged) {
		row = slices.Clone(row) // keep the stored value of an unchanged TOASTed column
		for i := range row {
			if unchanged(row[i]) && i < len(prev) {
				row[i] = prev[i]
			}
		}
	}
	if err := j.st.put(j.batch, spaceRows, rowKey, v, appendRow(nil, et.shape.id, row)); err != nil {
		return err
	}
	fk, fkOK, err := j.keyOf(nil, t, et.fk, row)
	if err != nil {
		return err
	}
	if !fkOK {
		fk = nil
	}
	if prevFK != nil && !bytes.Equal(prevFK, fk) {
		if err := j.st.put(j.batch, spaceReverse, append(prevFK, rowKey...), v, nil); err != nil {
			return err
		}
	}
	if fk != nil && (prev == nil || !bytes.Equal(prevFK, fk)) {
		if err := j.st.put(j.batch, spaceReverse, append(fk, rowKey...), v, []byte{flagRow}); err != nil {
			return err
		}
	}
	return j.commit()
}

// storedFK is the join key of a stored row of shape sh: by et's
// columns when the row has et's shape (the table did not change since),
// else by the stored shape's columns of the same names; nil when it has
// none or one is NULL.
func (j *Join) storedFK(sh uint64, row sluice.Row, et *enrichTable) ([]byte, error) {
	t, cols := et.t, et.fk
	if sh != et.shape.id {
		s, err := j.shapeByID(sh)
		if err != nil {
			return nil, err
		}
		t, cols = s.table, make([]int, len(j.pairs))
		for n, p := range j.pairs {
			if cols[n] = column(t, p.event); cols[n] < 0 {
				return nil, nil
			}
		}
	}
	fk, ok, err := j.keyOf(nil, t, cols, row)
	if !ok {
		fk = nil
	}
	return fk, err
}

func unchanged(v sluice.Value) bool { return v.Kind == sluice.KindUnchanged }
