package main

// -pg-es N: PostgreSQL → Elasticsearch with the postgres source, against
// the same bulk loader as -kafka-es (kafkaes.go, bulkloader.go).
//
// N small rows are inserted 100 per transaction (the batch/small
// workload) once, after one replication slot per sluice run was created,
// so every run streams the same WAL from its own slot. A sluice run is
// the daemon with the postgres source on its slot and the elasticsearch
// sink with its defaults into a fresh index; it is done when the
// daemon's metrics say every event was handed to the sink and none is
// still unacknowledged (sluice_events_total − sluice_queue_events = N),
// then the index must count N documents. The loader indexes the first
// run's documents as in -kafka-es.

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// preparePG creates the table, its publication and the slots, then
// writes the rows.
func (k *kesBench) preparePG(ctx context.Context) error {
	o, b := k.o, k.bench
	w := workload{Kind: "batch", Width: "small", Events: o.esDocs, Batch: 100}
	base := "bench_" + b.id + "_pges"
	if err := b.exec(ctx, createSQL(base, w.Width)); err != nil {
		return fmt.Errorf("create table: %w", err)
	}
	k.pgTable = base
	if err := b.exec(ctx, "CREATE PUBLICATION "+base+" FOR TABLE "+base); err != nil {
		return err
	}
	runs := o.repeats
	if o.profileDir != "" {
		runs++
	}
	if err := b.freeSlots(ctx, runs); err != nil {
		return err
	}
	for r := range runs {
		slot := fmt.Sprintf("%s_s%d", base, r)
		if err := b.createSlot(ctx, slot); err != nil {
			return fmt.Errorf("create slot: %w", err)
		}
		k.slots = append(k.slots, slot)
	}
	b.logf("== pg-es: writing %d small rows, %d per transaction, streamed by each run from its own slot", w.Events, w.Batch)
	if err := b.exec(ctx, writeSQL(base, w)); err != nil {
		return fmt.Errorf("write rows: %w", err)
	}
	k.end = int64(w.Events)
	return nil
}

// pgConfig is the daemon's YAML of a postgres → elasticsearch run: the
// source on the run's slot and the sink with its defaults except the
// names; the admin endpoint listens on a free loopback port for the
// driver's progress polls.
func (k *kesBench) pgConfig(slot, index, listen string) string {
	return k.esConfig(listen, "benchpges", pgSource(k.o, slot, k.pgTable, []string{k.pgTable}, "{mode: never}"), index)
}

// cleanupPG drops the slots, the publication and the table.
func (k *kesBench) cleanupPG(ctx context.Context) {
	for _, s := range k.slots {
		k.dropSlot(s)
	}
	if k.pgTable != "" {
		_ = k.exec(ctx, "DROP PUBLICATION IF EXISTS "+k.pgTable+"; DROP TABLE IF EXISTS "+k.pgTable)
	}
}

// freeLoopback returns a loopback address with a port free right now.
func freeLoopback() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// ackedEvents reads the daemon's metrics at addr and returns the events
// every sink acknowledged: handed to the sinks (sluice_events_total)
// minus those still in flight (sluice_queue_events). Errors (the daemon
// is still starting) count as none.
func ackedEvents(ctx context.Context, cl *http.Client, addr string) int64 {
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/metrics", nil)
	if err != nil {
		return 0
	}
	resp, err := cl.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0
	}
	n, err := parseAcked(bufio.NewScanner(resp.Body))
	if err != nil {
		return 0
	}
	return n
}

// parseAcked sums sluice_events_total and subtracts sluice_queue_events
// over the pipelines of a Prometheus text exposition.
func parseAcked(sc *bufio.Scanner) (int64, error) {
	var events, queued float64
	var seen bool
	for sc.Scan() {
		line := sc.Text()
		var into *float64
		switch {
		case strings.HasPrefix(line, "sluice_events_total{"), strings.HasPrefix(line, "sluice_events_total "):
			into, seen = &events, true
		case strings.HasPrefix(line, "sluice_queue_events{"), strings.HasPrefix(line, "sluice_queue_events "):
			into = &queued
		default:
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("metrics line %q: %w", line, err)
		}
		*into += v
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	if !seen {
		return 0, fmt.Errorf("no sluice_events_total in the metrics")
	}
	return int64(events - queued), nil
}

// pgProgressPoll is how often a -pg-es run's metrics are read: each read
// costs the daemon a scrape (~1 ms of CPU), so not as often as the
// offsets of -kafka-es; a run of 200,000 documents lasts seconds.
const pgProgressPoll = 100 * time.Millisecond
