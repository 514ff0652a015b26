package codec

import (
	"encoding/binary"
	"errors"
	"math"
	"math/big"
	"time"
	"unicode/utf8"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/codec/avro"
)

// Writing Avro straight from the row. Transcoding the JSON form (package
// avro) costs about three times what encoding the JSON does, so the
// values of the common kinds (integers, floats, precise decimals, text,
// binary, dates, times and instants) of a row event's before and after
// are written directly; every other value, and the source and
// transaction blocks, go through their JSON form and the transcoder, so
// that both ways write the same bytes (TestAvroDirect checks it).

// envelopePlan is where a row envelope's fields are in its Avro schema.
type envelopePlan struct {
	ok                           bool // the schema has Debezium's envelope layout
	before, after, source, tx    avro.Node
	op, tsMs, tsUs, tsNs         avro.Node
	rowFields                    []avro.Node // the Value record's fields, by column
	keyFields                    []avro.Node // the Key record's fields, by key column
	beforeNull, afterNull, tsNul int
	// srcKind is the source block written directly (srcPostgres or
	// srcMySQL; srcNone: transcoded), with its fields' null indexes in
	// srcNull (-1: not optional).
	srcKind int
	srcNull [len(mysqlAvroSource)]int
	txNull  int
}

// The source blocks written directly.
const (
	srcNone = iota
	srcPostgres
	srcMySQL
)

// The source blocks' fields in order, and which are optional.
var (
	pgAvroSource = [...]string{"version", "connector", "name", "ts_ms", "snapshot", "db", "sequence", "ts_us", "ts_ns",
		"schema", "table", "txId", "lsn", "xmin", "origin", "origin_lsn"}
	pgAvroOptional    = [...]bool{false, false, false, false, true, false, true, true, true, false, false, true, true, true, true, true}
	mysqlAvroSource   = [...]string{"version", "connector", "name", "ts_ms", "snapshot", "db", "sequence", "ts_us", "ts_ns", "table", "server_id", "gtid", "file", "pos", "row", "thread", "query"}
	mysqlAvroOptional = [...]bool{false, false, false, false, true, false, true, true, true, true, false, true, false, false, false, true, true}
)

// planSource checks the source block's layout against the connector's.
func (p *envelopePlan) planSource(mysql bool) {
	names, optional, kind := pgAvroSource[:], pgAvroOptional[:], srcPostgres
	if mysql {
		names, optional, kind = mysqlAvroSource[:], mysqlAvroOptional[:], srcMySQL
	}
	if p.source.NumFields() != len(names) {
		return
	}
	for i, want := range names {
		n, name := p.source.Field(i)
		if name != want || (n.NullIndex() >= 0) != optional[i] {
			return
		}
		p.srcNull[i] = n.NullIndex()
	}
	p.srcKind = kind
}

// planEnvelope finds the envelope's fields; ok is false for another
// layout (the writer then transcodes the whole value).
func planEnvelope(t *sluice.Table, as *AvroSchemas, mysql bool) *envelopePlan {
	p := &envelopePlan{}
	root := as.Value.Root()
	names := []string{"before", "after", "source", "transaction", "op", "ts_ms", "ts_us", "ts_ns"}
	if root.NumFields() != len(names) {
		return p
	}
	nodes := make([]avro.Node, len(names))
	for i, want := range names {
		n, name := root.Field(i)
		if name != want {
			return p
		}
		nodes[i] = n
	}
	p.before, p.after, p.source, p.tx, p.op, p.tsMs, p.tsUs, p.tsNs = nodes[0], nodes[1], nodes[2], nodes[3], nodes[4], nodes[5], nodes[6], nodes[7]
	if p.before.NullIndex() < 0 || p.after.NullIndex() < 0 || p.before.NumFields() != len(t.Columns) {
		return p
	}
	for i := range t.Columns {
		n, name := p.after.Field(i)
		if name != t.Columns[i].Name {
			return p
		}
		p.rowFields = append(p.rowFields, n)
	}
	key := as.Key.Root()
	if key.NumFields() == len(t.Key) {
		for i, idx := range t.Key {
			n, name := key.Field(i)
			if name != t.Columns[idx].Name {
				p.keyFields = nil
				break
			}
			p.keyFields = append(p.keyFields, n)
		}
	}
	p.beforeNull, p.afterNull, p.tsNul = p.before.NullIndex(), p.after.NullIndex(), p.tsMs.NullIndex()
	p.ok = p.tsMs.NullIndex() >= 0 && p.tsUs.NullIndex() == p.tsNul && p.tsNs.NullIndex() == p.tsNul && p.op.NullIndex() < 0
	p.txNull = p.tx.NullIndex()
	if utf8.ValidString(t.DB) && utf8.ValidString(t.Schema) && utf8.ValidString(t.Name) {
		p.planSource(mysql) // names as they are: the JSON form would replace what is not UTF-8
	}
	return p
}

// AvroDirect reports whether AppendAvroValue writes ev straight from its
// rows, so that a sink need not write its JSON value first.
func AvroDirect(ev *sluice.Event) bool { return rowEvent(ev) }

// rowEvent reports whether ev is a plain row event (not a message, a
// schema change, unwrapped or routed through the outbox).
func rowEvent(ev *sluice.Event) bool {
	return ev.Table != nil && !Unwrapped(ev) && !Outboxed(ev) &&
		(ev.Op == sluice.OpCreate || ev.Op == sluice.OpUpdate || ev.Op == sluice.OpDelete || ev.Op == sluice.OpRead || ev.Op == sluice.OpTruncate)
}

// AppendAvroKey appends the Avro body of ev's key (as AppendKey writes
// it) to dst; scratch is a buffer for values that go through their JSON.
// ok is false when the event has no key.
func (e *Encoder) AppendAvroKey(dst []byte, ev *sluice.Event, as *AvroSchemas, scratch *[]byte) (out []byte, ok bool, err error) {
	p := as.plan
	row := ev.After
	if row == nil {
		row = ev.Before
	}
	if p == nil || p.keyFields == nil || !rowEvent(ev) || ev.Op == sluice.OpTruncate || len(ev.Table.Key) == 0 || row == nil || ev.Route != nil && ev.Route.KeyField != "" {
		js, ok := e.AppendKey((*scratch)[:0], ev)
		*scratch = js
		if !ok {
			return dst, false, nil
		}
		dst, err = as.Key.Append(dst, js)
		return dst, true, err
	}
	f := e.frags(ev.Table)
	snap := ev.Op == sluice.OpRead
	for i, idx := range ev.Table.Key {
		v := &sluice.Value{Kind: sluice.KindNull}
		if idx < len(row) {
			v = &row[idx]
		}
		if dst, err = e.avroColumn(dst, &ev.Table.Columns[idx], &f.plans[idx], v, p.keyFields[i], snap, scratch); err != nil {
			return dst, true, err
		}
	}
	return dst, true, nil
}

// AppendAvroValue appends the Avro body of ev's value (as AppendValueAt
// writes it) to dst; scratch is a buffer for what goes through JSON.
func (e *Encoder) AppendAvroValue(dst []byte, ev *sluice.Event, now time.Time, as *AvroSchemas, scratch *[]byte) ([]byte, error) {
	if e.opt.Clock != nil {
		now = e.opt.Clock()
	}
	p := as.plan
	if p == nil || !p.ok || !rowEvent(ev) {
		js := e.appendValue((*scratch)[:0], ev, now)
		*scratch = js
		return as.Value.Append(dst, js)
	}
	var err error
	snap := ev.Op == sluice.OpRead
	for _, img := range []struct {
		row  sluice.Row
		null int
	}{{ev.Before, p.beforeNull}, {ev.After, p.afterNull}} {
		if img.row == nil {
			dst = avro.AppendLong(dst, int64(img.null))
			continue
		}
		dst = avro.AppendLong(dst, int64(1-img.null))
		if dst, err = e.avroRow(dst, ev.Table, img.row, p.rowFields, snap, scratch); err != nil {
			return dst, err
		}
	}
	switch {
	case p.srcKind == srcPostgres && !e.mysql:
		dst = e.avroPgSource(dst, ev, p, scratch)
	case p.srcKind == srcMySQL && e.mysql && validBinlog(ev.Binlog):
		dst = e.avroMySQLSource(dst, ev, p)
	default:
		*scratch = e.appendSource((*scratch)[:0], ev)
		if dst, err = p.source.Append(dst, *scratch); err != nil {
			return dst, err
		}
	}
	if (!e.opt.TransactionMetadata || !inTx(ev)) && p.txNull >= 0 {
		dst = avro.AppendLong(dst, int64(p.txNull))
	} else {
		*scratch = e.appendTransaction((*scratch)[:0], ev)
		if dst, err = p.tx.Append(dst, *scratch); err != nil {
			return dst, err
		}
	}
	dst = append(dst, 2, byte(ev.Op)) // a one-byte string
	ns := unixNanos(now)
	for _, v := range [3]int64{ns / 1e6, ns / 1e3, ns} {
		dst = avro.AppendLong(dst, int64(1-p.tsNul))
		dst = avro.AppendLong(dst, v)
	}
	return dst, nil
}

// avroRow writes a row's columns as the fields of its Value record.
func (e *Encoder) avroRow(dst []byte, t *sluice.Table, row sluice.Row, fields []avro.Node, snap bool, scratch *[]byte) ([]byte, error) {
	f := e.frags(t)
	var err error
	for i := range t.Columns {
		v := &missing
		if i < len(row) {
			v = &row[i]
		}
		if v.Kind == sluice.KindUnchanged && e.opt.Toast == ToastOmit {
			// Left out of the JSON: the transcoder writes null.
			if fields[i].NullIndex() < 0 {
				return dst, errors.New("avro: an omitted unchanged column that is not optional")
			}
			dst = avro.AppendLong(dst, int64(fields[i].NullIndex()))
			continue
		}
		if dst, err = e.avroColumn(dst, &t.Columns[i], &f.plans[i], v, fields[i], snap, scratch); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// avroColumn writes one column's value of type n: directly for the common
// kinds, else through its JSON form.
func (e *Encoder) avroColumn(dst []byte, c *sluice.Column, p *colPlan, v *sluice.Value, n avro.Node, snap bool, scratch *[]byte) ([]byte, error) {
	null := n.NullIndex()
	if v.Kind == sluice.KindNull && null >= 0 {
		return avro.AppendLong(dst, int64(null)), nil
	}
	if v.Kind == sluice.KindPresent {
		mark := len(dst)
		if null >= 0 {
			dst = avro.AppendLong(dst, int64(1-null))
		}
		if out, ok := e.avroDirect(dst, c, p, v, snap, scratch); ok {
			return out, nil
		}
		dst = dst[:mark]
	}
	*scratch = e.appendColumn((*scratch)[:0], c, p, v, snap)
	return n.Append(dst, *scratch)
}

// avroDirect writes the present value v without its JSON form, when its
// kind allows; ok is false otherwise.
func (e *Encoder) avroDirect(dst []byte, c *sluice.Column, p *colPlan, v *sluice.Value, snap bool, scratch *[]byte) ([]byte, bool) {
	switch p.kind {
	case kBool:
		if v.Int != 0 {
			return append(dst, 1), true
		}
		return append(dst, 0), true
	case kInt, kTimeMicro, kTimestampMicro, kIntervalMicro:
		return avro.AppendLong(dst, v.Int), true
	case kFloat32:
		return binary.LittleEndian.AppendUint32(dst, math.Float32bits(float32(v.Float))), true
	case kFloat64:
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(v.Float)), true
	case kDecimal:
		if e.opt.Decimal != DecimalPrecise || c.Scale < 0 || isSpecialDecimal(v.Bytes) {
			return dst, false
		}
		var small [8]byte
		b, _, ok := unscaledSmall(&small, v.Bytes, c.Scale)
		if !ok {
			var u *big.Int
			u, _ = unscaledDecimal(v.Bytes, c.Scale)
			b = twosComplement(u)
		}
		dst = avro.AppendLong(dst, int64(len(b)))
		return append(dst, b...), true
	case kString:
		if !utf8.Valid(v.Bytes) {
			return dst, false // the JSON form replaces what is not UTF-8
		}
		dst = avro.AppendLong(dst, int64(len(v.Bytes)))
		return append(dst, v.Bytes...), true
	case kBytes:
		if e.opt.Binary != BinaryBytes {
			return dst, false
		}
		dst = avro.AppendLong(dst, int64(len(v.Bytes)))
		return append(dst, v.Bytes...), true
	case kDate:
		if v.Int == sluice.InfinityPos || v.Int == sluice.InfinityNeg {
			return dst, false
		}
		return avro.AppendLong(dst, v.Int), true
	case kTimeMilli:
		return avro.AppendLong(dst, floorDiv(v.Int, 1000)), true
	case kTimestampMilli:
		if v.Int == sluice.InfinityPos || v.Int == sluice.InfinityNeg {
			return dst, false
		}
		return avro.AppendLong(dst, floorDiv(v.Int, 1000)), true
	case kZoned:
		prec := p.prec
		if snap {
			prec = p.zonedSnap
		}
		s := appendZoned((*scratch)[:0], v.Int, int(prec))
		*scratch = s
		if len(s) < 2 || s[0] != '"' {
			return dst, false
		}
		dst = avro.AppendLong(dst, int64(len(s)-2))
		return append(dst, s[1:len(s)-1]...), true
	}
	return dst, false
}

// validBinlog reports whether b's strings are written as they are (the
// JSON form would replace what is not UTF-8).
func validBinlog(b *sluice.Binlog) bool {
	return b == nil || utf8.ValidString(b.GTID) && utf8.ValidString(b.File)
}

// srcWriter writes a source block's fields into Avro: strings, and the
// union branch of an optional field (its index in the connector's field
// list) before its value or as its null.
type srcWriter struct{ p *envelopePlan }

func (srcWriter) str(dst []byte, s string) []byte {
	dst = avro.AppendLong(dst, int64(len(s)))
	return append(dst, s...)
}

func (w srcWriter) some(dst []byte, i int) []byte {
	return avro.AppendLong(dst, int64(1-w.p.srcNull[i]))
}

func (w srcWriter) none(dst []byte, i int) []byte {
	return avro.AppendLong(dst, int64(w.p.srcNull[i]))
}

// optLong writes optional field i: v, or null when v is 0.
func (w srcWriter) optLong(dst []byte, i int, v int64) []byte {
	if v == 0 {
		return w.none(dst, i)
	}
	return avro.AppendLong(w.some(dst, i), v)
}

// head writes what both connectors' source blocks share: version,
// connector, name, ts_ms, snapshot and db; sequence is the caller's, and
// tail then writes ts_us and ts_ns.
func (w srcWriter) head(dst []byte, e *Encoder, ev *sluice.Event) []byte {
	dst = w.str(dst, Version)
	dst = w.str(dst, e.opt.Connector)
	dst = w.str(dst, e.opt.Name)
	dst = avro.AppendLong(dst, floorDiv(unixNanos(ev.CommitTime), 1e6))
	dst = w.some(dst, 4)
	dst = w.str(dst, ev.Snapshot.String())
	return w.str(dst, ev.Table.DB)
}

func (w srcWriter) tail(dst []byte, ev *sluice.Event) []byte {
	ns := unixNanos(ev.CommitTime)
	dst = avro.AppendLong(w.some(dst, 7), floorDiv(ns, 1e3))
	return avro.AppendLong(w.some(dst, 8), ns)
}

// avroPgSource writes PostgreSQL's source block as appendSource's JSON
// transcoded would be.
func (e *Encoder) avroPgSource(dst []byte, ev *sluice.Event, p *envelopePlan, scratch *[]byte) []byte {
	w := srcWriter{p}
	dst = w.head(dst, e, ev)
	// sequence: the JSON text ["<previous commit LSN>","<LSN>"]
	seq := append((*scratch)[:0], '[')
	if ev.Op == sluice.OpRead || ev.Pos.PrevTxLSN == 0 {
		seq = append(seq, "null"...)
	} else {
		seq = append(seq, '"')
		seq = appendUint(seq, ev.Pos.PrevTxLSN)
		seq = append(seq, '"')
	}
	seq = append(seq, ',', '"')
	seq = appendUint(seq, ev.Pos.LSN)
	seq = append(seq, '"', ']')
	*scratch = seq
	dst = avro.AppendLong(w.some(dst, 6), int64(len(seq)))
	dst = append(dst, seq...)
	dst = w.tail(dst, ev)
	dst = w.str(dst, ev.Table.Schema)
	dst = w.str(dst, ev.Table.Name)
	dst = w.optLong(dst, 11, int64(ev.TxID))
	dst = w.optLong(dst, 12, int64(ev.Pos.LSN))
	dst = w.none(dst, 13)  // xmin
	dst = w.none(dst, 14)  // origin
	return w.none(dst, 15) // origin_lsn
}

// avroMySQLSource writes MySQL's source block as appendMySQLSource's
// JSON transcoded would be (for a table's row events).
func (e *Encoder) avroMySQLSource(dst []byte, ev *sluice.Event, p *envelopePlan) []byte {
	w := srcWriter{p}
	dst = w.head(dst, e, ev)
	dst = w.none(dst, 6) // sequence
	dst = w.tail(dst, ev)
	dst = w.str(w.some(dst, 9), ev.Table.Name)
	b := ev.Binlog
	if b == nil {
		b = &noBinlog
	}
	dst = avro.AppendLong(dst, int64(b.ServerID))
	if b.GTID != "" {
		dst = w.str(w.some(dst, 11), b.GTID)
	} else {
		dst = w.none(dst, 11)
	}
	dst = w.str(dst, b.File)
	dst = avro.AppendLong(dst, int64(ev.Pos.LSN&0xffffffff))
	dst = avro.AppendLong(dst, int64(ev.Row))
	dst = w.optLong(dst, 15, int64(b.Thread))
	return w.none(dst, 16) // query
}
