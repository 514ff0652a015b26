package join

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/sluice-cdc/sluice"
)

// tableInfo is what the join resolved once per *sluice.Table (a new one
// comes with each schema change): where the key columns are, the shape
// of the rows it stores and the enriched table it makes.
type tableInfo struct {
	lookup *lookupTable // set when the table is the lookup table
	enrich *enrichTable // set once an event of the table was selected
}

// lookupTable is the lookup table's side: its join key and the
// projection the struct holds.
type lookupTable struct {
	key   []int // lookup column of each pair
	proj  []int // column of each struct field
	shape *shape
}

// enrichTable is an enriched table's side.
type enrichTable struct {
	t      *sluice.Table
	fk     []int // event column of each pair
	fkType []sluice.Type
	shape  *shape        // the table's description, for rows stored to re-emit
	out    *sluice.Table // t with the struct field, for outShape
	outFor uint64        // the lookup shape out was made for
}

func (j *Join) info(t *sluice.Table) (*tableInfo, error) {
	if in, ok := j.tables[t]; ok {
		return in, nil
	}
	in := &tableInfo{}
	if t.QualifiedName() == j.cfg.Lookup {
		lt, err := j.lookupInfo(t)
		if err != nil {
			return nil, err
		}
		in.lookup = lt
	}
	j.tables[t] = in
	return in, nil
}

// column finds a column by name: exactly, else ignoring case when only
// one matches (configuration keys are lower-cased by the loader).
func column(t *sluice.Table, name string) int {
	if i := t.Index(name); i >= 0 {
		return i
	}
	found := -1
	for i := range t.Columns {
		if strings.EqualFold(t.Columns[i].Name, name) {
			if found >= 0 {
				return -1
			}
			found = i
		}
	}
	return found
}

func (j *Join) lookupInfo(t *sluice.Table) (*lookupTable, error) {
	lt := &lookupTable{}
	for _, p := range j.pairs {
		i := column(t, p.lookup)
		if i < 0 {
			return nil, fmt.Errorf("join: lookup table %s has no column %q (on)", t.QualifiedName(), p.lookup)
		}
		lt.key = append(lt.key, i)
	}
	var cols []sluice.Column
	if len(j.cfg.Columns) == 0 {
		for i := range t.Columns {
			lt.proj = append(lt.proj, i)
		}
	} else {
		for _, name := range j.cfg.Columns {
			i := column(t, name)
			if i < 0 {
				return nil, fmt.Errorf("join: lookup table %s has no column %q (columns)", t.QualifiedName(), name)
			}
			lt.proj = append(lt.proj, i)
		}
	}
	for _, i := range lt.proj {
		c := t.Columns[i]
		c.Key = false
		cols = append(cols, c)
	}
	sh, err := j.addShape(t, cols, nil)
	if err != nil {
		return nil, err
	}
	lt.shape = sh
	if j.lookupShape == nil || j.lookupShape.id != sh.id {
		j.lookupShape = sh
		if err := j.st.setMeta("lookup-shape", binary.BigEndian.AppendUint64(nil, sh.id), false); err != nil {
			return nil, err
		}
	}
	return lt, nil
}

// addShape returns the shape of cols, storing it when new.
func (j *Join) addShape(t *sluice.Table, cols []sluice.Column, key []int) (*shape, error) {
	sh, b, err := newShape(t, cols, key)
	if err != nil {
		return nil, err
	}
	if old, ok := j.shapes[sh.id]; ok {
		return old, nil
	}
	if err := j.st.db.Set(shapeKey(sh.id), b, j.st.wo); err != nil {
		return nil, fmt.Errorf("join store: %w", err)
	}
	j.shapes[sh.id] = sh
	return sh, nil
}

// shapeByID returns a stored shape.
func (j *Join) shapeByID(id uint64) (*shape, error) {
	if sh, ok := j.shapes[id]; ok {
		return sh, nil
	}
	v, closer, err := j.st.db.Get(shapeKey(id))
	if err != nil {
		return nil, fmt.Errorf("join store: shape %x: %w", id, err)
	}
	sh, err := decodeShape(id, v)
	closer.Close()
	if err != nil {
		return nil, err
	}
	j.shapes[id] = sh
	return sh, nil
}

// loadLookupShape restores the struct's fields from the store.
func (j *Join) loadLookupShape() error {
	b, err := j.st.meta("lookup-shape")
	if err != nil || len(b) != 8 {
		return err
	}
	sh, err := j.shapeByID(binary.BigEndian.Uint64(b))
	if err != nil {
		return err
	}
	j.lookupShape = sh
	return nil
}

func (j *Join) enrichInfo(in *tableInfo, t *sluice.Table) (*enrichTable, error) {
	if in.enrich != nil {
		return in.enrich, nil
	}
	et := &enrichTable{t: t}
	for _, p := range j.pairs {
		i := column(t, p.event)
		if i < 0 {
			return nil, fmt.Errorf("join: table %s has no column %q (on)", t.QualifiedName(), p.event)
		}
		et.fk = append(et.fk, i)
		et.fkType = append(et.fkType, t.Columns[i].Type)
	}
	if column(t, j.cfg.As) >= 0 {
		return nil, fmt.Errorf("join: table %s already has a column %q: choose another name in as", t.QualifiedName(), j.cfg.As)
	}
	if j.reemit {
		if len(t.Key) == 0 {
			return nil, fmt.Errorf("join: table %s has no key: on_lookup_change: reemit needs one to know its rows", t.QualifiedName())
		}
		sh, err := j.addShape(t, t.Columns, t.Key)
		if err != nil {
			return nil, err
		}
		et.shape = sh
	}
	in.enrich = et
	return et, nil
}

// outTable returns et's table with the struct field of the current
// lookup shape.
func (j *Join) outTable(et *enrichTable) *sluice.Table {
	sh := j.lookupShape
	var id uint64
	var fields []sluice.Column
	if sh != nil {
		id, fields = sh.id, sh.Cols
	}
	if et.out != nil && et.outFor == id {
		return et.out
	}
	t := *et.t
	t.Columns = append(slices.Clip(slices.Clone(et.t.Columns)), sluice.Column{
		Name: j.cfg.As, Type: sluice.TypeStruct, DBType: j.structName(), Optional: true, Fields: fields,
	})
	et.out, et.outFor = &t, id
	return et.out
}

// structName is the struct's schema name: the lookup table's row
// schema's, as a Kafka sink with the pipeline's prefix names it.
func (j *Join) structName() string {
	prefix := j.env.TopicPrefix
	if prefix == "" {
		prefix = j.env.Pipeline
	}
	return prefix + "." + j.cfg.Lookup + ".Value"
}
