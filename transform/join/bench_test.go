package join

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/transform"
)

// genSource reads n customers without holding them: the state's fill
// costs what the store costs, not what the fake costs.
type genSource struct {
	sluice.Source
	n int
}

func (g genSource) ReadTable(_ context.Context, name string, fn func(*sluice.Table, sluice.Row) error) error {
	if name == "public.orders" {
		return fn(orders, nil) // no orders yet
	}
	if name != "public.customers" {
		return fmt.Errorf("no table %s", name)
	}
	if err := fn(customers, nil); err != nil {
		return err
	}
	for i := range g.n {
		if err := fn(customers, sluice.Row{num(int64(i)), text("customer name " + strconv.Itoa(i)), text("Oslo")}); err != nil {
			return err
		}
	}
	return nil
}

// benchCustomers is the lookup table's size: SLUICE_JOIN_BENCH_CUSTOMERS,
// default 100,000 (1,000,000 for the figure the README gives).
func benchCustomers(b *testing.B) int {
	n := 100_000
	if s := os.Getenv("SLUICE_JOIN_BENCH_CUSTOMERS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		n = v
	}
	return n
}

func benchJoin(b *testing.B, entry map[string]any, n int) *Join {
	raw := map[string]any{"type": "join", "tables": []any{"public.orders"}, "lookup": "public.customers",
		"on": map[string]any{"customer_id": "id"}, "as": "customer"}
	for k, v := range entry {
		raw[k] = v
	}
	tr, err := transform.New(raw, transform.Env{Pipeline: "bench", Path: "t[0]", StateDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	j := tr.(*Join)
	if err := j.Open(context.Background(), genSource{n: n}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { j.Close() })
	return j
}

// BenchmarkEnrich is the join's cost per enriched event (a lookup as of
// the event's version in a state of benchCustomers customers), and with
// reemit the cost of keeping the row and its reverse index too. It
// reports the process's peak RSS (VmHWM), state included.
func BenchmarkEnrich(b *testing.B) {
	n := benchCustomers(b)
	for _, mode := range []string{"none", "reemit"} {
		b.Run(mode, func(b *testing.B) {
			j := benchJoin(b, map[string]any{"on_lookup_change": mode, "tables": []any{"public.orders"}, "cache_bytes": benchCache(b)}, n)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				e := ev(sluice.OpCreate, orders, uint64(i+1), 1, nil, order(int64(i), int64(i%n)))
				if _, err := j.Apply(e); err != nil {
					b.Fatal(err)
				}
				if e.After[2].Kind != sluice.KindPresent {
					b.Fatal("customer not found")
				}
			}
			b.StopTimer()
			if hwm := peakRSS(); hwm > 0 {
				b.ReportMetric(float64(hwm)/(1<<20), "peak-RSS-MiB")
			}
		})
	}
}

// BenchmarkLookupChange is the cost of one lookup change written into the
// state.
func BenchmarkLookupChange(b *testing.B) {
	n := benchCustomers(b)
	j := benchJoin(b, nil, n)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		id := int64(i % n)
		c := sluice.Row{num(id), text("renamed " + strconv.Itoa(i)), text("Oslo")}
		if _, err := j.Apply(ev(sluice.OpUpdate, customers, uint64(i+1), 1, nil, c)); err != nil {
			b.Fatal(err)
		}
	}
}

// peakRSS is the process's peak resident set in bytes (Linux), 0
// elsewhere.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// benchCache is the store's cache: SLUICE_JOIN_BENCH_CACHE bytes, default
// the join's default.
func benchCache(b *testing.B) int64 {
	if s := os.Getenv("SLUICE_JOIN_BENCH_CACHE"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		return v
	}
	return Config{}.Defaults().CacheBytes
}
