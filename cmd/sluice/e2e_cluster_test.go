package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/cluster"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// The cluster tests' shape: rows per table before the workload, and the
// group's session timeout (Kafka's smallest by default).
const (
	clusterSeeded  = 2000
	clusterSession = 6 * time.Second
)

// clusterPipe is one pipeline of a cluster test: a workload table, its
// source and its topic.
type clusterPipe struct {
	name, table, topic string
	source, sink       string // YAML blocks without indentation
	eos                bool
	e                  *env // the pipeline's scenario: e.name is the pipeline
	slot               string
	connect            func() (testenv.SQLConn, error)
	state              func() map[int64]int64
	w                  *testenv.Workload
}

// clusterRig is a group of sluice processes sharing pipelines.
type clusterRig struct {
	t       *testing.T
	brokers string
	group   string
	dir     string
	pipes   []*clusterPipe
	members []*clusterMember
}

type clusterMember struct {
	name, admin, cfg string
	d                *daemon
}

// write writes member i's configuration: every member has the same
// pipelines, its own name, admin port and state directory.
func (r *clusterRig) write(m *clusterMember) {
	var b strings.Builder
	fmt.Fprintf(&b, "log: {level: info, format: json}\nhttp: {listen: %q}\nstate_dir: %q\n", m.admin, filepath.Join(r.dir, m.name))
	fmt.Fprintf(&b, "cluster: {group: %s, brokers: [%s], member: %s, session_timeout: %v}\npipelines:\n", r.group, r.brokers, m.name, clusterSession)
	for _, p := range r.pipes {
		fmt.Fprintf(&b, "  %s:\n    source:\n%s    sinks:\n%s", p.name, indent(p.source, 6), indent(p.sink, 6))
	}
	m.cfg = filepath.Join(r.dir, m.name+".yaml")
	if err := os.WriteFile(m.cfg, []byte(b.String()), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

// start launches a new member.
func (r *clusterRig) start() *clusterMember {
	r.t.Helper()
	m := &clusterMember{name: fmt.Sprintf("m%d", len(r.members)), admin: freeAddr(r.t)}
	r.write(m)
	m.d = launchDaemon(r.t, m.cfg, "member "+m.name)
	r.members = append(r.members, m)
	return m
}

// status is `sluice cluster status --json` on the first member's file.
func (r *clusterRig) status() *cluster.Status {
	r.t.Helper()
	cmd := exec.Command(binary, "cluster", "status", "--json", "--config", r.members[0].cfg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		out = append(out, stderr.Bytes()...)
		r.t.Fatalf("sluice cluster status: %v\n%s", err, out)
	}
	var st cluster.Status
	if err := json.Unmarshal(out, &st); err != nil {
		r.t.Fatalf("sluice cluster status: %v\n%s", err, out)
	}
	return &st
}

// assignment is which live member runs which pipelines, from the status.
func (r *clusterRig) assignment() map[string][]string {
	a := map[string][]string{}
	for _, m := range r.status().Members {
		a[m.Name] = m.Pipelines
	}
	return a
}

func (r *clusterRig) member(name string) *clusterMember {
	for _, m := range r.members {
		if m.name == name {
			return m
		}
	}
	r.t.Fatalf("no member %s", name)
	return nil
}

// until polls cond until it holds; the bound only fails a stuck test.
func (r *clusterRig) until(what string, bound time.Duration, cond func() bool) time.Duration {
	r.t.Helper()
	began := time.Now()
	for !cond() {
		if time.Since(began) > bound {
			r.t.Fatalf("waited %v for %s; assignment %v", bound, what, r.assignment())
		}
		for _, m := range r.members {
			select {
			case err := <-m.d.done:
				r.t.Fatalf("member %s exited: %v\n%s", m.name, err, m.d.logs.String())
			default:
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(began)
}

// spread waits until the live members each run want[name] pipelines and
// every pipeline runs somewhere.
func (r *clusterRig) spread(want map[string]int) {
	r.t.Helper()
	r.until(fmt.Sprintf("the assignment %v", want), 2*time.Minute, func() bool {
		st := r.status()
		if len(st.Unassigned) != 0 || len(st.Members) != len(want) || st.State != "Stable" {
			return false
		}
		for _, m := range st.Members {
			if len(m.Pipelines) != want[m.Name] {
				return false
			}
		}
		return true
	})
}

// events is a pipeline's sluice_events_total on a member.
func (r *clusterRig) events(m *clusterMember, p string) float64 {
	return metricAt(r.t, m.admin, fmt.Sprintf(`sluice_events_total{pipeline=%q}`, p))
}

// streaming waits until every pipeline reads its log: the PostgreSQL slot
// is active, the MySQL source logged that it streams.
func (r *clusterRig) streaming() {
	r.t.Helper()
	for _, p := range r.pipes {
		r.until(p.name+" to stream", 2*time.Minute, func() bool {
			if p.slot != "" {
				p.e.reconnect()
				ok, err := testenv.SlotStreaming(context.Background(), p.e.db, p.slot)
				return err == nil && ok
			}
			for _, m := range r.members {
				for _, line := range strings.Split(m.d.logs.String(), "\n") {
					if strings.Contains(line, `"msg":"streaming"`) && strings.Contains(line, `"pipeline":"`+p.name+`"`) {
						return true
					}
				}
			}
			return false
		})
	}
}

// newClusterRig makes six pipelines: three PostgreSQL ones on the test
// database, one on a database of its own, two MariaDB ones; one of each
// kind writes exactly once. Everything they create is removed at the end.
func newClusterRig(t *testing.T) *clusterRig {
	pgDSN := testenv.Get(t, "SLUICE_TEST_PG_DSN")
	myDSN := testenv.Get(t, "SLUICE_TEST_MYSQL_DSN")
	r := &clusterRig{t: t, brokers: testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS"), dir: t.TempDir()}
	base := fmt.Sprintf("cl%d", time.Now().UnixNano()%1_000_000)
	r.group = base
	testenv.DeleteTopicsAtEnd(t, r.brokers, "sluice_cluster_"+r.group)
	testenv.DeleteGroupAtEnd(t, r.brokers, r.group)

	// A second database, dropped after its pipeline's slot.
	u, err := url.Parse(pgDSN)
	if err != nil {
		t.Fatal(err)
	}
	db2 := base + "_db2"
	first := newEnv(t, "")
	first.exec("CREATE DATABASE " + db2)
	t.Cleanup(func() { first.exec("DROP DATABASE IF EXISTS " + db2 + " WITH (FORCE)") })
	u.Path = "/" + db2
	dsn2 := u.String()

	for _, spec := range []struct {
		suffix, dsn string
		mysql, eos  bool
	}{{"pg1", pgDSN, false, false}, {"pg2", pgDSN, false, false}, {"pgdb2", dsn2, false, false}, {"pgeos", pgDSN, false, true},
		{"my1", myDSN, true, false}, {"myeos", myDSN, true, true}} {
		p := &clusterPipe{name: base + "_" + spec.suffix, table: "e2e_" + base + "_" + spec.suffix, eos: spec.eos}
		ddl := fmt.Sprintf("DROP TABLE IF EXISTS %[1]s; CREATE TABLE %[1]s (id bigint PRIMARY KEY, v bigint NOT NULL, pad text)", p.table)
		if spec.mysql {
			me := newMyEnv(t, "DROP TABLE IF EXISTS "+p.table, "CREATE TABLE "+p.table+" (id bigint PRIMARY KEY, v bigint NOT NULL, pad text)")
			t.Cleanup(func() { me.db.Execute("DROP TABLE IF EXISTS " + p.table) })
			p.e, p.connect = me.env, me.myConnect
			p.state = func() map[int64]int64 { return me.myTableState(t, p.table) }
			p.topic = p.name + ".sluice." + p.table
			p.source = fmt.Sprintf("type: mysql\ndsn: %q\ntables: [%s]\nheartbeat: 1s\ndrain_timeout: 10s\nsnapshot: {mode: never}\n"+
				"offsets: {store: kafka, brokers: [%s], topic: %s.offsets, flush_interval: 100ms}", spec.dsn, p.table, r.brokers, p.name)
		} else {
			p.e = newEnvDSN(t, spec.dsn, ddl+"; ALTER TABLE "+p.table+" REPLICA IDENTITY FULL")
			t.Cleanup(func() { p.e.exec("DROP TABLE IF EXISTS " + p.table) })
			p.connect = p.e.pgConnect
			p.state = func() map[int64]int64 { return p.e.tableState(t, p.table) }
			p.topic = p.name + ".public." + p.table
			p.slot = "sluice_" + p.name
			p.source = fmt.Sprintf("type: postgres\ndsn: %q\ntables: [public.%s]\nstatus_interval: 1s\ndrain_timeout: 10s\nsnapshot: {mode: never}",
				spec.dsn, p.table)
		}
		p.e.name = p.name // the env's cleanup drops the pipeline's slot and publication
		testenv.DeleteTopicsAtEnd(t, r.brokers, p.name)
		p.sink = fmt.Sprintf("kafka:\n  brokers: [%s]\n  linger: 1ms\n  topic_creation: {partitions: 3}", r.brokers)
		if spec.eos {
			p.sink = eosSink(r.brokers, p.name)
		}
		r.pipes = append(r.pipes, p)
	}
	return r
}

// TestClusterFailover: six pipelines (four PostgreSQL ones over two
// databases, two MariaDB ones; one of each writes exactly once) on a
// cluster of sluice processes under a write workload on every table. One
// member runs them all; two more join and each takes two; a member that
// runs an exactly-once pipeline is killed with kill -9 and its pipelines
// resume on the others after the session timeout; another leaves with
// SIGTERM and hands its pipelines over at once; the last one runs all
// six. Every topic then equals its table (nothing lost), and the
// exactly-once topics hold every change once (nothing duplicated).
func TestClusterFailover(t *testing.T) {
	r := newClusterRig(t)
	m0 := r.start()
	r.spread(map[string]int{"m0": 6})
	r.streaming()
	if a := metricAt(t, m0.admin, fmt.Sprintf(`sluice_cluster_pipeline_assigned{group=%q,member="m0",pipeline=%q}`, r.group, r.pipes[0].name)); a != 1 {
		t.Errorf("m0's sluice_cluster_pipeline_assigned for %s = %v, want 1", r.pipes[0].name, a)
	}

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	var fold []*topicFold
	for _, p := range r.pipes {
		c, err := p.connect()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Exec(fmt.Sprintf("INSERT INTO %s (id, v, pad) SELECT seq, 0, 'seed' FROM (%s) s", p.table, seqSQL(p.slot == "", clusterSeeded))); err != nil {
			t.Fatal(err)
		}
		c.Close()
		p.w = testenv.StartWorkload(t, p.table, clusterSeeded, 1, seed, p.connect)
		if p.eos {
			fold = append(fold, p.e.foldCommitted(t, p.topic))
		} else {
			fold = append(fold, p.e.foldTopics(t, p.topic))
		}
	}

	// Scale out: 1 → 3.
	r.start()
	r.start()
	r.spread(map[string]int{"m0": 2, "m1": 2, "m2": 2})
	r.streaming()

	// kill -9 a member that runs an exactly-once pipeline (m1 or m2).
	a := r.assignment()
	victim, heir := r.member("m1"), r.member("m2")
	if !slices.ContainsFunc(a["m1"], r.isEOS) && slices.ContainsFunc(a["m2"], r.isEOS) {
		victim, heir = heir, victim
	}
	moved := a[victim.name]
	base := map[string]float64{}
	for _, p := range moved {
		for _, m := range []*clusterMember{m0, heir} {
			base[m.name+"/"+p] = r.events(m, p)
		}
	}
	if err := victim.d.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-victim.d.done
	r.members = slices.DeleteFunc(r.members, func(m *clusterMember) bool { return m == victim })
	// Resumed: each moved pipeline hands events to the sinks on a live
	// member again.
	resumed := r.until("the killed member's pipelines to resume", 2*time.Minute, func() bool {
		for _, p := range moved {
			if r.events(m0, p) <= base["m0/"+p] && r.events(heir, p) <= base[heir.name+"/"+p] {
				return false
			}
		}
		return true
	})
	t.Logf("kill -9 of %s (pipelines %v): they ran again on the others %v after the kill (session timeout %v)",
		victim.name, moved, resumed.Round(100*time.Millisecond), clusterSession)
	r.spread(map[string]int{"m0": 3, heir.name: 3})

	// Scale in: the heir leaves with SIGTERM and hands over at once.
	left := time.Now()
	if code := heir.d.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("%s: exit code %d after SIGTERM", heir.name, code)
	}
	r.members = slices.DeleteFunc(r.members, func(m *clusterMember) bool { return m == heir })
	r.spread(map[string]int{"m0": 6})
	t.Logf("%s left with SIGTERM; m0 ran all six %v after the signal", heir.name, time.Since(left).Round(100*time.Millisecond))
	r.streaming()
	for _, p := range r.pipes {
		p.w.WaitTxs(20) // the workload goes on under the last member
	}

	for i, p := range r.pipes {
		stats := p.w.Stop()
		want := p.state()
		got := fold[i].until(want, 3*time.Minute)
		missing, stale, resurrected := stateDiff(got, want)
		t.Logf("%s: workload %v; %d records; %d rows: %d missing, %d stale, %d resurrected", p.name, stats, fold[i].records, len(want), missing, stale, resurrected)
		testenv.SameState(t, got, want)
		if c := fold[i].chain; c != nil && c.breaks != 0 {
			t.Errorf("%s: %d changes read twice or missing; the first: %s", p.name, c.breaks, strings.Join(c.first, "; "))
		}
	}
	r.until("m0 ready", time.Minute, func() bool {
		resp, err := http.Get("http://" + m0.admin + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	out, err := exec.Command(binary, "cluster", "status", "--config", m0.cfg).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "1 member(s)") || !strings.Contains(string(out), strings.Join(r.names(), ",")) {
		t.Errorf("sluice cluster status: %v\n%s", err, out)
	}
	if code := m0.d.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("m0: exit code %d after SIGTERM", code)
	}
}

func (r *clusterRig) isEOS(name string) bool {
	return slices.ContainsFunc(r.pipes, func(p *clusterPipe) bool { return p.name == name && p.eos })
}

func (r *clusterRig) names() []string {
	var ns []string
	for _, p := range r.pipes {
		ns = append(ns, p.name)
	}
	slices.Sort(ns)
	return ns
}

// seqSQL selects the integers 1 … n as seq, in MySQL's dialect or
// PostgreSQL's.
func seqSQL(mysql bool, n int) string {
	if mysql {
		return fmt.Sprintf("SELECT seq FROM seq_1_to_%d", n)
	}
	return fmt.Sprintf("SELECT g AS seq FROM generate_series(1, %d) g", n)
}
