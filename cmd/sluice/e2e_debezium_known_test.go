package main

import "github.com/sluice-cdc/sluice/internal/testenv"

// knownDebeziumDiffs are the differences between sluice and Debezium
// Server 3.6.1 that TestDebeziumGolden accepts for now. Each is a real
// difference found in the recordings, with the package whose change
// removes it. None is the codec's: the codec's differences are fixed, not
// listed. Entries owned by "deliberate" are where sluice writes the
// correct value and Debezium does not (README "Debezium compatibility").
// An entry that stops matching fails the test, so the list only shrinks.
//
// Paths are testenv.RecordDiff paths; "value*" covers the value with and
// without Connect schemas ("value.source.txId", "value.payload.source.txId").
var knownDebeziumDiffs = []testenv.Known{
	// ---- PostgreSQL source (source/postgres)
	{Source: "postgres", Path: "value*.source.txId", Owner: "source/postgres",
		Why: "snapshot rows have txId null; Debezium writes the snapshot transaction's id (txid_current() of the exported snapshot)"},
	{Source: "postgres", Topic: "dbzpg.public.all_types", Path: "value*.source.sequence", Owner: "source/postgres",
		Why: `the first transaction streamed after the snapshot has a last-commit LSN (Position.PrevTxLSN != 0); Debezium's is null: "[null,\"<LSN>\"]"`},
	{Source: "postgres", Topic: "dbzpg.public.composite", Path: "key*", Owner: "source/postgres",
		Why: "Table.Key lists the key columns in column order (a, c); Debezium uses the primary key's order (c, a): PRIMARY KEY (c, a)"},
	{Source: "postgres", Topic: "dbzpg.public.composite", Path: "headers[*", Owner: "source/postgres",
		Why: "the __debezium.oldkey/newkey headers carry the key in column order, as Table.Key gives it (see the key entry)"},
	{Source: "postgres", Topic: "dbzpg.public.all_types", Path: "value*.after.c_char", Owner: "source/postgres",
		Why: `snapshot rows of char(4) lose their padding ("ab" for "ab  ", "" for "    "); streamed rows keep it, as Debezium does in both`},
	{Source: "postgres", Topic: "dbzpg.public.all_types", Path: "value*.after.c_inet", Owner: "source/postgres",
		Why: `the snapshot writes inet '::1' as "::1/128"; PostgreSQL's text form (and Debezium, and sluice's stream) is "::1"`},
	{Source: "postgres", Topic: "dbzpg.public.all_types", Path: "value*.after.c_date", Owner: "deliberate",
		Why: "snapshot rows of date infinity, -infinity and 0044-03-15 BC: Debezium's JDBC snapshot writes java.sql.Date artifacts " +
			"(-622191234, -625821272, and 44 AD: -703383); sluice writes what Debezium streams for the same values (-2147472692, -2147472691, -735160)"},
	{Source: "postgres", Topic: "dbzpg.public.all_types", Path: "value*.after.c_name", Owner: "deliberate",
		Why: "Debezium 3.6.1 writes null for every streamed value of a column of type name; sluice writes the value"},

	// ---- MariaDB source (source/mysql)
	{Source: "mariadb", Path: "value*.source.connector", Owner: "source/mysql",
		Why: `Source.Connector() is "mysql" for MariaDB too; Debezium's MariaDB connector writes "mariadb" (the codec then also names its schemas io.debezium.connector.mariadb.* and writes MariaDB's JSON columns as plain strings)`},
	{Source: "mariadb", Mode: "schemas", Path: "*.name", Owner: "source/mysql",
		Why: "Connect schema names io.debezium.connector.mysql.* instead of io.debezium.connector.mariadb.* (Source, SchemaChangeKey, SchemaChangeValue), from Connector()"},
	{Source: "mariadb", Mode: "schemas", Path: "value.schema.fields[*].fields[j].*", Owner: "source/mysql",
		Why: "MariaDB's JSON (a LONGTEXT) gets io.debezium.data.Json because Connector() says mysql; Debezium's MariaDB connector writes a plain string schema"},
	{Source: "mariadb", Path: "value*.source.server_id", Owner: "source/mysql",
		Why: "snapshot rows and snapshot DDL carry the server's server_id (1); Debezium writes 0 for what it did not read from the binlog"},
	{Source: "mariadb", Path: "value*.source.thread", Owner: "source/mysql",
		Why: "Binlog.Thread is the session id from the query event; Debezium's MariaDB connector writes thread null"},
	{Source: "mariadb", Topic: "dbzmaria", Path: "-record.ddl", Owner: "source/mysql",
		Why: "the snapshot emits no schema change events; Debezium writes SET character_set_server…, DROP TABLE IF EXISTS per table, " +
			"DROP/CREATE DATABASE, USE and SHOW CREATE TABLE per table, snapshot \"true\"; and Debezium writes DROP TABLE qualified (`dbz`.`created_later`)"},
	{Source: "mariadb", Topic: "dbzmaria", Path: "+record.ddl", Owner: "source/mysql",
		Why: "TRUNCATE is also emitted as a schema change event (Debezium: only op t on the table topic), and DROP TABLE keeps the statement as written"},
	{Source: "mariadb", Topic: "dbzmaria", Path: "value*.source.table", Owner: "source/mysql",
		Why: "schema change events have table null; Debezium names the table the statement changes (DDL carries no table)"},
	{Source: "mariadb", Topic: "dbzmaria", Path: "value*.tableChanges", Owner: "source/mysql",
		Why: "tableChanges is always empty: the DDL event carries no table structure (Debezium: type, id and the table's columns with jdbcType, typeName, length, position, …)"},
	{Source: "mariadb", Path: "value*.*.pt.*", Owner: "source/mysql",
		Why: `POINT columns have DBType "geometry" (kindName), so the codec writes Geometry; Debezium writes io.debezium.data.geometry.Point {x, y, wkb, srid} (the codec does for DBType "point")`},
	{Source: "mariadb", Mode: "schemas", Path: "value.schema.fields[*].fields[pt]*", Owner: "source/mysql",
		Why: "the POINT column's schema is Geometry instead of Point (see the pt values)"},
	{Source: "mariadb", Path: "value*.*.dtnn", Owner: "source/mysql",
		Why: "a zero DATE in a NOT NULL column becomes the epoch (0); Debezium writes the column's default (2000-01-01: 10957), which sluice.Column cannot carry"},
	{Source: "mariadb", Path: "value*.*.dtmnn", Owner: "source/mysql",
		Why: "a zero DATETIME in a NOT NULL column becomes the epoch (0); Debezium writes the column's default (946684800000)"},
	{Source: "mariadb", Mode: "schemas", Path: "value.schema.fields[*].fields[*].default", Owner: "source/mysql",
		Why: `column defaults are not in the schema (Debezium: "default":10957 for dtnn, "default":"x" for rid.note): sluice.Column has no default value`},
	{Source: "mariadb", Path: "value*.*.bn", Owner: "source/mysql",
		Why: "BINARY(4) values come from the binlog without their trailing zero bytes (0x00000000 → empty); Debezium pads to the column length (\"AAAAAA==\")"},
	{Source: "mariadb", Topic: "dbzmaria.dbz.all_types", Path: "value*.after.y", Owner: "source/mysql",
		Why: "YEAR 0 streamed is 0; Debezium writes 1900"},

	// ---- Kafka sink and pipeline (sink/kafka, pipeline)
	{Mode: "*", Topic: "*.trunc", Path: "+record.t", Owner: "sink/kafka",
		Why: "truncates are written although skipped_operations (default t) skips them: the sink does not ask codec.Encoder.Skips"},
	{Path: "headers", Owner: "sink/kafka",
		Why: "the tombstone after the delete half of a primary-key change has no __debezium.newkey header; Debezium puts it on the delete and on its tombstone"},
	{Topic: "*.nopk*", Path: "-record.tombstone", Owner: "sink/kafka",
		Why: "a delete of a row without key gets no tombstone; Debezium writes one with null key and null value"},
	{Mode: "transaction-metadata", Topic: "*.transaction", Path: "-topic", Owner: "sink/kafka",
		Why: "the transaction topic (BEGIN/END records) is not written: the sink needs the transaction boundaries (codec.TxTracker) and the last event of each transaction (marks do not reach sinks)"},
}
