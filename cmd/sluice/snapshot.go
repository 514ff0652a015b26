package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/pipeline"
)

// newSnapshotCmd is `sluice snapshot`: it asks a running daemon, through
// the source's signal table, to re-read tables (an incremental snapshot)
// while it keeps streaming. The source checks the request before it
// writes the signal (sluice.Signaler): each --table must be one the
// pipeline captures, and --where must be a condition of the source's
// filter grammar over the table's columns; a refused request writes
// nothing and exits non-zero with the reasons, so a typo never becomes a
// snapshot job that fails later.
func newSnapshotCmd(cfgPath *string) *cobra.Command {
	var (
		pipe   string
		tables []string
		where  string
	)
	cmd := &cobra.Command{
		Use:   "snapshot --table schema.table [--table …] [--where condition]",
		Short: "Request an incremental snapshot of tables from the running daemon",
		Long: "Writes an execute-snapshot signal into the source's signal table. The daemon reading the\n" +
			"slot sees it in the stream and re-reads the tables in chunks while streaming goes on.\n\n" +
			"Only tables the pipeline captures can be requested. --where is not SQL: it is a condition\n" +
			"over the table's columns (column = 'literal', <>, <, <=, >, >=, AND, OR, NOT, parentheses,\n" +
			"[NOT] IN (…), [NOT] BETWEEN … AND …, [NOT] LIKE/ILIKE 'pattern', IS [NOT] NULL), with the\n" +
			"literals sent as parameters. The request is checked against the database before anything\n" +
			"is written; a refused request exits non-zero and names the reason.",
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := config.Load(*cfgPath)
			if err != nil {
				return err
			}
			if pipe == "" {
				if len(f.Pipelines) != 1 {
					return fmt.Errorf("the file has %d pipelines: name one with --pipeline", len(f.Pipelines))
				}
				pipe = f.PipelineNames()[0]
			}
			cfg, ok := f.Pipelines[pipe]
			if !ok {
				return fmt.Errorf("no pipeline %q in %s", pipe, *cfgPath)
			}
			p, err := pipeline.Build(pipe, cfg, f.StateDir, zap.NewNop())
			if err != nil {
				return err
			}
			sig, ok := p.Source.(sluice.Signaler)
			if !ok {
				return errors.New("this pipeline's source does not accept snapshot requests")
			}
			// SignalSnapshot checks every table and the condition first
			// and writes nothing when one is refused.
			if err := sig.SignalSnapshot(cmd.Context(), tables, where); err != nil {
				return fmt.Errorf("pipeline %s: %w", pipe, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "snapshot of %v requested for pipeline %s\n", tables, pipe)
			return nil
		},
	}
	cmd.Flags().StringVar(&pipe, "pipeline", "", "pipeline name (default: the only one)")
	cmd.Flags().StringArrayVar(&tables, "table", nil, "table to re-read, schema.table (repeatable)")
	cmd.Flags().StringVar(&where, "where", "", "optional condition (not SQL: see above): re-read only matching rows")
	cmd.MarkFlagRequired("table")
	return cmd
}
