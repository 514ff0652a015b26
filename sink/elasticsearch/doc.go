// Package elasticsearch is the sink that keeps one Elasticsearch document
// per captured row, in sync within seconds and never going backwards,
// through replays and restarts.
//
// # Documents
//
// Each table maps to an index named by a template ({prefix}, {db},
// {schema}, {table}, or a fixed name or alias). A document is the row's
// columns as a JSON object (a columns transform chooses them; the old
// columns option is translated into one, see deprecated.go); its _id is
// the key: one key column as is, several joined with '|' where each part
// escapes '\' and '|' with a backslash (NULL is `\N`), which decodes
// uniquely, so different keys never share an id. Inserts, updates and
// snapshot reads index the row; deletes delete the document; a key
// change arrives as a delete of the old key and an insert of the new
// one. Rows of tables without a key, and ids over Elasticsearch's 512
// bytes, cannot be addressed and go to the dead-letter destination. See
// document.go for the value encodings and the derived mapping, created
// with the index the first time a table needs it (or a mapping file /
// index template).
//
// # Never backwards
//
// Every change carries its position in the source's commit order: the
// commit LSN of its transaction (Event.Pos.TxLSN) and its index in the
// transaction (Event.TxOrder). A replay (after a restart the stream resumes
// at the last confirmed transaction) produces the same positions.
//
//   - Index and delete actions use external versioning with
//     version = commit LSN and version_type=external_gte. Elasticsearch
//     refuses a change whose transaction committed before the one the
//     document holds (a 409, counted in Stats.VersionConflicts and
//     acknowledged), so a replayed older event never overwrites a newer
//     document. "gte" rather than "external" because one transaction may
//     change a document several times: those changes share the version and
//     must all apply, in order.
//   - In order within a transaction: the sink never has two bulk requests
//     in flight that touch the same document (a batch waits until the
//     earlier one is done), items of one document in one request are
//     applied in request order (same shard), and when an item is retried,
//     every later item of that document is sent again after it.
//   - Deletes beyond index.gc_deletes: Elasticsearch remembers a deleted
//     document's version only for index.gc_deletes (60 s), after which an
//     older replayed insert would be accepted and resurrect the row. So a
//     delete also writes a tombstone into the hidden state index, with its
//     exact position. Before sending a change that may be a replay, the
//     sink reads the tombstone and drops the change if the delete is newer.
//   - Which changes may be a replay: before sending anything, the sink
//     records per index a write-ahead high-water mark (the largest commit
//     LSN it is about to send, plus 64 MiB so it is written rarely).
//     After a restart, changes at or below the index's mark are checked
//     against tombstones (one _mget per bulk request); changes above it
//     cannot have been sent before, need no check and cost nothing.
//   - Truncates leave a truncate mark; changes from before it are dropped.
//
// Guarantee: after a change at position p has been acknowledged, the
// document never again shows a state from a transaction that committed
// before p's, and a deleted row never reappears because of an older
// change, whenever it is replayed. One limit remains: while a transaction
// that changed the same row several times is itself replayed, the document
// may briefly show one of that transaction's own intermediate states
// (Elasticsearch's version cannot tell changes of one transaction apart),
// until the replay reaches the transaction's last change of the row.
// Positions of different sources are not comparable: one source per index.
//
// # Partial updates
//
// PostgreSQL leaves unchanged TOASTed (large) values out of an update
// (KindUnchanged). Such an update must not wipe them, and Elasticsearch's
// partial update API cannot take an external version (its version would
// no longer be the commit LSN, breaking the ordering above). So the sink
// reads the stored document (one _mget per bulk request that has partial
// updates), copies the missing columns into the new document, and indexes
// it with the external version like any other change. This is exact
// because no other request for that document is in flight and an earlier
// change of it in the same batch is merged in memory. If the stored
// document lacks the column too (e.g. the sink started after the row was
// written, without a snapshot), it stays absent; Stats.PartialIncomplete
// counts it. REPLICA IDENTITY FULL avoids partial updates altogether.
//
// # Delivery
//
// Batches are sent at max_actions, max_bytes or flush_interval; at most
// max_in_flight requests are outstanding, beyond that Write blocks, which
// bounds memory while Elasticsearch is slow or down. Items that fail with
// 429, 5xx or a cluster block, and requests that get no answer, are
// retried with exponential backoff and jitter, without limit. A document
// refused for good (mapping conflict, invalid value) goes to the
// dead-letter destination (a JSON-lines file and/or a Kafka topic) with the
// reason, without holding back the others. An event is acknowledged only
// once Elasticsearch accepted its change (or found it stale) or the
// dead-letter destination holds it, so the checkpoint never passes a lost
// change. Ready reports an error while Elasticsearch is unreachable.
//
// # OpenSearch
//
// type: opensearch is this sink for OpenSearch 2.x and Amazon OpenSearch
// Service: the same documents, requests and guarantees (OpenSearch keeps
// the APIs used here, external_gte versions and gc_deletes included),
// sent through opensearch-go instead of go-elasticsearch, which refuses
// any server that is not Elasticsearch (an elasticsearch sink pointed at
// OpenSearch fails for good, saying so). JSON objects map to flat_object;
// aws_sigv4 signs requests for AWS. See opensearch.go and sigv4.go.
package elasticsearch
