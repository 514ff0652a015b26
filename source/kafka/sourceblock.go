package kafka

import (
	"errors"

	"github.com/valyala/fastjson"
)

// sourceReader reads the source block's fields sluice uses. Its strings
// are the same for most records of a topic, so the last ones are kept
// and reused instead of being copied out of every record.
type sourceReader struct {
	last  [numStrings]string
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
	var strs [numStrings][]byte // the string fields, by number
	*s = sourceInfo{}
	o.Visit(func(k []byte, f *fastjson.Value) {
		i := sourceField(k)
		if i < 0 || seen&(1<<i) != 0 {
			return
		}
		seen |= 1 << i
		switch i {
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
		case fPos:
			s.pos = f.GetUint64()
		case fRow:
			s.row = f.GetInt64()
		case fServerID:
			s.serverID = uint32(f.GetUint64())
		case fThread:
			s.thread = f.GetUint64()
		default: // i < numStrings
			strs[i] = f.GetStringBytes()
		}
	})
	s.connector = r.str(fConnector, strs[fConnector])
	s.name = r.str(fName, strs[fName])
	s.epoch = r.epochOf(s.connector, s.name)
	s.db = r.str(fDB, strs[fDB])
	s.schema = r.str(fSchema, strs[fSchema])
	s.table = r.str(fTable, strs[fTable])
	s.snapshot = r.str(fSnapshot, strs[fSnapshot])
	s.file = r.str(fFile, strs[fFile])
	s.gtid = r.str(fGTID, strs[fGTID])
	return nil
}

// The source block's fields sluice reads, as numbered by sourceField:
// the strings first, numbered as sourceReader.last keeps them.
const (
	fConnector = iota
	fName
	fDB
	fSchema
	fTable
	fSnapshot
	fFile
	fGTID
	numStrings // the string fields above

	fTsMs = iota - 1
	fTsUs
	fLSN
	fTxID
	fSequence
	fPos
	fRow
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
