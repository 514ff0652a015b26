package kafka

import (
	"errors"

	"github.com/valyala/fastjson"
)

// sourceReader reads the source block's fields sluice uses. Its strings
// are the same for most records of a topic, so the last ones are kept
// and reused instead of being copied out of every record.
type sourceReader struct {
	last  [8]string
	epoch string // the last epochOf
}

// str returns b as a string, the one kept in slot i when they are equal.
func (r *sourceReader) str(i int, b []byte) string {
	if r.last[i] != string(b) {
		r.last[i] = string(b)
	}
	return r.last[i]
}

// epochOf is the default epoch connector/name, made again only when
// they change.
func (r *sourceReader) epochOf(connector, name string) string {
	e := r.epoch
	if len(e) != len(connector)+1+len(name) || e[:len(connector)] != connector || e[len(connector)] != '/' || e[len(connector)+1:] != name {
		r.epoch = connector + "/" + name
	}
	return r.epoch
}

// read reads the source block v into s. One pass over its fields: a
// lookup by name scans the object from its start, and the ~17 lookups
// of every record cost more than parsing the block. Each field is read
// as fastjson's Get* read it (the wrong type reads as zero, the first of
// duplicate names counts).
func (r *sourceReader) read(v *fastjson.Value, s *sourceInfo) error {
	if v == nil || v.Type() != fastjson.TypeObject {
		return errors.New("no source block")
	}
	o, _ := v.Object()
	var seen uint32
	var connector, name, db, schema, table, snapshot, file, gtid []byte
	*s = sourceInfo{}
	o.Visit(func(k []byte, f *fastjson.Value) {
		i := sourceField(k)
		if i < 0 || seen&(1<<i) != 0 {
			return
		}
		seen |= 1 << i
		switch i {
		case fConnector:
			connector = f.GetStringBytes()
		case fName:
			name = f.GetStringBytes()
		case fDB:
			db = f.GetStringBytes()
		case fSchema:
			schema = f.GetStringBytes()
		case fTable:
			table = f.GetStringBytes()
		case fSnapshot:
			snapshot = f.GetStringBytes()
		case fTsMs:
			s.tsMs = f.GetInt64()
		case fTsUs:
			s.tsUs = f.GetInt64()
		case fLSN:
			s.lsn = f.GetUint64()
		case fTxID:
			s.txID = f.GetUint64()
		case fSequence:
			if seq := f.GetStringBytes(); len(seq) > 0 {
				s.seq0 = sequenceFirst(seq)
			}
		case fFile:
			file = f.GetStringBytes()
		case fPos:
			s.pos = f.GetUint64()
		case fRow:
			s.row = f.GetInt64()
		case fGTID:
			gtid = f.GetStringBytes()
		case fServerID:
			s.serverID = uint32(f.GetUint64())
		case fThread:
			s.thread = f.GetUint64()
		}
	})
	s.connector = r.str(0, connector)
	s.name = r.str(1, name)
	s.epoch = r.epochOf(s.connector, s.name)
	s.db = r.str(2, db)
	s.schema = r.str(3, schema)
	s.table = r.str(4, table)
	s.snapshot = r.str(5, snapshot)
	s.file = r.str(6, file)
	s.gtid = r.str(7, gtid)
	return nil
}

// The source block's fields sluice reads, as numbered by sourceField.
const (
	fConnector = iota
	fName
	fDB
	fSchema
	fTable
	fSnapshot
	fTsMs
	fTsUs
	fLSN
	fTxID
	fSequence
	fFile
	fPos
	fRow
	fGTID
	fServerID
	fThread
)

// sourceField numbers a source block field name; -1 for the others.
func sourceField(k []byte) int {
	switch string(k) {
	case "connector":
		return fConnector
	case "name":
		return fName
	case "db":
		return fDB
	case "schema":
		return fSchema
	case "table":
		return fTable
	case "snapshot":
		return fSnapshot
	case "ts_ms":
		return fTsMs
	case "ts_us":
		return fTsUs
	case "lsn":
		return fLSN
	case "txId":
		return fTxID
	case "sequence":
		return fSequence
	case "file":
		return fFile
	case "pos":
		return fPos
	case "row":
		return fRow
	case "gtid":
		return fGTID
	case "server_id":
		return fServerID
	case "thread":
		return fThread
	}
	return -1
}

// sequenceFirst reads the first element of PostgreSQL's source.sequence,
// the JSON text ["<last commit LSN>","<LSN>"]; 0 when it is null or
// unreadable. Read by hand: it is on every record.
func sequenceFirst(seq []byte) uint64 {
	if len(seq) < 3 || seq[0] != '[' || seq[1] != '"' {
		return 0
	}
	var n uint64
	for _, c := range seq[2:] {
		if c == '"' {
			return n
		}
		d := uint64(c - '0')
		if c < '0' || c > '9' || n > (1<<64-1-d)/10 {
			return 0
		}
		n = n*10 + d
	}
	return 0
}
