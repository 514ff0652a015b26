package main

// -debezium: Debezium Server beside sluice, on the same WAL.
//
// Each repeat of a PostgreSQL workload also runs Debezium Server 3.6.1
// (scripts/debezium.sh fetches it once and runs it; Java >= 21) on a slot
// of its own made before the workload was written, right after sluice's
// run of the same repeat, so the two alternate. It writes to a fresh topic
// of the same Kafka with the same converter and producer settings as
// sluice: JSON without schemas, the same compression and linger, 1 MiB
// batches, acks=all. Its rate, CPU (utime+stime of the JVM, start-up and
// JIT included, as sluice's start-up is) and peak RSS are taken the way
// sluice's are, and its topic is read back and checked: the expected
// number of records, ops and tombstones.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// dbzScript is scripts/debezium.sh of the module.
func (o *options) dbzScript() string { return filepath.Join(o.scriptsRoot, "scripts", "debezium.sh") }

// fetchDebezium makes sure Debezium Server is unpacked in the cache.
func (b *bench) fetchDebezium(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, b.o.dbzScript(), "fetch")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("scripts/debezium.sh fetch: %v\n%s", err, out)
	}
	return nil
}

// dbzProperties is Debezium Server's configuration for one run: the
// PostgreSQL connector on slot and publication, table only, topics named
// prefix.public.<table>.
func dbzProperties(o *options, w workload, slot, pub, table, prefix string) (string, error) {
	pc, err := pgconn.ParseConfig(o.pgDSN)
	if err != nil {
		return "", fmt.Errorf("-pg: %w", err)
	}
	snapshot := "no_data"
	if w.Kind == "snapshot" {
		snapshot = "initial"
	}
	compression := o.compression // Kafka's names: none, gzip, snappy, lz4, zstd
	if compression == "" {
		compression = "none"
	}
	lines := []string{
		"debezium.sink.type=kafka",
		"debezium.sink.kafka.producer.bootstrap.servers=" + strings.Join(o.brokers, ","),
		"debezium.sink.kafka.producer.key.serializer=org.apache.kafka.common.serialization.StringSerializer",
		"debezium.sink.kafka.producer.value.serializer=org.apache.kafka.common.serialization.StringSerializer",
		"debezium.sink.kafka.producer.compression.type=" + compression,
		fmt.Sprintf("debezium.sink.kafka.producer.linger.ms=%d", o.linger.Milliseconds()),
		"debezium.sink.kafka.producer.batch.size=1048576",
		"debezium.sink.kafka.producer.acks=all",
		"debezium.sink.kafka.producer.enable.idempotence=true",
		"debezium.format.key=json",
		"debezium.format.value=json",
		"debezium.format.key.schemas.enable=false",
		"debezium.format.value.schemas.enable=false",
		"debezium.source.connector.class=io.debezium.connector.postgresql.PostgresConnector",
		"debezium.source.offset.storage.file.filename=data/offsets.dat",
		"debezium.source.offset.flush.interval.ms=1000",
		"debezium.source.database.hostname=" + pc.Host,
		fmt.Sprintf("debezium.source.database.port=%d", pc.Port),
		"debezium.source.database.user=" + pc.User,
		"debezium.source.database.password=" + pc.Password,
		"debezium.source.database.dbname=" + pc.Database,
		"debezium.source.topic.prefix=" + prefix,
		"debezium.source.plugin.name=pgoutput",
		"debezium.source.slot.name=" + slot,
		"debezium.source.publication.name=" + pub,
		"debezium.source.publication.autocreate.mode=disabled",
		"debezium.source.table.include.list=public." + table,
		"debezium.source.snapshot.mode=" + snapshot,
		"quarkus.http.host=127.0.0.1",
		"quarkus.http.port=0",
		"quarkus.log.console.json=false",
	}
	return strings.Join(lines, "\n") + "\n", nil
}

// runDebezium measures Debezium Server for repeat r on slot, into
// cr.Debezium.
func (b *bench) runDebezium(ctx context.Context, cr *caseResult, w workload, r int, slot, pub, table string) error {
	ex := w.expected()
	prefix := fmt.Sprintf("benchdbz%s_%d", b.id, r)
	topic := prefix + ".public." + table
	if err := createTopic(ctx, b.adm, topic, b.o.partitions); err != nil {
		return err
	}
	defer b.deleteTopics(topic)
	dir, err := os.MkdirTemp(b.dir, "debezium-")
	if err != nil {
		return err
	}
	props, err := dbzProperties(b.o, w, slot, pub, table, prefix)
	if err != nil {
		return err
	}
	propsPath := filepath.Join(dir, "application.properties")
	if err := os.WriteFile(propsPath, []byte(props), 0o600); err != nil {
		return err
	}
	dz, err := startDebezium(b.o.dbzScript(), dir, propsPath)
	if err != nil {
		return err
	}
	defer dz.stop(60 * time.Second)
	timeout := 5*time.Minute + time.Duration(ex.records())*time.Millisecond
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// The JVM's start-up (Quarkus, class loading, the first JIT) costs
	// ~10-15 s of CPU here, a large share of a 200,000-event run: the
	// CPU it spends from its first record on is reported too.
	if _, err := waitRecords(wctx, b.adm, topic, 1, dz.alive); err != nil {
		return err
	}
	first := sampleProc(dz.pid())
	if _, err := waitRecords(wctx, b.adm, topic, int64(ex.records()), dz.alive); err != nil {
		return err
	}
	ps := sampleProc(dz.pid())
	ws := sampleProc(b.walsenderPID(ctx, slot))
	if err := dz.stop(60 * time.Second); err != nil {
		return err
	}
	if !ps.OK {
		return errors.New("cannot read /proc of the Debezium Server process")
	}
	st, err := consumeAll(ctx, b.o.brokers, topic, int64(ex.records()), consumeOpts{})
	if err != nil {
		return err
	}
	if err := verifyCounts(st, ex, false); err != nil {
		return fmt.Errorf("Debezium topic %s: %w", topic, err)
	}
	if cr.Debezium == nil {
		cr.Debezium = &sluiceRuns{}
	}
	d := cr.Debezium
	d.EPS = append(d.EPS, rate(ex.events(), st.LastAppend.Sub(st.FirstAppend)))
	d.WallEPS = append(d.WallEPS, rate(ex.events(), st.LastAppend.Sub(dz.started)))
	d.CPU = append(d.CPU, perMillion(ps.CPU, ex.events()))
	if first.OK {
		cr.DebeziumRunCPU = append(cr.DebeziumRunCPU, perMillion(ps.CPU-first.CPU, ex.events()))
	}
	d.RSS = append(d.RSS, float64(ps.HWM)/(1<<20))
	if ws.OK {
		d.WalsenderCPU = append(d.WalsenderCPU, perMillion(ws.CPU, ex.events()))
	}
	if n := st.Records - st.Tombstones; n > 0 {
		cr.DebeziumAvgValue = float64(st.ValueBytes) / float64(n)
	}
	cr.DebeziumRatio = append(cr.DebeziumRatio, last(cr.ratioEPS(&cr.Sluice))/last(cr.ratioEPS(d)))
	b.logf("   [%d] debezium     %9.0f ev/s  cpu %.2f s/M (%.2f from the first record)  rss %.0f MiB", r, last(d.EPS), last(d.CPU), last(cr.DebeziumRunCPU), last(d.RSS))
	return nil
}

// startDebezium runs `debezium.sh serve` with props in dir, its output
// going to dir/debezium.log. Quarkus exits with status 143 or 0 on
// SIGTERM: both are a clean stop.
func startDebezium(script, dir, props string) (*daemon, error) {
	logPath := filepath.Join(dir, "debezium.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(script, "serve", filepath.Join(dir, "run"), props)
	cmd.Stdout, cmd.Stderr = logf, logf
	d := &daemon{name: "Debezium Server", cmd: cmd,
		logTail: func() string { raw, _ := os.ReadFile(logPath); return tail(string(raw), 3000) },
		clean: func(exit error) bool {
			var ee *exec.ExitError
			return exit == nil || errors.As(exit, &ee) && ee.ExitCode() == 143
		}}
	err = d.start()
	logf.Close() // the child holds its own descriptor
	return d, err
}
