// Package postgres is the PostgreSQL source: it reads logical replication
// with the built-in pgoutput plugin (protocol version 1) over a replication
// connection, and turns each committed row change into a sluice.Event.
//
// It creates the publication and the replication slot when they are
// missing, checks the server's preconditions with messages that say how to
// fix them, and confirms to the slot only the positions the pipeline has
// delivered to every sink, at transaction boundaries. While nothing is in
// flight it confirms the server's WAL end from keepalives, so a slot whose
// tables sit idle on a busy server never pins WAL.
//
// Snapshots (snapshot.go) run while the stream flows. Their progress is
// what the slot cannot hold, so it is kept where it cannot be lost apart
// from the slot — by default a row per slot in a table of the same
// database — and a start that finds the slot without it refuses to guess
// (state.go).
package postgres
