package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/pipeline"
	"github.com/sluice-cdc/sluice/source"
)

// A replication slot nobody reads pins WAL until the server's disk fills:
// `sluice slots` lists what sluice owns on the configured sources with
// what it retains, and the daemon warns at start about slots named like
// sluice's that no configured pipeline uses.

// slotRow is one line of `sluice slots`.
type slotRow struct {
	// Pipelines are the configured pipelines that name it; none for a
	// sluice-owned slot the file does not configure.
	Pipelines []string `json:"pipelines"`
	source.OwnedSlot
}

// retirer is a pipeline's source that owns something outside the daemon.
type retirer struct {
	pipeline string
	src      source.Retirer
}

// retirers are the pipelines' sources that implement source.Retirer, in
// pipeline order; perServer keeps only those whose Owned covers their
// whole server (the slots).
func retirers(pipes []*pipeline.Pipeline, perServer bool) []retirer {
	var out []retirer
	for _, p := range pipes {
		if r, ok := p.Source.(source.Retirer); ok && (!perServer || r.Owner().PerServer) {
			out = append(out, retirer{p.Name, r})
		}
	}
	return out
}

// collectSlots asks each server once what sluice owns on it (a source
// listing its own entry only is asked for it), and names the configured
// pipelines of each entry. A server that cannot be asked is an error; the
// others are listed.
func collectSlots(ctx context.Context, rs []retirer) ([]slotRow, []error) {
	var rows []slotRow
	var errs []error
	var servers []string
	groups := map[string][]retirer{}
	for _, r := range rs {
		o := r.src.Owner()
		if !o.PerServer {
			owned, err := r.src.Owned(ctx, nil)
			if err != nil {
				errs = append(errs, fmt.Errorf("pipeline %s: %w", r.pipeline, err))
			}
			for _, s := range owned {
				rows = append(rows, slotRow{Pipelines: []string{r.pipeline}, OwnedSlot: s})
			}
			continue
		}
		if _, ok := groups[o.Server]; !ok {
			servers = append(servers, o.Server)
		}
		groups[o.Server] = append(groups[o.Server], r)
	}
	for _, srv := range servers {
		g := groups[srv]
		var names []string
		for _, r := range g {
			if n := r.src.Owner().Name; !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
		// Any pipeline's connection will do; the next is tried when one
		// fails (its credentials may differ).
		var owned []source.OwnedSlot
		var err error
		for _, r := range g {
			if owned, err = r.src.Owned(ctx, names); err == nil {
				break
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("server %s: %w", srv, err))
			continue
		}
		for _, s := range owned {
			row := slotRow{Pipelines: []string{}, OwnedSlot: s}
			for _, r := range g {
				if r.src.Owner().Name == s.Name {
					row.Pipelines = append(row.Pipelines, r.pipeline)
				}
			}
			rows = append(rows, row)
		}
	}
	return rows, errs
}

// newSlotsCmd is `sluice slots`.
func newSlotsCmd(cfgPath *string) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "slots [--json]",
		Short: "List the replication slots and binlog positions sluice owns on the configured sources",
		Long: "For each PostgreSQL server of the configuration (asked once, however many pipelines read it), every\n" +
			"logical pgoutput slot named sluice_… or named by a pipeline, with the WAL it retains, whether a process\n" +
			"reads it now (and which), and the pipeline that configures it, or (unconfigured): a slot nothing will\n" +
			"read again pins WAL until it is dropped. For each MySQL/MariaDB pipeline, its stored binlog position\n" +
			"and how many binlog bytes the server has written since.",
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := config.Load(*cfgPath)
			if err != nil {
				return configError{err}
			}
			pipes, err := build(f, zap.NewNop())
			if err != nil {
				return configError{err}
			}
			rows, errs := collectSlots(cmd.Context(), retirers(pipes, false))
			if asJSON {
				if rows == nil {
					rows = []slotRow{}
				}
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(rows); err != nil {
					return err
				}
			} else {
				printSlots(cmd.OutOrStdout(), rows)
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (an array of objects) instead of a table")
	return cmd
}

// printSlots prints rows as an aligned table.
func printSlots(w io.Writer, rows []slotRow) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PIPELINE\tKIND\tNAME\tSERVER\tDATABASE\tRETAINED\tACTIVE\tUSED BY\tNOTE")
	for _, r := range rows {
		pipe := "(unconfigured)"
		if len(r.Pipelines) > 0 {
			pipe = strings.Join(r.Pipelines, ",")
		}
		active, usedBy := "?", "-"
		if r.Active != nil {
			active = "no"
			if *r.Active {
				active = "yes"
				usedBy = "process"
				if r.ActivePID != 0 {
					usedBy = fmt.Sprintf("pid %d", r.ActivePID)
				}
			}
		}
		note := r.Note
		if note == "" {
			note = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", pipe, r.Kind, r.Name, r.Server, orDash(r.Database), retained(r.RetainedBytes), active, usedBy, note)
	}
	tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// retained is a byte count for humans and exactly: "1.5 MiB (1572864)".
func retained(n int64) string {
	if n < 0 {
		return "?"
	}
	return fmt.Sprintf("%s (%d)", humanBytes(n), n)
}

// humanBytes is n in binary units, one decimal above a KiB.
func humanBytes(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n)
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i := -1
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}

// slotCheckTimeout bounds the start-up check of unused slots.
const slotCheckTimeout = 30 * time.Second

// warnUnusedSlots logs, once per start, every sluice-owned replication
// slot of the configured PostgreSQL servers that no configured pipeline
// uses: a warning for one nobody reads (it pins WAL for good), an info
// line for one another process reads (another sluice, most likely). It
// runs beside the pipelines and never fails or delays the start: a
// server that cannot be asked is logged at debug level, as its pipeline
// reports the failure itself.
func warnUnusedSlots(ctx context.Context, pipes []*pipeline.Pipeline, log *zap.Logger) {
	rs := retirers(pipes, true)
	if len(rs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, slotCheckTimeout)
	defer cancel()
	rows, errs := collectSlots(ctx, rs)
	for _, err := range errs {
		log.Debug("cannot list the replication slots to look for unused ones", zap.Error(err))
	}
	for _, r := range rows {
		if len(r.Pipelines) > 0 {
			continue
		}
		fields := []zap.Field{zap.String("slot", r.Name), zap.String("server", r.Server), zap.String("database", r.Database),
			zap.Int64("retained_bytes", r.RetainedBytes), zap.String("retained", retained(r.RetainedBytes))}
		if r.Active != nil && *r.Active {
			log.Info("a sluice replication slot that no pipeline of this configuration uses is read by another process (another sluice?)",
				append(fields, zap.Int32("active_pid", r.ActivePID))...)
			continue
		}
		log.Warn("replication slot named like sluice's is not used by any configured pipeline: it retains WAL on the server until it is dropped. "+
			"If its pipeline was retired, put the pipeline back in the configuration and run `sluice drop --pipeline NAME --yes`, "+
			"or drop the slot: SELECT pg_drop_replication_slot('"+r.Name+"')", fields...)
	}
}
