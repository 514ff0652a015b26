package admin

import (
	"testing"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/pipeline"
)

// binlogSource reports a fixed binlog retention.
type binlogSource struct {
	snapSource
	r sluice.BinlogRetention
}

func (s *binlogSource) BinlogRetention() sluice.BinlogRetention { return s.r }

// TestBinlogMetrics: a MySQL source's binlog retention, once read, is on
// /metrics with file names as sequence numbers; the needed position's
// series wait for the source to have one.
func TestBinlogMetrics(t *testing.T) {
	shop := &pipeline.Pipeline{Name: "shop", Source: &binlogSource{r: sluice.BinlogRetention{Known: true,
		HeadFile: "mysql-bin.000012", HeadPos: 4096, NeededFile: "mysql-bin.000010", NeededPos: 1234, OldestFile: "mysql-bin.000011",
		BehindBytes: 3 << 20, ServerBytes: 5 << 20, Files: 2, OverThreshold: true}}}
	fresh := &pipeline.Pipeline{Name: "fresh", Source: &binlogSource{r: sluice.BinlogRetention{Known: true,
		HeadFile: "mysql-bin.000012", HeadPos: 4096, OldestFile: "mysql-bin.000011", ServerBytes: 5 << 20, Files: 2}}}
	crm := &pipeline.Pipeline{Name: "crm", Source: &binlogSource{}} // not read yet
	_, metrics := get(t, serve(t, Options{}, shop, fresh, crm)+"/metrics")
	checkMetrics(t, metrics, []metricCase{
		{`sluice_binlog_behind_bytes{pipeline="shop"} 3.145728e+06`, true},
		{`sluice_binlog_needed_file_present{pipeline="shop"} 0`, true},
		{`sluice_binlog_over_threshold{pipeline="shop"} 1`, true},
		{`sluice_binlog_server_bytes{pipeline="shop"} 5.24288e+06`, true},
		{`sluice_binlog_files{pipeline="shop"} 2`, true},
		{`sluice_binlog_head_file_sequence{pipeline="shop"} 12`, true},
		{`sluice_binlog_needed_file_sequence{pipeline="shop"} 10`, true},
		{`sluice_binlog_oldest_file_sequence{pipeline="shop"} 11`, true},
		{`sluice_binlog_head_position{pipeline="shop"} 4096`, true},
		{`sluice_binlog_needed_position{pipeline="shop"} 1234`, true},
		{`sluice_binlog_files{pipeline="fresh"} 2`, true},
		{`sluice_binlog_behind_bytes{pipeline="fresh"}`, false},
		{`sluice_binlog_files{pipeline="crm"}`, false},
	})
}
