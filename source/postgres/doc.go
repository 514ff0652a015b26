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
package postgres
