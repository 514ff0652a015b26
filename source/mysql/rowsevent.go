package mysql

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/sluice-cdc/sluice"
)

// undecoded is what headerOnly leaves in a rows event's Rows: the event's
// body and where its row images start.
type undecoded struct {
	body []byte
	pos  int
}

// undecodedRows is a rows event's Rows as headerOnly leaves them, in one
// allocation instead of three (a rows event per row of every single-row
// transaction): rows[0] is row, and row[0] points to u.
type undecodedRows struct {
	u    undecoded
	row  [1]any
	rows [1][]any
}

// headerOnly is the syncer's RowsEventDecodeFunc: it parses the header of
// a rows event (table id, flags, bitmaps, table map) and leaves the row
// images to the stream, which reads only those of captured tables.
func headerOnly(e *replication.RowsEvent, data []byte) error {
	pos, err := e.DecodeHeader(data)
	if err != nil {
		return err
	}
	r := &undecodedRows{u: undecoded{body: data, pos: pos}}
	r.row[0] = &r.u
	r.rows[0] = r.row[:]
	e.Rows = r.rows[:]
	return nil
}

// undecodedOf returns what headerOnly left in e, if it did.
func undecodedOf(e *replication.RowsEvent) (undecoded, bool) {
	if len(e.Rows) != 1 || len(e.Rows[0]) != 1 {
		return undecoded{}, false
	}
	u, ok := e.Rows[0][0].(*undecoded)
	if !ok {
		return undecoded{}, false
	}
	return *u, true
}

// images returns the row images of e, a rows event of rel's table: read
// by the row decoder where it reads every column, else decoded by go-mysql
// (MySQL's partial JSON updates, the types nativeWire leaves out, and
// events go-mysql decoded itself) and converted. The slice is reused by
// the next event; the rows are not.
func (st *stream) images(h *replication.EventHeader, rel *relation, e *replication.RowsEvent) ([]sluice.Row, error) {
	st.imgs = st.imgs[:0]
	if u, ok := undecodedOf(e); ok {
		var data []byte
		if compressedRows(h.EventType) {
			// go-mysql 1.12 misreads these (it decompresses the images but
			// reads them from the header's offset): they are decompressed
			// here, and only the row decoder reads them.
			if !rel.native {
				return nil, errors.New("compressed rows event of a table with MySQL JSON or VECTOR columns")
			}
			var err error
			if data, err = mysql.DecompressMariadbData(u.body[u.pos:]); err != nil {
				return nil, fmt.Errorf("decompress rows event: %w", err)
			}
		} else {
			// The values' bytes then live in one buffer of the stream's
			// own, not in go-mysql's event.
			data = bytes.Clone(u.body[u.pos:])
		}
		if rel.native && h.EventType != replication.PARTIAL_UPDATE_ROWS_EVENT {
			var err error
			st.imgs, err = decodeImages(rel, e, data, st.imgs)
			return st.imgs, err
		}
		e.Rows = nil
		if err := e.DecodeData(u.pos, u.body); err != nil {
			return nil, err
		}
	}
	for i, r := range e.Rows {
		row, err := st.convert(rel, e, i, r)
		if err != nil {
			return nil, err
		}
		st.imgs = append(st.imgs, row)
	}
	return st.imgs, nil
}

// compressedRows reports whether rows events of type t are MariaDB's
// compressed ones (log_bin_compress).
func compressedRows(t replication.EventType) bool {
	switch t {
	case replication.MARIADB_WRITE_ROWS_COMPRESSED_EVENT_V1, replication.MARIADB_UPDATE_ROWS_COMPRESSED_EVENT_V1,
		replication.MARIADB_DELETE_ROWS_COMPRESSED_EVENT_V1:
		return true
	}
	return false
}

// convert turns one decoded row image into a row; columns the image
// leaves out (binlog_row_image other than FULL) are KindMissing.
func (st *stream) convert(rel *relation, e *replication.RowsEvent, img int, r []any) (sluice.Row, error) {
	cols := rel.table.Columns
	if len(r) != len(cols) {
		return nil, fmt.Errorf("row image has %d columns, table map %d", len(r), len(cols))
	}
	row := make(sluice.Row, len(cols))
	for i := range cols {
		v, err := rel.cols[i].fromBinlog(&cols[i], r[i])
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", cols[i].Name, err)
		}
		row[i] = v
	}
	if img < len(e.SkippedColumns) {
		for _, i := range e.SkippedColumns[img] {
			if i < len(row) {
				row[i].Kind = sluice.KindMissing
			}
		}
	}
	return row, nil
}
