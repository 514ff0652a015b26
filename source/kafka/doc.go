// Package kafka is the source that reads change topics — written by
// sluice or by Debezium — and feeds any sink: the sink-connector half of
// a CDC architecture, so a search index is coupled to the topic instead
// of the database's replication slot. It can be rebuilt by replaying the
// topic, a second index needs no second slot, and teams that already run
// Debezium can use sluice's sinks.
//
// # Records
//
// Each record is one Debezium change event, JSON (with or without
// Connect schemas, told apart per record) or Avro through a schema
// registry. It becomes the sluice.Event a database source would have
// made: op, table (from the source block), key columns (from the record
// key), before and after with their types from the schema when there is
// one (io.debezium.time.Date becomes a date again, a Decimal its exact
// text) or guessed from the JSON values when not (infer.go), the unchanged
// TOAST placeholder as an unchanged value, the commit time and, for MySQL
// and MariaDB, the binlog coordinates. A key change arrives as Debezium
// writes it: a delete and a create. Tombstones, transaction metadata,
// heartbeats and schema change records are skipped. A record that is not
// a change event sluice can read goes to the dead-letter topic unchanged,
// with Kafka Connect's __connect.errors.* headers saying where it came
// from and why, and is never dropped silently.
//
// # Positions
//
// An event's position (Event.Pos.TxLSN, the version a search index
// orders changes by) is the source position it carries: the LSN for
// PostgreSQL, the binlog file and position for MySQL and MariaDB (see
// sourceInfo.version for why these grow per row in commit order). A
// replay of the topic from offset 0 therefore makes the same versions,
// and an index converges to the same documents however often it is
// replayed. One limit: a PostgreSQL transaction that wrote a row before
// the capture's snapshot point and committed after it carries an LSN
// below the snapshot's, so its change of that row orders before the
// snapshot's read of it (the capture's own Elasticsearch sink, which
// has the commit LSN, does not have this limit); quiesce writes while a
// capture's initial snapshot starts, or use the capture's own sink.
//
// # Delivery
//
// The group's offsets are committed only after every sink acknowledged
// every event before them: after each partition's records of a poll the
// source emits a mark, and the runner confirms a mark only when all
// events up to it are acknowledged (the same tracker as for database
// sources). Confirmed offsets are committed every commit_interval, when
// partitions are revoked, and on shutdown after the drain. A crash
// (kill -9) or a rebalance reads again at most what was not committed.
// Partitions are decoded in parallel, each in order; the order of one
// partition's events is kept. Scale-out and failover are the consumer
// group itself: processes with the same group share the partitions.
package kafka
