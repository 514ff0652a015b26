package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// kesMedians are the medians the -kafka-es table shows, per side.
type kesMedians struct {
	DocsPerS, SteadyDPS, CPU, RSS, ESCPU, KafkaCPU, Busy float64
}

func kesMedian(rs []kesRun) kesMedians {
	col := func(f func(kesRun) float64) float64 {
		xs := make([]float64, len(rs))
		for i, r := range rs {
			xs[i] = f(r)
		}
		return median(xs)
	}
	return kesMedians{
		DocsPerS:  col(func(r kesRun) float64 { return r.DocsPerS }),
		SteadyDPS: col(func(r kesRun) float64 { return r.SteadyDPS }),
		CPU:       col(func(r kesRun) float64 { return r.CPU }),
		RSS:       col(func(r kesRun) float64 { return r.RSS }),
		ESCPU:     col(func(r kesRun) float64 { return r.ESCPU }),
		KafkaCPU:  col(func(r kesRun) float64 { return r.KafkaCPU }),
		Busy:      col(func(r kesRun) float64 { return r.Busy }),
	}
}

// printKafkaES prints the -kafka-es figures as a Markdown table, the
// form BENCHMARKS.md keeps them in, with the per-repeat runs below.
func printKafkaES(w io.Writer, res *kesResult) {
	s, l := kesMedian(res.Sluice), kesMedian(res.Loader)
	from, input := "Kafka topic", fmt.Sprintf("%d partitions", res.Partitions)
	if res.Source == "postgres" {
		from, input = "PostgreSQL", "rows inserted 100 per transaction"
	}
	fmt.Fprintf(w, "\n%s → Elasticsearch: %d docs, %s, medians of %d repeats; bulk max_actions %d, max_bytes %d, max_in_flight %d\n",
		from, res.Docs, input, len(res.Sluice), res.MaxActions, res.MaxBytes, res.InFlight)
	if res.RecordBytes > 0 {
		fmt.Fprintf(w, "record value %.0f B on average; ", res.RecordBytes)
	}
	fmt.Fprintf(w, "document source %.0f B on average; %s, load average %s at start\n\n",
		res.DocBytes, res.Machine.CPU, res.Machine.LoadAvg)
	fmt.Fprintln(w, "| run | docs/s | docs/s after start-up | CPU s/M docs | peak RSS MiB | Elasticsearch CPU s/M docs | broker CPU s/M docs | cores busy |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	row := func(name string, m kesMedians) {
		fmt.Fprintf(w, "| %s | %.0f | %.0f | %.2f | %.0f | %.2f | %.2f | %.2f |\n",
			name, m.DocsPerS, m.SteadyDPS, m.CPU, m.RSS, m.ESCPU, m.KafkaCPU, m.Busy)
	}
	row(fmt.Sprintf("sluice (%s source → elasticsearch sink)", res.Source), s)
	row("bulk loader (pre-built documents)", l)
	if l.DocsPerS > 0 && l.CPU > 0 {
		fmt.Fprintf(w, "| sluice / loader | %.2f (per-repeat median) | %.2f | %.2f | %.2f | %.2f | | |\n",
			median(res.Ratio), s.SteadyDPS/l.DocsPerS, s.CPU/l.CPU, s.RSS/l.RSS, s.ESCPU/l.ESCPU)
	}
	fmt.Fprintln(w, "\nper repeat (run order alternates):")
	for i := range res.Sluice {
		if i < len(res.Loader) {
			fmt.Fprintf(w, "  [%d] sluice %.0f docs/s %.2f s/M, loader %.0f docs/s %.2f s/M, ratio %.2f\n",
				i, res.Sluice[i].DocsPerS, res.Sluice[i].CPU, res.Loader[i].DocsPerS, res.Loader[i].CPU, res.Sluice[i].DocsPerS/res.Loader[i].DocsPerS)
		}
	}
	if res.Profile != "" {
		fmt.Fprintf(w, "\nCPU profile of an extra sluice run: %s (go tool pprof -top BINARY %s)\n", res.Profile, res.Profile)
	}
}

func writeKafkaESJSON(path string, res *kesResult) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
