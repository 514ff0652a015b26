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
// while it keeps streaming.
func newSnapshotCmd(cfgPath *string) *cobra.Command {
	var (
		pipe   string
		tables []string
		where  string
	)
	cmd := &cobra.Command{
		Use:   "snapshot --table schema.table [--table …] [--where SQL]",
		Short: "Request an incremental snapshot of tables from the running daemon",
		Long: "Writes an execute-snapshot signal into the source's signal table. The daemon reading the\n" +
			"slot sees it in the stream and re-reads the tables in chunks while streaming goes on.",
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
			if err := sig.SignalSnapshot(cmd.Context(), tables, where); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "snapshot of %v requested for pipeline %s\n", tables, pipe)
			return nil
		},
	}
	cmd.Flags().StringVar(&pipe, "pipeline", "", "pipeline name (default: the only one)")
	cmd.Flags().StringArrayVar(&tables, "table", nil, "table to re-read, schema.table (repeatable)")
	cmd.Flags().StringVar(&where, "where", "", "optional SQL condition: re-read only matching rows")
	cmd.MarkFlagRequired("table")
	return cmd
}
