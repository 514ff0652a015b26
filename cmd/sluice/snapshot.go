package main

import (
	"encoding/json"

	"github.com/spf13/cobra"

	"github.com/sluice-cdc/sluice"
)

// newSnapshotCmd is `sluice snapshot`: it asks a pipeline's source to
// re-read tables while it keeps streaming (an ad-hoc snapshot), and its
// subcommands stop, pause and resume such snapshots. The request goes to
// the running daemon's admin endpoint; when nothing listens there, it is
// written into the source's signal table, which the daemon reads in the
// stream once it runs. Either way the source checks the request first:
// each --table must be one the pipeline captures, and --where must be a
// condition of the source's filter grammar over the table's columns; a
// refused request changes nothing and exits non-zero with the reasons,
// so a typo never becomes a snapshot job that fails later.
func newSnapshotCmd(cfgPath *string) *cobra.Command {
	t := &signalTarget{cfgPath: cfgPath}
	var (
		tables   []string
		where    string
		blocking bool
		id       string
	)
	cmd := &cobra.Command{
		Use:   "snapshot --table schema.table [--table …] [--where condition] [--blocking]",
		Short: "Request a snapshot of tables from the running daemon; stop, pause or resume one",
		Long: "Sends an execute-snapshot signal to the pipeline: the daemon re-reads the tables in chunks\n" +
			"while streaming goes on (incremental), or, with --blocking, pauses the stream while it reads\n" +
			"them. The signal goes to the running daemon's admin endpoint (the config file's http.listen,\n" +
			"or --admin); when nothing listens there, it is written into the source's signal table.\n\n" +
			"Only tables the pipeline captures can be requested. --where is not SQL: it is a condition\n" +
			"over the table's columns (column = 'literal', <>, <, <=, >, >=, AND, OR, NOT, parentheses,\n" +
			"[NOT] IN (…), [NOT] BETWEEN … AND …, [NOT] LIKE/ILIKE 'pattern', IS [NOT] NULL), with the\n" +
			"literals sent as parameters. The request is checked against the database before anything\n" +
			"happens; a refused request exits non-zero and names the reason.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kind := sluice.SnapshotKindIncremental
			if blocking {
				kind = sluice.SnapshotKindBlocking
			}
			s := sluice.Signal{ID: id, Type: sluice.SignalExecuteSnapshot, Data: sluice.SnapshotSignalData(kind, tables, where)}
			return t.send(cmd, s)
		},
	}
	t.flags(cmd.PersistentFlags())
	cmd.Flags().StringArrayVar(&tables, "table", nil, "table to re-read, schema.table (repeatable)")
	cmd.Flags().StringVar(&where, "where", "", "optional condition (not SQL: see above): re-read only matching rows")
	cmd.Flags().BoolVar(&blocking, "blocking", false, "a blocking snapshot: the stream waits while the tables are read")
	cmd.Flags().StringVar(&id, "id", "", "the signal's id (default: sluice- and a random suffix)")
	cmd.MarkFlagRequired("table")

	var stopTables []string
	stop := &cobra.Command{
		Use:   "stop [--table schema.table …]",
		Short: "Stop the running incremental snapshots of tables (without --table: all of them)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return t.send(cmd, sluice.Signal{Type: sluice.SignalStopSnapshot, Data: kindData(stopTables)})
		},
	}
	stop.Flags().StringArrayVar(&stopTables, "table", nil, "table whose snapshot to stop, schema.table (repeatable)")
	cmd.AddCommand(stop)
	for _, c := range []struct{ use, typ, short string }{
		{"pause", sluice.SignalPauseSnapshot, "Pause the running incremental snapshots (the stream goes on)"},
		{"resume", sluice.SignalResumeSnapshot, "Resume paused incremental snapshots"},
	} {
		cmd.AddCommand(&cobra.Command{
			Use:   c.use,
			Short: c.short,
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return t.send(cmd, sluice.Signal{Type: c.typ, Data: kindData(nil)})
			},
		})
	}
	return cmd
}

// kindData is the data of stop-, pause- and resume-snapshot as Debezium
// writes it: the snapshot type, and the tables when some are named.
func kindData(tables []string) string {
	d := struct {
		Tables []string `json:"data-collections,omitempty"`
		Type   string   `json:"type"`
	}{tables, sluice.SnapshotKindIncremental}
	b, _ := json.Marshal(d) // strings only: cannot fail
	return string(b)
}
