package mysql

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/kafkaconn"
	"github.com/sluice-cdc/sluice/source"
)

// Retiring a pipeline (source.Retirer). A MySQL/MariaDB pipeline owns no
// slot: the server purges binlogs whether or not sluice read them. What
// it owns is its stored offset (the binlog position, GTID set and the
// snapshot progress kept in it), in <state_dir>/<pipeline>.mysql.json or
// as the pipeline's record in the Kafka offsets topic, which Drop
// removes (the file; a tombstone for the record), and the rows of its
// signal table (signal_table; the table stays). The server cannot tell
// whether a daemon runs the pipeline, so Drop cannot refuse a running
// one: stop it first, or it writes its offset back at its next flush.

var _ source.Retirer = (*Source)(nil)

// Owner implements source.Retirer.
func (s *Source) Owner() source.Owner {
	return source.Owner{Kind: source.KindBinlog, Server: s.dsn.addr()}
}

// offsetFile is the file store's path.
func (s *Source) offsetFile() string { return filepath.Join(s.stateDir, s.pipeline+".mysql.json") }

// storedOffset reads the pipeline's offset without creating the Kafka
// topic; nil when none is stored.
func (s *Source) storedOffset(ctx context.Context) (*offset, error) {
	if s.cfg.Offsets.Store != "kafka" {
		return (&fileStore{path: s.offsetFile()}).Load(ctx)
	}
	kc, err := kafkaconn.Opts(s.cfg.Offsets.TLS, s.cfg.Offsets.SASL)
	if err != nil {
		return nil, fmt.Errorf("mysql source: offsets.%w", err)
	}
	b, err := source.KafkaKeyValue(ctx, s.cfg.Offsets.Brokers, kc, s.cfg.Offsets.Topic, []byte(s.pipeline))
	if err != nil || b == nil {
		return nil, err
	}
	var o offset
	if err := json.Unmarshal(b, &o); err != nil {
		return nil, fmt.Errorf("mysql source: offsets topic %s: the record for %s is corrupt: %w", s.cfg.Offsets.Topic, s.pipeline, err)
	}
	return &o, nil
}

// Owned implements source.Retirer: the pipeline's stored binlog position
// and how far the server's head is past it; nothing when no position is
// stored.
func (s *Source) Owned(ctx context.Context, _ []string) ([]source.OwnedSlot, error) {
	o, err := s.storedOffset(ctx)
	if err != nil || o == nil {
		return nil, err
	}
	out := source.OwnedSlot{Kind: source.KindBinlog, Server: s.dsn.addr(), Database: s.dsn.DB, RetainedBytes: -1,
		Name: fmt.Sprintf("%s:%d", o.File, o.Pos)}
	var notes []string
	if o.Snapshot != nil {
		notes = append(notes, "initial snapshot in progress")
	}
	if o.File == "" {
		out.Name = "(no binlog position yet)"
		out.Note = strings.Join(notes, "; ")
		return []source.OwnedSlot{out}, nil
	}
	c, err := s.dialConfigured(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	vars, err := globals(c, "version")
	if err != nil {
		return nil, err
	}
	srv := &server{flavor: s.cfg.Flavor, version: vars["version"]}
	if srv.flavor == "" {
		srv.flavor = mysql.MySQLFlavor
		if strings.Contains(strings.ToLower(srv.version), "mariadb") {
			srv.flavor = mysql.MariaDBFlavor
		}
	}
	files, err := binaryLogs(c)
	if err != nil {
		return nil, err
	}
	headFile, headPos, err := binlogHead(c, srv)
	if err != nil {
		return nil, err
	}
	r := computeBinlogRetention(files, headFile, headPos, o.File, uint64(o.Pos))
	if r.NeededPresent || fileSeq(o.File) == fileSeq(headFile) {
		out.RetainedBytes = r.BehindBytes
	} else {
		notes = append(notes, "binlog file purged: the pipeline cannot resume from it")
	}
	out.Note = strings.Join(notes, "; ")
	return []source.OwnedSlot{out}, nil
}

// Drop implements source.Retirer: the stored offset, in its store and in
// the state directory.
func (s *Source) Drop(ctx context.Context, opts source.DropOptions) (source.DropReport, error) {
	var rep source.DropReport
	if s.cfg.Offsets.Store == "kafka" {
		kc, err := kafkaconn.Opts(s.cfg.Offsets.TLS, s.cfg.Offsets.SASL)
		if err != nil {
			return rep, sluice.Permanent(fmt.Errorf("mysql source: offsets.%w", err))
		}
		if err := source.KafkaKeyTombstone(ctx, &rep, "offset", s.cfg.Offsets.Brokers, kc, s.cfg.Offsets.Topic, []byte(s.pipeline), opts.DryRun); err != nil {
			return rep, fmt.Errorf("mysql source: offsets %w", err)
		}
	}
	if err := source.RemoveFile(&rep, "offset file", s.offsetFile(), opts.DryRun); err != nil {
		return rep, fmt.Errorf("mysql source: %w", err)
	}
	if err := s.dropSignalRows(ctx, &rep, opts.DryRun); err != nil {
		return rep, err
	}
	return rep, nil
}

// dropSignalRows deletes the rows of the signal table, which stays: as
// on PostgreSQL, a signal table is one pipeline's, and signals reach a
// pipeline through the binlog, so the rows are a log of requests that
// another pipeline sharing the table has received already or will.
func (s *Source) dropSignalRows(ctx context.Context, rep *source.DropReport, dryRun bool) error {
	if s.cfg.SignalTable == "" {
		return nil
	}
	db, name, ok := splitTable(s.cfg.SignalTable, s.dsn.DB)
	if !ok {
		return nil
	}
	c, err := s.dialConfigured(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	n, err := queryString(c, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", db, name)
	if err != nil || n == "0" {
		return err
	}
	var rows uint64
	if dryRun {
		n, err := queryString(c, "SELECT COUNT(*) FROM "+quoteTable(db, name))
		if err != nil {
			return err
		}
		fmt.Sscan(n, &rows)
	} else {
		r, err := c.Execute("DELETE FROM " + quoteTable(db, name))
		if err != nil {
			return fmt.Errorf("mysql source: delete the rows of signal table %s.%s: %w", db, name, err)
		}
		rows = r.AffectedRows
	}
	if rows > 0 {
		rep.Removed = append(rep.Removed, source.DropItem{Kind: "signal table rows", Name: db + "." + name, Note: fmt.Sprintf("%d row(s); the table stays", rows)})
	}
	return nil
}

// LocalState implements sluice.LocalStater: the file store keeps the
// binlog position on this machine.
func (s *Source) LocalState() string {
	if s.cfg.Offsets.Store == "file" {
		return "offsets.store: file keeps the binlog position in state_dir; use kafka"
	}
	return ""
}
