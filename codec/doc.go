// Package codec turns events into Debezium-compatible JSON: the record key
// (the key columns as an object) and the value (the envelope with before,
// after, source, op, ts_ms/us/ns and transaction), optionally wrapped in
// Kafka Connect's schema/payload form. Consumers written for Debezium read
// it unchanged; where Debezium's defaults lose information (decimals,
// intervals, unchanged TOAST columns) the lossless choice is the default
// and Debezium's behaviour is an option.
//
// Encoding appends to caller-owned buffers and uses no reflection, so the
// per-event path allocates little.
package codec
