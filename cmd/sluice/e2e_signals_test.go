package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestAdminBase: where the CLI looks for the daemon's admin endpoint.
func TestAdminBase(t *testing.T) {
	for _, c := range []struct {
		listen, override, want string
		err                    bool
	}{
		{"127.0.0.1:9187", "", "http://127.0.0.1:9187", false},
		{":9187", "", "http://127.0.0.1:9187", false},
		{"0.0.0.0:9000", "", "http://127.0.0.1:9000", false},
		{"[::]:9000", "", "http://[::1]:9000", false},
		{"[::1]:9000", "", "http://[::1]:9000", false},
		{"off", "", "", false},
		{"127.0.0.1:0", "", "", false}, // the daemon picks its port: unknown here
		{"off", "127.0.0.1:9999", "http://127.0.0.1:9999", false},
		{"127.0.0.1:9187", "https://sluice.internal:8443/", "https://sluice.internal:8443", false},
		{"127.0.0.1:9187", "http://", "", true},
	} {
		got, err := adminBase(c.listen, c.override)
		if got != c.want || (err != nil) != c.err {
			t.Errorf("adminBase(%q, %q) = %q, %v; want %q (error: %v)", c.listen, c.override, got, err, c.want, c.err)
		}
	}
}

// sluiceCmd runs the sluice binary and returns its combined output.
func sluiceCmd(args ...string) (string, error) {
	out, err := exec.Command(binary, args...).CombinedOutput()
	return string(out), err
}

// signalRows lists the signal table's rows as "id type data", oldest
// first, leaving out the snapshot's own watermark rows.
func (e *env) signalRows(t *testing.T, table string) []string {
	t.Helper()
	e.reconnect()
	rows, err := e.db.Query(context.Background(), "SELECT id, type, coalesce(data, '') FROM "+table+
		" WHERE type IN ('execute-snapshot', 'stop-snapshot', 'pause-snapshot', 'resume-snapshot', 'log') ORDER BY ctid")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, typ, data string
		if err := rows.Scan(&id, &typ, &data); err != nil {
			t.Fatal(err)
		}
		out = append(out, id+" "+typ+" "+data)
	}
	return out
}

// hasCondition reports whether the signal row "id type data" is a
// snapshot request whose condition for table is filter.
func hasCondition(row, table, filter string) bool {
	f := strings.SplitN(row, " ", 3)
	if len(f) != 3 {
		return false
	}
	req, err := sluice.ParseSnapshotRequest(f[1], f[2])
	return err == nil && req.Conditions[table] == filter
}

// TestSignalCommands: `sluice signal` and `sluice snapshot` ask the
// running daemon through its admin endpoint and print its answer; when
// nothing listens there, they write the signal into the source's signal
// table. A refused request exits non-zero with the reason either way.
func TestSignalCommands(t *testing.T) {
	e := newEnv(t, `DROP TABLE IF EXISTS e2e_sigcli; CREATE TABLE e2e_sigcli (id int PRIMARY KEY, v bigint NOT NULL);
		INSERT INTO e2e_sigcli SELECT g, g FROM generate_series(1, 100) g; DROP TABLE IF EXISTS e2e_sigcli_signal`)
	t.Cleanup(func() { e.exec(`DROP TABLE IF EXISTS e2e_sigcli, e2e_sigcli_signal`) })
	testenv.DeleteTopicsAtEnd(t, e.brokers, e.name)
	e.admin = freeAddr(t)
	e.writeConfig([]string{"public.e2e_sigcli"}, "snapshot: {mode: never}\n      signal_table: public.e2e_sigcli_signal", "")
	cfg := []string{"--config", e.cfgPath}

	// No daemon: the signals go into the signal table (which the source
	// creates when it first runs: start it once).
	d := e.start()
	d.stop(t, syscall.SIGTERM)
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"signal", "--type", "log", "--data", `{"message":"no daemon"}`, "--id", "cli-log"}, "written to the source's signal table"},
		{[]string{"snapshot", "pause"}, "written to the source's signal table"},
		{[]string{"snapshot", "--table", "public.e2e_sigcli", "--where", "id <= 5", "--id", "cli-snap"}, "written to the source's signal table"},
		{[]string{"snapshot", "stop", "--table", "public.e2e_sigcli"}, "written to the source's signal table"},
		{[]string{"snapshot", "resume"}, "written to the source's signal table"},
	} {
		out, err := sluiceCmd(append(c.args, cfg...)...)
		if err != nil || !strings.Contains(out, c.says) || !strings.Contains(out, "no daemon answered at http://"+e.admin) {
			t.Errorf("sluice %s: %v\n%s\nwant it to say %q", strings.Join(c.args, " "), err, out, c.says)
		}
	}
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"snapshot", "--table", "public.cli_typo"}, "public.cli_typo"},
		{[]string{"signal", "--type", "reboot"}, "reboot"},
		{[]string{"signal", "--type", "log", "--data", "{not json"}, "not JSON"},
	} {
		if out, err := sluiceCmd(append(c.args, cfg...)...); err == nil || !strings.Contains(out, c.says) {
			t.Errorf("sluice %s: %v\n%s\nwant a refusal naming %q", strings.Join(c.args, " "), err, out, c.says)
		}
	}
	rows := e.signalRows(t, "e2e_sigcli_signal")
	if len(rows) != 5 || rows[0] != `cli-log log {"message":"no daemon"}` || !strings.Contains(rows[1], " pause-snapshot ") ||
		!strings.HasPrefix(rows[2], "cli-snap execute-snapshot ") || !hasCondition(rows[2], "public.e2e_sigcli", "id <= 5") ||
		!strings.Contains(rows[3], ` stop-snapshot {"data-collections":["public.e2e_sigcli"],"type":"incremental"}`) ||
		!strings.Contains(rows[4], " resume-snapshot ") {
		t.Errorf("the signal table holds:\n%s", strings.Join(rows, "\n"))
	}

	// A running daemon: it acts on the signals written while it was down
	// (pause, a snapshot, its stop, resume: no snapshot read), and its
	// admin endpoint takes the CLI's signals.
	d = e.start()
	e.waitReadyz(t, 200, time.Minute)
	e.waitUntil(t, "the signals written while the daemon was down", time.Minute, func() bool {
		return e.metric(t, `sluice_signals_total{channel="source",pipeline="`+e.name+`",result="accepted",type="resume-snapshot"}`) == 1
	})
	out, err := sluiceCmd(append([]string{"signal", "--type", "log", "--data", `{"message":"via the daemon"}`}, cfg...)...)
	if err != nil || !strings.Contains(out, "accepted") {
		t.Errorf("sluice signal with a daemon: %v\n%s", err, out)
	}
	out, err = sluiceCmd(append([]string{"snapshot", "--table", "public.cli_typo"}, cfg...)...)
	if err == nil || !strings.Contains(out, "refused") || !strings.Contains(out, "public.cli_typo") {
		t.Errorf("a refused snapshot request with a daemon: %v\n%s", err, out)
	}
	out, err = sluiceCmd(append([]string{"snapshot", "--table", "public.e2e_sigcli", "--where", "id <= 10"}, cfg...)...)
	if err != nil || !strings.Contains(out, "accepted") {
		t.Fatalf("sluice snapshot with a daemon: %v\n%s", err, out)
	}
	recs := e.consume([]string{e.name + ".public.e2e_sigcli"}, 10, time.Minute)
	if len(recs) != 10 {
		t.Errorf("%d snapshot reads, want the 10 rows with id <= 10", len(recs))
	}
	// --admin overrides the file: nothing listens there, so this one goes
	// through the signal table even though the daemon runs.
	out, err = sluiceCmd(append([]string{"signal", "--type", "log", "--data", `{"message":"around the daemon"}`, "--admin", freeAddr(t)}, cfg...)...)
	if err != nil || !strings.Contains(out, "written to the source's signal table") {
		t.Errorf("sluice signal --admin to a closed port: %v\n%s", err, out)
	}
	series := `sluice_signals_total{channel="admin",pipeline="` + e.name + `",result=`
	for s, want := range map[string]float64{
		`"accepted",type="log"}`:              1,
		`"accepted",type="execute-snapshot"}`: 1,
		`"refused",type="execute-snapshot"}`:  1,
	} {
		if got := e.metric(t, series+s); got != want {
			t.Errorf("%s%s = %v, want %v", series, s, got, want)
		}
	}
	if rows := e.signalRows(t, "e2e_sigcli_signal"); len(rows) != 6 || !strings.Contains(rows[5], "around the daemon") {
		t.Errorf("signals through the admin endpoint must not be written into the signal table; it holds:\n%s", strings.Join(rows, "\n"))
	}
	if code := d.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit code %d", code)
	}
}

// signalRoute sends signals through one channel.
type signalRoute struct {
	name string
	// send sends typ (execute-, stop-, pause- or resume-snapshot,
	// blockingSnapshot, log) for arg: the table (empty for pause and
	// resume), or the log signal's message.
	send func(t *testing.T, e *env, typ, arg string)
}

// blockingSnapshot is signalRoute.send's typ for an execute-snapshot of
// type blocking.
const blockingSnapshot = "execute-snapshot/blocking"

// signalOf is the signal type and the data sluice's CLI and Debezium's
// docs give each signal.
func signalOf(typ, arg string) (sigType, data string) {
	switch typ {
	case sluice.SignalExecuteSnapshot:
		return typ, sluice.SnapshotSignalData(sluice.SnapshotKindIncremental, []string{arg}, "")
	case blockingSnapshot:
		return sluice.SignalExecuteSnapshot, sluice.SnapshotSignalData(sluice.SnapshotKindBlocking, []string{arg}, "")
	case sluice.SignalStopSnapshot:
		return typ, `{"data-collections": ["` + arg + `"], "type": "incremental"}`
	case sluice.SignalLog:
		return typ, `{"message": "` + arg + `"}`
	}
	return typ, `{"type": "incremental"}`
}

var signalRoutes = []signalRoute{
	{"signal table", func(t *testing.T, e *env, typ, arg string) {
		typ, data := signalOf(typ, arg)
		e.exec("INSERT INTO e2e_sigs_signal (id, type, data) VALUES ($1, $2, $3)", fmt.Sprintf("t-%d", time.Now().UnixNano()), typ, data)
	}},
	{"kafka topic", func(t *testing.T, e *env, typ, arg string) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(e.brokers, ",")...))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		// Debezium's format: data as an object.
		typ, data := signalOf(typ, arg)
		value := fmt.Sprintf(`{"id": "k-%d", "type": %q, "data": %s}`, time.Now().UnixNano(), typ, data)
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: e.name + ".signals", Key: []byte(e.name), Value: []byte(value)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}},
	{"admin endpoint", func(t *testing.T, e *env, typ, arg string) {
		_, data := signalOf(typ, arg)
		args := map[string][]string{
			sluice.SignalExecuteSnapshot: {"snapshot", "--table", arg},
			blockingSnapshot:             {"snapshot", "--table", arg, "--blocking"},
			sluice.SignalStopSnapshot:    {"snapshot", "stop", "--table", arg},
			sluice.SignalLog:             {"signal", "--type", "log", "--data", data},
			sluice.SignalPauseSnapshot:   {"snapshot", "pause"},
			sluice.SignalResumeSnapshot:  {"snapshot", "resume"},
		}[typ]
		out, err := sluiceCmd(append(args, "--config", e.cfgPath)...)
		if err != nil || !strings.Contains(out, "accepted") {
			t.Fatalf("sluice %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}},
}

// TestSignalChannels: through each channel (the signal table, the Kafka
// signal topic, the admin endpoint through the CLI), an incremental
// snapshot of 200,000 rows is started, paused in the middle (its rows
// stop while the stream goes on), resumed (every key arrives), and
// another one is stopped in the middle (no snapshot read after that).
func TestSignalChannels(t *testing.T) {
	for _, route := range signalRoutes {
		t.Run(strings.ReplaceAll(route.name, " ", "_"), func(t *testing.T) { signalChannel(t, route) })
	}
}

func signalChannel(t *testing.T, route signalRoute) {
	const n = 200000
	e := newEnv(t, `DROP TABLE IF EXISTS e2e_sigs_a, e2e_sigs_b, e2e_sigs_c, e2e_sigs_live, e2e_sigs_signal;
		CREATE TABLE e2e_sigs_a (id int PRIMARY KEY, v bigint NOT NULL, pad text);
		CREATE TABLE e2e_sigs_b (id int PRIMARY KEY, v bigint NOT NULL, pad text);
		CREATE TABLE e2e_sigs_c (id int PRIMARY KEY, v bigint NOT NULL);
		CREATE TABLE e2e_sigs_live (id int PRIMARY KEY, v bigint NOT NULL);
		INSERT INTO e2e_sigs_c SELECT g, g FROM generate_series(1, 2000) g;
		INSERT INTO e2e_sigs_a SELECT g, 0, repeat('p', 60) FROM generate_series(1, 200000) g;
		INSERT INTO e2e_sigs_b SELECT g, 0, repeat('p', 60) FROM generate_series(1, 200000) g;
		ANALYZE e2e_sigs_a, e2e_sigs_b`)
	t.Cleanup(func() {
		e.exec(`DROP TABLE IF EXISTS e2e_sigs_a, e2e_sigs_b, e2e_sigs_c, e2e_sigs_live, e2e_sigs_signal`)
	})
	testenv.DeleteTopicsAtEnd(t, e.brokers, e.name) // the change topics and the signal topic
	_, adm := e.kafkaAdmin()
	group := "sluice-signals-" + e.name
	deleteGroupAtEnd(t, adm, group)
	e.admin = freeAddr(t)
	e.writeConfig([]string{"public.e2e_sigs_a", "public.e2e_sigs_b", "public.e2e_sigs_c", "public.e2e_sigs_live"},
		"snapshot: {mode: never, chunk_size: 1000, workers: 1}\n      signal_table: public.e2e_sigs_signal", "")
	e.addPipelineKey("signals:\n  kafka: {brokers: [%s], topic: %s.signals}", e.brokers, e.name)
	d := e.start()
	e.waitReadyz(t, 200, time.Minute)
	e.waitUntil(t, "the signal topic's consumer group", time.Minute, func() bool { return groupStarted(adm, group) })

	topicA, topicB, live := e.name+".public.e2e_sigs_a", e.name+".public.e2e_sigs_b", newLiveProbe(t, e)
	jobs := func(state string) float64 {
		return e.metric(t, `sluice_incremental_snapshot_jobs{pipeline="`+e.name+`",state="`+state+`"}`)
	}
	rows := func(table string) float64 {
		return e.metric(t, `sluice_snapshot_rows{kind="incremental",pipeline="`+e.name+`",table="`+table+`"}`)
	}

	// Start, pause in the middle: the snapshot's rows stop while the
	// stream goes on.
	route.send(t, e, sluice.SignalExecuteSnapshot, "public.e2e_sigs_a")
	e.waitUntil(t, "10,000 snapshot rows of e2e_sigs_a", 2*time.Minute, func() bool { return rows("public.e2e_sigs_a") >= 10000 })
	route.send(t, e, sluice.SignalPauseSnapshot, "")
	paused := `sluice_incremental_snapshot_paused{pipeline="` + e.name + `"}`
	e.waitUntil(t, "the pause", time.Minute, func() bool { return e.metric(t, paused) == 1 })
	live.roundTrip(t) // a chunk read when the pause came is finished by now
	before := rows("public.e2e_sigs_a")
	live.roundTrip(t)
	live.roundTrip(t)
	if after := rows("public.e2e_sigs_a"); after != before || after >= n {
		t.Fatalf("paused at %.0f rows: %.0f while the stream went on (want no change, short of %d)", before, after, n)
	}
	t.Logf("%s: paused at %.0f rows of %d", route.name, before, n)

	// Resume: every key arrives.
	fold := e.foldTopics(t, topicA)
	route.send(t, e, sluice.SignalResumeSnapshot, "")
	e.waitUntil(t, "the resume", time.Minute, func() bool { return e.metric(t, paused) == 0 })
	want := e.tableState(t, "e2e_sigs_a")
	if got := fold.until(want, 3*time.Minute); len(got) != n {
		t.Fatalf("after the resume %d of %d keys of e2e_sigs_a arrived", len(got), n)
	}

	// Start another, stop it in the middle: no snapshot read after the
	// stop took effect.
	route.send(t, e, sluice.SignalExecuteSnapshot, "public.e2e_sigs_b")
	e.waitUntil(t, "10,000 snapshot rows of e2e_sigs_b", 2*time.Minute, func() bool { return rows("public.e2e_sigs_b") >= 10000 })
	route.send(t, e, sluice.SignalStopSnapshot, "public.e2e_sigs_b")
	e.waitUntil(t, "the stop", time.Minute, func() bool { return jobs("running") == 0 && jobs("queued") == 0 })
	e.caughtUp(t) // what was read before the stop is delivered
	readsB := snapshotReads(t, e, topicB)
	live.roundTrip(t)
	e.caughtUp(t)
	if again := snapshotReads(t, e, topicB); again != readsB || readsB >= n || readsB < 10000 {
		t.Errorf("stopped with %d snapshot reads of e2e_sigs_b, %d later (want the same, between 10,000 and %d)", readsB, again, n)
	}
	t.Logf("%s: stopped after %d rows of %d", route.name, readsB, n)

	// A blocking snapshot: every row arrives, as an initial snapshot
	// marks its rows.
	route.send(t, e, blockingSnapshot, "public.e2e_sigs_c")
	e.waitUntil(t, "the blocking snapshot's topic", time.Minute, func() bool { return topicExists(adm, e.name+".public.e2e_sigs_c") })
	foldC := e.foldTopics(t, e.name+".public.e2e_sigs_c")
	if got := foldC.until(e.tableState(t, "e2e_sigs_c"), 2*time.Minute); len(got) != 2000 {
		t.Fatalf("blocking snapshot: %d of 2000 rows arrived", len(got))
	}
	for _, r := range e.consumeAll([]string{e.name + ".public.e2e_sigs_c"}) {
		var v struct {
			Op     string `json:"op"`
			Source struct {
				Snapshot string `json:"snapshot"`
			} `json:"source"`
		}
		if err := json.Unmarshal(r.value, &v); err != nil || v.Op != "r" || v.Source.Snapshot == "incremental" || v.Source.Snapshot == "false" {
			t.Fatalf("blocking snapshot record op %q source.snapshot %q, want r marked as an initial snapshot's", v.Op, v.Source.Snapshot)
		}
	}

	// A log signal is logged.
	msg := "signal through the " + route.name
	route.send(t, e, sluice.SignalLog, msg)
	e.waitUntil(t, "the log signal in the log", time.Minute, func() bool { return strings.Contains(d.logs.String(), msg) })

	channel := map[string]string{"signal table": sluice.ChannelSource, "kafka topic": sluice.ChannelKafka, "admin endpoint": sluice.ChannelAdmin}[route.name]
	for typ, want := range map[string]float64{sluice.SignalExecuteSnapshot: 3, sluice.SignalPauseSnapshot: 1, sluice.SignalResumeSnapshot: 1,
		sluice.SignalStopSnapshot: 1, sluice.SignalLog: 1} {
		series := fmt.Sprintf(`sluice_signals_total{channel=%q,pipeline=%q,result="accepted",type=%q}`, channel, e.name, typ)
		if got := e.metric(t, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if code := d.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit code %d", code)
	}
}

// topicExists reports whether the brokers list topic: a change topic
// appears with its first record, and a fold reads it only once it exists.
func topicExists(adm *kadm.Client, topic string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	td, err := adm.ListTopics(ctx, topic)
	return err == nil && td.Has(topic) && td[topic].Err == nil
}

// groupStarted reports whether the group has committed offsets: the
// signal channel committed its starting point, so a record written from
// now on is read.
func groupStarted(adm *kadm.Client, group string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return false
	}
	started := false
	offs.Each(func(o kadm.OffsetResponse) { started = started || o.Err == nil && o.At >= 0 })
	return started
}

// snapshotReads counts the snapshot reads (op r) on topic so far.
func snapshotReads(t *testing.T, e *env, topic string) int {
	t.Helper()
	n := 0
	for _, r := range e.consumeAll([]string{topic}) {
		var v struct {
			Op string `json:"op"`
		}
		if r.value != nil && json.Unmarshal(r.value, &v) == nil && v.Op == "r" {
			n++
		}
	}
	return n
}

// liveProbe shows the stream flowing: it inserts a row into a table of
// the pipeline (insert) and waits for its change event on topic.
type liveProbe struct {
	insert func(id int)
	cl     *kgo.Client
	next   int
}

// newLiveProbe probes with e2e_sigs_live (PostgreSQL).
func newLiveProbe(t *testing.T, e *env) *liveProbe {
	return newLiveProbeOn(t, e, e.name+".public.e2e_sigs_live", func(id int) { e.exec("INSERT INTO e2e_sigs_live VALUES ($1, 0)", id) })
}

// newLiveProbeOn probes with insert, whose rows have the key {"id": n},
// and their records on topic.
func newLiveProbeOn(t *testing.T, e *env, topic string, insert func(id int)) *liveProbe {
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(e.brokers, ",")...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond),
		kgo.MetadataMinAge(250*time.Millisecond), kgo.MetadataMaxAge(time.Second)) // the topic appears with the first row
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &liveProbe{insert: insert, cl: cl}
}

func (p *liveProbe) roundTrip(t *testing.T) {
	t.Helper()
	p.next++
	p.insert(p.next)
	key := fmt.Sprintf(`{"id":%d}`, p.next)
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := p.cl.PollFetches(ctx)
		cancel()
		seen := false
		fs.EachRecord(func(r *kgo.Record) { seen = seen || string(r.Key) == key })
		if seen {
			return
		}
	}
	t.Fatalf("the stream did not deliver row %d of the probe table in a minute", p.next)
}
