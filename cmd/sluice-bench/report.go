package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/jackc/pgx/v5"
)

// machine describes where the figures were taken.
type machine struct {
	NProc    int       `json:"nproc"`
	CPU      string    `json:"cpu_model"`
	MemGiB   float64   `json:"mem_gib"`
	LoadAvg  string    `json:"loadavg_at_start"`
	Go       string    `json:"go"`
	Postgres string    `json:"postgres,omitempty"`
	MySQL    string    `json:"mysql,omitempty"`
	Time     time.Time `json:"time"`
}

func describeMachine(ctx context.Context, db *pgx.Conn, my *client.Conn) machine {
	m := machine{NProc: runtime.NumCPU(), Go: runtime.Version(), Time: time.Now().UTC().Truncate(time.Second)}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb float64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %f kB", &kb); err == nil {
			m.MemGiB = kb / (1 << 20)
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAvg = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	if db != nil {
		_ = db.QueryRow(ctx, "SHOW server_version").Scan(&m.Postgres)
	}
	if my != nil {
		if r, err := my.Execute("SELECT VERSION()"); err == nil && r.RowNumber() > 0 {
			m.MySQL, _ = r.GetString(0, 0)
		}
	}
	return m
}

func writeJSON(path string, res *result) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// orDash formats v, or "-" when it was not measured (0).
func orDash(format string, v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf(format, v)
}

// printTable prints the medians per workload, then the latency run.
func printTable(w io.Writer, res *result) {
	m := res.Machine
	server, reader, ceiling, db := "PostgreSQL "+m.Postgres, "pgoutput reader", "PG ceiling", "walsender"
	if res.Config.Source == "mysql" {
		server, reader, ceiling, db = m.MySQL, "binlog reader", "MySQL ceiling", "MariaDB"
	}
	fmt.Fprintf(w, "\nsluice-bench %s — %d × %s, %.1f GiB, load %s, %s, %s\n", m.Time.Format(time.RFC3339), m.NProc, m.CPU, m.MemGiB, m.LoadAvg, server, m.Go)
	fmt.Fprintf(w, "medians of %d run(s); rates: events/s between first and last Kafka append (sluice), first and last message (%s), first produce and last ack (franz-go)\n\n", res.Config.Repeats, reader)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "workload\tevents\tsluice ev/s\tincl. start\t%s\tKafka ceiling\tof lower ceiling\tCPU s/M ev\tpeak RSS MiB\tMB written\tB/value\tallocs/ev\t%s s/M\tbroker s/M\tcores busy\t\n", ceiling, db)
	for _, c := range res.Cases {
		md := &c.Median
		srcEPS, src := c.PgEPS, md.PgEPS
		if len(c.MySQLEPS) > 0 {
			srcEPS, src = c.MySQLEPS, md.MySQLEPS
		}
		ratio, pg, kf := "-", "-", "-"
		if len(c.Ratio) > 0 {
			ratio = fmt.Sprintf("%.2f (%s)", md.Ratio, md.Lower[:2])
			pg = fmt.Sprintf("%.0f", src)
			kf = fmt.Sprintf("%.0f", md.KafkaEPS)
		}
		allocs := "-"
		if c.Profile != nil && c.Profile.MallocsPerEvent > 0 {
			allocs = fmt.Sprintf("%.1f", c.Profile.MallocsPerEvent)
		}
		fmt.Fprintf(tw, "%s/%s\t%d\t%.0f\t%.0f\t%s\t%s\t%s\t%.2f\t%.0f\t%.1f\t%.0f\t%s\t%s\t%s\t%s\t\n",
			c.Workload, c.Width, c.Events, md.SluiceEPS, md.SluiceWallEPS, pg, kf, ratio, md.SluiceCPU, md.PeakRSS,
			float64(c.KeyBytes+c.ValueBytes+c.HeaderBytes)/1e6, c.AvgValue, allocs,
			orDash("%.2f", md.ServerCPU), orDash("%.2f", md.BrokerCPU), orDash("%.2f", md.Cores))
		if c.Compare != nil {
			// The second binary against the same repeats' ceilings.
			var rs []float64
			eps := c.ratioEPS(c.Compare)
			for i := range min(len(eps), len(srcEPS), len(c.KafkaEPS)) {
				rs = append(rs, eps[i]/min(srcEPS[i], c.KafkaEPS[i]))
			}
			ratio := "-"
			if len(rs) > 0 {
				ratio = fmt.Sprintf("%.2f", median(rs))
			}
			fmt.Fprintf(tw, "B %s/%s\tB/A %.2f\t%.0f\t%.0f\t\t\t%s\t%.2f\t%.0f\t\t\t\t\n", c.Workload, c.Width,
				md.CompareRatio, md.CompareEPS, median(c.Compare.WallEPS), ratio, md.CompareCPU, maxOf(c.Compare.RSS))
		}
		if d := c.Debezium; d != nil {
			// Debezium Server on the same WAL; the events column holds
			// sluice's rate over Debezium's (median of the repeats').
			bpv := "-"
			if c.DebeziumAvgValue > 0 {
				bpv = fmt.Sprintf("%.0f", c.DebeziumAvgValue)
			}
			fmt.Fprintf(tw, "D %s/%s\tS/D %.2f\t%.0f\t%.0f\t\t\t\t%.2f (%.2f)\t%.0f\t\t%s\t\t\n", c.Workload, c.Width,
				md.DebeziumRatio, md.DebeziumEPS, median(d.WallEPS), md.DebeziumCPU, md.DebeziumRunCPU, md.DebeziumRSS, bpv)
		}
	}
	tw.Flush()
	for _, c := range res.Cases {
		if c.Profile == nil || c.Profile.Goroutines == nil {
			continue
		}
		g := c.Profile.Goroutines
		fmt.Fprintf(w, "\n%s/%s, profiling run: processors held from the first record to the last (%.2f s; execution trace %s):\n", c.Workload, c.Width, g.SpanS, c.Profile.Trace)
		for _, k := range g.Kinds {
			fmt.Fprintf(w, "  %5.2f  %6.3f s  %3d goroutine(s)  %s\n", k.Share, k.RunningS, k.Goroutines, shortName(k.Name))
		}
	}
	if len(res.Latency) > 0 {
		fmt.Fprintf(w, "\nlatency commit (source.ts_us) → Kafka append (LogAppendTime), live, single-row insert transactions of small rows (synchronous_commit on), after a 1 s warm-up:\n")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "binary\ttarget ev/s\toffered ev/s\twriters\tevents\tp50 ms\tp95 ms\tp99 ms\tmax ms\tCPU s/M ev\tpeak RSS MiB\tcores busy: machine\twriter\twalsender\tsluice\t")
		for _, l := range res.Latency {
			fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%d\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.2f\t%.0f\t%.2f\t%.2f\t%.2f\t%.2f\t\n", l.Binary, l.TargetRate, l.OfferedRate, l.Writers, l.Measured,
				l.P50ms, l.P95ms, l.P99ms, l.MaxMs, l.CPU, l.PeakRSS, l.MachineCores, l.WriterCores, l.WalsenderCores, l.SluiceCores)
		}
		tw.Flush()
		fmt.Fprintf(w, "target: %s\n", res.Latency[0].Basis)
	}
	fmt.Fprintln(w)
}
