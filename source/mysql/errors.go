package mysql

import (
	"errors"
	"fmt"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/sluice-cdc/sluice"
)

// Errors reach the runner through Run's return value. The runner retries
// all but permanent ones (sluice.IsPermanent) with backoff, and a retry
// starts over from the stored offset. Every error the source makes starts
// with "mysql source:" (errors of the emit callback and sluice.ErrDone
// pass through as they are); helpers below Run (value conversion, the offset
// stores, DSN parsing) return bare messages that their callers wrap once,
// with that prefix or, for configuration, with the key path
// ("source.dsn: …").
//
// Permanent: what the precondition checks in setup.go refuse (binlog
// settings, server_id, grants, missing or unreadable tables), each with
// its fix; a stored binlog file the server no longer has (Run) or cannot
// send (classifyDumpError); a stored GTID set that does not parse
// (offsetPosition); an empty SHOW MASTER STATUS (currentPosition); a
// table map without column names (stream.tableMap).
// Everything else is retried: lost connections, including the stall
// guard's "no binlog event or heartbeat" (stall.go), and offset store
// failures.

// errZero is what parseDate (and parseDatetime through it) returns for a
// date with a zero month or day, such as MySQL's 0000-00-00. It never
// leaves the package: colInfo.parse turns it into null, or into the epoch
// in a NOT NULL column (colInfo.zero), as Debezium does.
var errZero = errors.New("zero date")

// classifyDumpError classifies an error of the binlog dump
// (BinlogStreamer.GetEvent), which stream.run and so Run return. The
// server's refusal to read the binlog at the requested position
// (ER_MASTER_FATAL_ERROR_READING_BINLOG, in practice a purged position:
// Run checks the file before the dump, but a GTID position or a file purged
// after that check is only noticed here) is permanent and says how to
// recover, since a retry would ask for the same position. Anything else,
// such as a dropped connection, is retried.
func classifyDumpError(err error) error {
	var me *mysql.MyError
	if errors.As(err, &me) && me.Code == mysql.ER_MASTER_FATAL_ERROR_READING_BINLOG {
		return sluice.Permanent(fmt.Errorf("mysql source: the server cannot send the stored binlog position (%s); it was probably purged: "+
			"set snapshot.mode to when_needed to take a new snapshot, or delete the stored offset: %w", me.Message, err))
	}
	return fmt.Errorf("mysql source: binlog stream: %w", err)
}
