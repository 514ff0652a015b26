package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// The signal table follows Debezium's signalling: an operator inserts a
// row of type "execute-snapshot" whose data names the tables to re-read,
// and the source, seeing the insert in the stream, starts an incremental
// snapshot. Because the request travels through the WAL it is handled in
// order with the changes around it, by whichever sluice reads the slot.
//
//	CREATE TABLE public.sluice_signal (id text PRIMARY KEY, type text NOT NULL, data text);
//	INSERT INTO public.sluice_signal VALUES ('ad-hoc-1', 'execute-snapshot',
//	  '{"data-collections": ["public.orders"], "type": "incremental",
//	    "additional-conditions": [{"data-collection": "public.orders", "filter": "id > 1000"}]}');

var _ sluice.Signaler = (*Source)(nil)

// signalData is the JSON in a signal row's data column.
type signalData struct {
	DataCollections      []string `json:"data-collections"`
	Type                 string   `json:"type"`
	AdditionalConditions []struct {
		DataCollection string `json:"data-collection"`
		Filter         string `json:"filter"`
	} `json:"additional-conditions"`
	// AdditionalCondition is Debezium 1.x's single filter for all tables.
	AdditionalCondition string `json:"additional-condition"`
}

func (s *Source) isSignalTable(t string) bool {
	if s.cfg.SignalTable == "" {
		return false
	}
	a1, b1, _ := splitTable(s.cfg.SignalTable)
	a2, b2, _ := splitTable(t)
	return a1 == a2 && b1 == b2
}

// ensureSignalTable creates the signal table when it is configured and
// missing.
func (s *Source) ensureSignalTable(ctx context.Context, conn *pgx.Conn) error {
	if s.cfg.SignalTable == "" {
		return nil
	}
	schema, name, _ := splitTable(s.cfg.SignalTable)
	stmt := "CREATE TABLE IF NOT EXISTS " + pgx.Identifier{schema, name}.Sanitize() + " (id text PRIMARY KEY, type text NOT NULL, data text)"
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("postgres source: create signal table %s: %w", s.cfg.SignalTable, err)
	}
	return nil
}

// SignalSnapshot implements sluice.Signaler by inserting a signal row.
func (s *Source) SignalSnapshot(ctx context.Context, tables []string, filter string) error {
	if s.cfg.SignalTable == "" {
		return fmt.Errorf("postgres source: no signal_table configured: set source.signal_table to request snapshots")
	}
	if len(tables) == 0 {
		return fmt.Errorf("postgres source: name at least one table to snapshot")
	}
	var d signalData
	d.Type = "incremental"
	for _, t := range tables {
		schema, name, ok := splitTable(t)
		if !ok {
			return fmt.Errorf("postgres source: %q is not schema.table", t)
		}
		d.DataCollections = append(d.DataCollections, schema+"."+name)
		if filter != "" {
			d.AdditionalConditions = append(d.AdditionalConditions, struct {
				DataCollection string `json:"data-collection"`
				Filter         string `json:"filter"`
			}{schema + "." + name, filter})
		}
	}
	data, err := json.Marshal(d)
	if err != nil {
		return err
	}
	conn, err := s.connect(ctx, false)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	schema, name, _ := splitTable(s.cfg.SignalTable)
	_, err = conn.Exec(ctx, "INSERT INTO "+pgx.Identifier{schema, name}.Sanitize()+" (id, type, data) VALUES ($1, 'execute-snapshot', $2)",
		"sluice-"+newID(), string(data))
	if err != nil {
		return fmt.Errorf("postgres source: write signal to %s: %w", s.cfg.SignalTable, err)
	}
	return nil
}

// handleSignal reads a signal row inserted into the signal table.
func (st *stream) handleSignal(rel *relation, row sluice.Row) error {
	t := rel.table
	get := func(col string) string {
		i := t.Index(col)
		if i < 0 || i >= len(row) || row[i].Kind != sluice.KindPresent {
			return ""
		}
		return string(row[i].Bytes)
	}
	typ := get("type")
	if typ != "execute-snapshot" {
		st.log.Warn("ignoring signal of unknown type", zap.String("type", typ), zap.String("id", get("id")))
		return nil
	}
	var d signalData
	if err := json.Unmarshal([]byte(get("data")), &d); err != nil {
		st.log.Warn("ignoring signal with unreadable data", zap.String("id", get("id")), zap.Error(err))
		return nil
	}
	filters := map[string]string{}
	for _, c := range d.AdditionalConditions {
		if schema, name, ok := splitTable(c.DataCollection); ok {
			filters[schema+"."+name] = c.Filter
		}
	}
	var jobs []*snapshotJob
	for _, dc := range d.DataCollections {
		schema, name, ok := splitTable(dc)
		if !ok {
			st.log.Warn("ignoring malformed table in signal", zap.String("table", dc))
			continue
		}
		full := schema + "." + name
		f := filters[full]
		if f == "" {
			f = d.AdditionalCondition
		}
		jobs = append(jobs, &snapshotJob{Table: full, Filter: f, Incremental: true})
	}
	if len(jobs) == 0 || st.snap == nil {
		return nil
	}
	names := make([]string, len(jobs))
	for i, j := range jobs {
		names[i] = j.Table
	}
	st.log.Info("incremental snapshot requested", zap.String("id", get("id")), zap.String("tables", strings.Join(names, ",")))
	return st.snap.add(jobs...)
}
