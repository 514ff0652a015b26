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
	{Source: "postgres", Topic: "dbzpg.public.all_types", Path: "value*.after.c_date", Owner: "deliberate",
		Why: "snapshot rows of date infinity, -infinity and 0044-03-15 BC: Debezium's JDBC snapshot writes java.sql.Date artifacts " +
			"(-622191234, -625821272, and 44 AD: -703383); sluice writes what Debezium streams for the same values (-2147472692, -2147472691, -735160)"},
	{Source: "postgres", Topic: "dbzpg.public.all_types", Path: "value*.after.c_name", Owner: "deliberate",
		Why: "Debezium 3.6.1 writes null for every streamed value of a column of type name; sluice writes the value"},

	// ---- Kafka sink and pipeline (sink/kafka, pipeline)
}
