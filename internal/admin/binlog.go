package admin

import (
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-cdc/sluice"
)

// binlogCollector exports where a MySQL or MariaDB source's needed
// position stands among the server's binlogs
// (sluice.BinlogRetentionReporter), once the source has read them. File
// names are exported as their sequence numbers (mysql-bin.000042 → 42),
// not as labels: a label per file would start a new series at every
// rotation, and numbers let an alert compare the needed file with the
// oldest one.
type binlogCollector struct {
	src                                  sluice.BinlogRetentionReporter
	behind, present, over, serverBytes   *prometheus.Desc
	files, headSeq, neededSeq, oldestSeq *prometheus.Desc
	headPos, neededPos                   *prometheus.Desc
}

func newBinlogCollector(pipeline string, src sluice.BinlogRetentionReporter) *binlogCollector {
	labels := prometheus.Labels{"pipeline": pipeline}
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, labels) }
	return &binlogCollector{src: src,
		behind:      d("sluice_binlog_behind_bytes", "Binlog bytes from the position sluice needs (the last acknowledged one) to the server's head."),
		present:     d("sluice_binlog_needed_file_present", "1 while the binlog file sluice needs is on the server; 0 once purged (a restart cannot resume there)."),
		over:        d("sluice_binlog_over_threshold", "1 while sluice_binlog_behind_bytes is above the source's binlog_warn_bytes."),
		serverBytes: d("sluice_binlog_server_bytes", "Size of all binlog files on the server (SHOW BINARY LOGS)."),
		files:       d("sluice_binlog_files", "Number of binlog files on the server."),
		headSeq:     d("sluice_binlog_head_file_sequence", "Sequence number of the server's current binlog file (mysql-bin.000042: 42)."),
		neededSeq:   d("sluice_binlog_needed_file_sequence", "Sequence number of the binlog file sluice needs to resume."),
		oldestSeq:   d("sluice_binlog_oldest_file_sequence", "Sequence number of the oldest binlog file on the server; above sluice_binlog_needed_file_sequence means the needed file was purged."),
		headPos:     d("sluice_binlog_head_position", "Offset of the server's head in its current binlog file."),
		neededPos:   d("sluice_binlog_needed_position", "Offset of the needed position in its binlog file."),
	}
}

func (c *binlogCollector) Describe(ch chan<- *prometheus.Desc) {
	describe(ch, c.behind, c.present, c.over, c.serverBytes, c.files, c.headSeq, c.neededSeq, c.oldestSeq, c.headPos, c.neededPos)
}

func (c *binlogCollector) Collect(ch chan<- prometheus.Metric) {
	r := c.src.BinlogRetention()
	if !r.Known {
		return
	}
	g := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	g(c.serverBytes, float64(r.ServerBytes))
	g(c.files, float64(r.Files))
	g(c.headSeq, float64(binlogSeq(r.HeadFile)))
	g(c.headPos, float64(r.HeadPos))
	if r.OldestFile != "" {
		g(c.oldestSeq, float64(binlogSeq(r.OldestFile)))
	}
	if r.NeededFile == "" { // the source has no position yet
		return
	}
	g(c.behind, float64(r.BehindBytes))
	g(c.present, boolValue(r.NeededPresent))
	g(c.over, boolValue(r.OverThreshold))
	g(c.neededSeq, float64(binlogSeq(r.NeededFile)))
	g(c.neededPos, float64(r.NeededPos))
}

// binlogSeq is the sequence number after a binlog file name's last dot;
// 0 when there is none.
func binlogSeq(file string) uint64 {
	n, _ := strconv.ParseUint(file[strings.LastIndexByte(file, '.')+1:], 10, 64)
	return n
}
