package main

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestMySQLSignalChannels: a MariaDB source without a signal table (what
// a CDC user without write access has) takes its signals from the Kafka
// signal topic and from the admin endpoint through the CLI. An
// incremental snapshot requested on the topic reads every row; one
// requested through the CLI is paused on the topic in the middle (its
// rows stop while the stream goes on) and resumed through the CLI (every
// row arrives); a log signal is accepted; each is counted by channel.
func TestMySQLSignalChannels(t *testing.T) {
	const n = 100_000
	suffix := time.Now().UnixNano() % 1000000
	a, b, live := fmt.Sprintf("e2e_mysig_a_%d", suffix), fmt.Sprintf("e2e_mysig_b_%d", suffix), fmt.Sprintf("e2e_mysig_live_%d", suffix)
	var stmts []string
	for _, tbl := range []string{a, b} {
		stmts = append(stmts, "CREATE TABLE "+tbl+" (id bigint PRIMARY KEY, v bigint NOT NULL, pad text)",
			fmt.Sprintf("INSERT INTO %s SELECT seq, seq, REPEAT('p', 60) FROM seq_1_to_%d", tbl, n))
	}
	e := newMyEnv(t, append(stmts, "CREATE TABLE "+live+" (id bigint PRIMARY KEY, v bigint NOT NULL)")...)
	t.Cleanup(func() { e.db.Execute("DROP TABLE IF EXISTS " + a + ", " + b + ", " + live) })
	testenv.DeleteTopicsAtEnd(t, e.brokers, e.name) // the change topics and the signal topic
	_, adm := e.kafkaAdmin()
	group := "sluice-signals-" + e.name
	deleteGroupAtEnd(t, adm, group)
	e.admin = freeAddr(t)
	e.writeConfig([]string{a, b, live}, "snapshot: {mode: never, chunk_size: 100}")
	e.addPipelineKey("signals:\n  kafka: {brokers: [%s], topic: %s.signals}", e.brokers, e.name)
	d := e.start()
	e.waitReadyz(t, 200, time.Minute)
	e.waitUntil(t, "the signal topic's consumer group", time.Minute, func() bool { return groupStarted(adm, group) })

	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(e.brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	onTopic := func(typ, data string) {
		t.Helper()
		value := fmt.Sprintf(`{"id": "k-%d", "type": %q, "data": %s}`, time.Now().UnixNano(), typ, data)
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: e.name + ".signals", Key: []byte(e.name), Value: []byte(value)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	viaCLI := func(args ...string) {
		t.Helper()
		out, err := sluiceCmd(append(args, "--config", e.cfgPath)...)
		if err != nil || !strings.Contains(out, "accepted") {
			t.Fatalf("sluice %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	rows := func(table string) float64 {
		return e.metric(t, `sluice_snapshot_rows{kind="incremental",pipeline="`+e.name+`",table="sluice.`+table+`"}`)
	}
	paused := `sluice_incremental_snapshot_paused{pipeline="` + e.name + `"}`
	probe := newLiveProbeOn(t, e.env, e.name+".sluice."+live, func(id int) { e.exec(fmt.Sprintf("INSERT INTO %s VALUES (%d, 0)", live, id)) })

	// On the topic: every row of a arrives.
	onTopic(sluice.SignalExecuteSnapshot, `{"data-collections": ["sluice.`+a+`"], "type": "incremental"}`)
	e.waitUntil(t, "the topic of "+a, time.Minute, func() bool { return topicExists(adm, e.name+".sluice."+a) })
	foldA := e.foldTopics(t, e.name+".sluice."+a)
	if got := foldA.until(e.myTableState(t, a), 3*time.Minute); len(got) != n {
		t.Fatalf("%d of %d rows of %s arrived", len(got), n, a)
	}

	// Through the CLI, paused on the topic in the middle, resumed
	// through the CLI.
	viaCLI("snapshot", "--table", "sluice."+b)
	e.waitUntil(t, "5,000 snapshot rows of "+b, 2*time.Minute, func() bool { return rows(b) >= 5000 })
	onTopic(sluice.SignalPauseSnapshot, "null")
	e.waitUntil(t, "the pause", time.Minute, func() bool { return e.metric(t, paused) == 1 })
	probe.roundTrip(t) // a chunk read when the pause came is emitted by now
	before := rows(b)
	probe.roundTrip(t)
	probe.roundTrip(t)
	if after := rows(b); after != before || after >= n {
		t.Fatalf("paused at %.0f rows: %.0f while the stream went on (want no change, short of %d)", before, after, n)
	}
	t.Logf("paused at %.0f rows of %d", before, n)
	foldB := e.foldTopics(t, e.name+".sluice."+b)
	viaCLI("snapshot", "resume")
	e.waitUntil(t, "the resume", time.Minute, func() bool { return e.metric(t, paused) == 0 })
	if got := foldB.until(e.myTableState(t, b), 3*time.Minute); len(got) != n {
		t.Fatalf("after the resume %d of %d rows of %s arrived", len(got), n, b)
	}

	viaCLI("signal", "--type", "log", "--data", `{"message": "mysql signal channels"}`)
	e.waitUntil(t, "the log signal in the log", time.Minute, func() bool { return strings.Contains(d.logs.String(), "mysql signal channels") })
	for _, c := range []struct {
		channel, typ string
		want         float64
	}{
		{sluice.ChannelKafka, sluice.SignalExecuteSnapshot, 1}, {sluice.ChannelKafka, sluice.SignalPauseSnapshot, 1},
		{sluice.ChannelAdmin, sluice.SignalExecuteSnapshot, 1}, {sluice.ChannelAdmin, sluice.SignalResumeSnapshot, 1},
		{sluice.ChannelAdmin, sluice.SignalLog, 1},
	} {
		series := fmt.Sprintf(`sluice_signals_total{channel=%q,pipeline=%q,result="accepted",type=%q}`, c.channel, e.name, c.typ)
		if got := e.metric(t, series); got != c.want {
			t.Errorf("%s = %v, want %v", series, got, c.want)
		}
	}
	if code := d.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit code %d", code)
	}
}
