package mysql

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// Every transaction repeats the table maps of the tables it changes, and
// a table map's optional metadata (column names, character sets, enum
// labels, the primary key) is what costs to decode. The replication
// client decodes a table map without it (skipOptionalMeta); the stream
// compares the event's bytes with those the table id's relation was built
// from, and decodes the event whole, again, only when they differ.

// skipOptionalMeta leaves a table map's optional metadata undecoded.
func skipOptionalMeta([]byte) error { return nil }

// relMap is what the stream knows about a table id from its last table
// map event.
type relMap struct {
	body   []byte    // the table map event's body the relation was built from
	rel    *relation // nil when the table is not captured
	signal bool      // the signal table: rows are signals
}

// format records the binlog's format description event: table maps are
// decoded again against it.
func (st *stream) format(raw []byte, e *replication.FormatDescriptionEvent) {
	st.fde = bytes.Clone(raw)
	st.crc = e.ChecksumAlgorithm == replication.BINLOG_CHECKSUM_ALG_CRC32
}

// tableMapBody is the part of a raw table map event that describes the
// table: the bytes after the common header, without the checksum. nil
// when raw is not a whole event.
func (st *stream) tableMapBody(raw []byte) []byte {
	end := len(raw)
	if st.crc {
		end -= replication.BinlogChecksumLength
	}
	if end <= replication.EventHeaderSize {
		return nil
	}
	return raw[replication.EventHeaderSize:end]
}

// decodeTableMap decodes the raw table map event whole, optional metadata
// included, by a parser of its own that saw the format description first.
func (st *stream) decodeTableMap(raw []byte) (*replication.TableMapEvent, error) {
	if st.fde == nil {
		return nil, errors.New("table map event before the binlog's format description event")
	}
	p := replication.NewBinlogParser()
	p.SetFlavor(st.srv.flavor)
	if _, err := p.Parse(st.fde); err != nil {
		return nil, fmt.Errorf("format description event: %w", err)
	}
	ev, err := p.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("table map event: %w", err)
	}
	e, ok := ev.Event.(*replication.TableMapEvent)
	if !ok {
		return nil, fmt.Errorf("table map event decoded as %T", ev.Event)
	}
	return e, nil
}

// tableMap records the description of table id from its raw table map
// event, rebuilding it, from the event decoded whole, only when the event
// differs from the last map of that id.
func (st *stream) tableMap(raw []byte, id uint64) error {
	body := st.tableMapBody(raw)
	if m := st.rels[id]; m != nil && body != nil && bytes.Equal(m.body, body) {
		return nil
	}
	e, err := st.decodeTableMap(raw)
	if err != nil {
		return sluice.Permanent(fmt.Errorf("mysql source: %w", err))
	}
	name := string(e.Schema) + "." + string(e.Table)
	m := &relMap{body: bytes.Clone(body)}
	st.rels[id] = m
	m.signal = st.signal != "" && name == st.signal
	if !st.tables[name] && !m.signal {
		return nil
	}
	ref, ok := st.refCache[name]
	if !ok {
		if ref, err = refine(st.conn, string(e.Schema), string(e.Table), st.srv.flavor == mysql.MariaDBFlavor); err != nil {
			return err
		}
		st.refCache[name] = ref
	}
	rel, err := buildRelation(e, ref, func(c uint64) string { return st.srv.collations[c] })
	if err != nil {
		return sluice.Permanent(fmt.Errorf("mysql source: %w", err))
	}
	m.rel = rel
	st.log.Debug("table map", zap.String("table", name), zap.Int("columns", len(rel.table.Columns)))
	return nil
}
