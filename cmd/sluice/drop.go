package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/pipeline"
	"github.com/sluice-cdc/sluice/sink"
	"github.com/sluice-cdc/sluice/source"
)

// newDropCmd is `sluice drop`: it retires a pipeline by removing what its
// source owns outside the process (source.Retirer: the replication slot,
// the publication sluice named, the signal table's rows, the stored
// offset and snapshot state) and the pipeline's join state under
// state_dir. Without --yes it prints what it would remove and exits
// non-zero, so a mistyped pipeline name costs nothing. It is run with the
// daemon stopped: a PostgreSQL slot still read by a daemon makes it
// refuse, removing nothing.
func newDropCmd(cfgPath *string) *cobra.Command {
	var (
		pipe    string
		yes     bool
		dropPub bool
	)
	cmd := &cobra.Command{
		Use:   "drop --pipeline NAME [--yes]",
		Short: "Retire a pipeline: remove its replication slot, publication, offsets and snapshot state",
		Long: "Removes what the pipeline owns outside the daemon. PostgreSQL: the replication slot (refused while\n" +
			"a process reads it: stop the daemon first), the publication when sluice named it (sluice_<pipeline>;\n" +
			"one named by source.publication only with --drop-publication), the rows of the signal table, and the\n" +
			"snapshot state (the state table's row, or a tombstone in the state topic). MySQL/MariaDB: the stored\n" +
			"offset (the file, or a tombstone in the offsets topic). Both: the pipeline's files under state_dir,\n" +
			"join state included, and an exactly-once Kafka sink's committed position (a tombstone).\n\n" +
			"Without --yes nothing is removed: it prints what would be and exits non-zero.",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if pipe == "" {
				return configError{errors.New("name the pipeline to drop with --pipeline")}
			}
			f, err := config.Load(*cfgPath)
			if err != nil {
				return configError{err}
			}
			cfg, ok := f.Pipelines[pipe]
			if !ok {
				return configError{fmt.Errorf("no pipeline %q in %s", pipe, *cfgPath)}
			}
			p, err := pipeline.Build(pipe, cfg, f.StateDir, zap.NewNop())
			if err != nil {
				return configError{f.WithLines(err)}
			}
			ret, ok := p.Source.(source.Retirer)
			if !ok {
				return fmt.Errorf("pipeline %s: its source keeps nothing outside the daemon that sluice drop could remove", pipe)
			}
			opts := source.DropOptions{DryRun: !yes, Publication: dropPub}
			rep, err := ret.Drop(cmd.Context(), opts)
			if err == nil {
				err = dropJoinState(&rep, joinDirs(f.StateDir, pipe, cfg), opts.DryRun)
			}
			if err == nil {
				err = dropCommitted(cmd.Context(), &rep, p.Sinks, opts.DryRun)
			}
			printDrop(cmd.OutOrStdout(), pipe, rep, opts.DryRun)
			if err != nil {
				return fmt.Errorf("pipeline %s: %w", pipe, err)
			}
			if !yes {
				if len(rep.Removed) == 0 {
					return configError{errors.New("nothing to remove; nothing removed (--yes not given)")}
				}
				return configError{errors.New("nothing removed: run again with --yes to remove what is listed above")}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&pipe, "pipeline", "", "the pipeline to retire (required)")
	cmd.Flags().BoolVar(&yes, "yes", false, "remove; without it, only print what would be removed")
	cmd.Flags().BoolVar(&dropPub, "drop-publication", false, "drop the publication even when source.publication names it")
	return cmd
}

// printDrop prints the report, one line per item.
func printDrop(w io.Writer, pipe string, rep source.DropReport, dryRun bool) {
	verb := "removed"
	if dryRun {
		verb = "would remove"
	}
	if len(rep.Removed) == 0 && len(rep.Kept) == 0 {
		fmt.Fprintf(w, "pipeline %s: nothing to remove\n", pipe)
	}
	for _, it := range rep.Removed {
		fmt.Fprintf(w, "%s: %s\n", verb, it)
	}
	for _, it := range rep.Kept {
		fmt.Fprintf(w, "kept: %s\n", it)
	}
}

// joinDirs are the on-disk stores of the pipeline's join transforms that
// live under state_dir (transform/join's default <state_dir>/join/
// <pipeline>-<as>); a dir the configuration sets explicitly is the
// operator's and stays.
func joinDirs(stateDir, pipe string, cfg config.Pipeline) []string {
	if stateDir == "" {
		stateDir = config.DefaultStateDir
	}
	lists := [][]map[string]any{cfg.Transforms}
	for _, sink := range cfg.Sinks {
		if l, ok := sink["transforms"].([]any); ok {
			var ms []map[string]any
			for _, e := range l {
				if m, ok := e.(map[string]any); ok {
					ms = append(ms, m)
				}
			}
			lists = append(lists, ms)
		}
	}
	var dirs []string
	for _, l := range lists {
		for _, t := range l {
			typ, _ := t["type"].(string)
			as, _ := t["as"].(string)
			dir, _ := t["dir"].(string)
			if typ != "join" || as == "" || dir != "" || strings.ContainsAny(as, `/\`) {
				continue
			}
			d := filepath.Join(stateDir, "join", pipe+"-"+as)
			if !slices.Contains(dirs, d) {
				dirs = append(dirs, d)
			}
		}
	}
	return dirs
}

// dropJoinState removes the join stores in dirs (rebuilt by a snapshot
// when a pipeline of that name runs again).
func dropJoinState(rep *source.DropReport, dirs []string, dryRun bool) error {
	for _, d := range dirs {
		if _, err := os.Stat(d); errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			return fmt.Errorf("join state %s: %w", d, err)
		}
		if !dryRun {
			if err := os.RemoveAll(d); err != nil {
				return fmt.Errorf("remove join state %s: %w", d, err)
			}
		}
		rep.Removed = append(rep.Removed, source.DropItem{Kind: "join state", Name: d})
	}
	return nil
}

// dropCommitted removes the positions the pipeline's exactly-once sinks
// committed (sink.CommittedDropper).
func dropCommitted(ctx context.Context, rep *source.DropReport, sinks []sluice.Sink, dryRun bool) error {
	for _, s := range sinks {
		d, ok := s.(sink.CommittedDropper)
		if !ok {
			continue
		}
		what, found, err := d.DropCommitted(ctx, dryRun)
		if err != nil {
			return fmt.Errorf("exactly-once position %s: %w", what, err)
		}
		if found {
			rep.Removed = append(rep.Removed, source.DropItem{Kind: "exactly-once position", Name: what})
		}
	}
	return nil
}
