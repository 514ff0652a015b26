// Package sluice is the shared vocabulary of the sluice change-data-capture
// daemon: change events and their typed rows, source positions, and the
// contracts that sources, transforms and sinks implement.
//
// The package does no I/O and imports no plugin. Everything that talks to a
// database, a broker or a search index lives in its own package under
// source/, sink/ or transform/ and registers itself by name.
package sluice
