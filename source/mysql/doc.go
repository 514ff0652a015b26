// Package mysql is the MySQL and MariaDB source: it reads the server's row
// binlog as a replica would (github.com/go-mysql-org/go-mysql) and turns
// every committed row change into the same keyed change events the
// PostgreSQL source emits, with Debezium's MySQL source block.
//
// Three choices shape it:
//
//   - Schema from the binlog itself. With binlog_row_metadata=FULL every
//     table map event carries the column names, signedness, character
//     sets, ENUM/SET labels and primary key of the table as it was when
//     the row was written, so events decoded after an ALTER TABLE, or
//     after a restart that resumes before it, always carry the right
//     columns without a DDL parser or a schema history topic. The
//     information schema only refines what the binlog cannot say (MariaDB
//     JSON columns, which it stores as LONGTEXT; column defaults). Only
//     the tableChanges of schema change events, which describe what the
//     DDL declared, are read from DDL text: the snapshot's SHOW CREATE
//     TABLE, then each streamed statement applied to it (ddlstruct.go).
//   - Positions are stored after the sinks acknowledge, never at read
//     time: a file written atomically (default) or a compacted Kafka
//     topic. GTIDs are used when the server has them, file and offset
//     otherwise.
//   - The initial snapshot reads the tables in key order, in chunks,
//     inside one consistent-snapshot transaction whose binlog position
//     MariaDB reports without any lock (binlog_snapshot_file/position);
//     MySQL needs a short global read lock to read it.
package mysql
