package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
)

// The MySQL/MariaDB side of the driver (-source mysql): the same workloads
// written into the binlog by server-side compound statements, the same
// sluice runs and Kafka ceiling, and as the source ceiling a binlog
// reader that receives the events without parsing them.
//
// There are no slots: the binlog keeps every event. Each sluice run gets a
// state directory made before the workload is written, by starting that
// run's sluice once (it stores the binlog position it starts at, then is
// stopped), so every run reads the same backlog from its start.

// myConn is the driver's MySQL connection settings.
type myConn struct {
	user, password, host, db string
	port                     uint16
}

var myDSNRE = regexp.MustCompile(`^([^:@]*)(?::([^@]*))?@tcp\(([^)]*)\)/([^?]*)`)

// parseMyDSN reads user[:password]@tcp(host:port)/db, sluice's DSN form.
func parseMyDSN(s string) (myConn, error) {
	m := myDSNRE.FindStringSubmatch(s)
	if m == nil || m[4] == "" {
		return myConn{}, errors.New("-mysql: want user:password@tcp(host:port)/db")
	}
	host, port, ok := strings.Cut(m[3], ":")
	p, err := strconv.ParseUint(port, 10, 16)
	if !ok || err != nil {
		return myConn{}, errors.New("-mysql: want host:port inside tcp(...)")
	}
	return myConn{user: m[1], password: m[2], host: host, port: uint16(p), db: m[4]}, nil
}

func (c myConn) connect() (*client.Conn, error) {
	conn, err := client.Connect(fmt.Sprintf("%s:%d", c.host, c.port), c.user, c.password, c.db)
	if err != nil {
		return nil, fmt.Errorf("connect to MySQL %s:%d: %w", c.host, c.port, err)
	}
	return conn, nil
}

// myCreateSQL creates the table; the columns mirror createSQL's.
func myCreateSQL(table, width string) string {
	if width == "wide" {
		return fmt.Sprintf(`CREATE TABLE %s (
  id bigint PRIMARY KEY,
  customer_id int NOT NULL,
  amount decimal(14,4) NOT NULL,
  tax decimal(20,6) NOT NULL,
  ratio double,
  active bool NOT NULL,
  sku char(36) NOT NULL,
  status varchar(16) NOT NULL,
  created_at timestamp(6) NOT NULL,
  updated_at datetime(6) NOT NULL,
  title varchar(255) NOT NULL,
  body text NOT NULL,
  attrs json NOT NULL,
  tags json NOT NULL
)`, table)
	}
	return fmt.Sprintf(`CREATE TABLE %s (
  id bigint PRIMARY KEY,
  account int NOT NULL,
  amount decimal(12,2) NOT NULL,
  status varchar(20) NOT NULL,
  created_at timestamp(6) NOT NULL,
  note text
)`, table)
}

// myRowSQL is the select list of row number i, like rowSQL.
func myRowSQL(width, i string) string {
	r := strings.NewReplacer("$i", i)
	if width == "wide" {
		return r.Replace(`$i, $i % 100000, ($i % 1000000) / 7.0, ($i % 9973) * 0.0825, ($i % 1000) / 3.0, $i % 3 <> 0,
  INSERT(INSERT(INSERT(INSERT(MD5($i), 21, 0, '-'), 17, 0, '-'), 13, 0, '-'), 9, 0, '-'),
  ELT(1 + $i % 5, 'new', 'paid', 'shipped', 'delivered', 'returned'),
  TIMESTAMP'2024-01-01 00:00:00' + INTERVAL $i SECOND + INTERVAL $i % 1000 * 123 MICROSECOND,
  TIMESTAMP'2024-01-01 00:00:00' + INTERVAL 2 * $i SECOND,
  CONCAT('Order ', $i, ' for customer ', $i % 100000, ': ', MD5($i * 3), MD5($i * 5)),
  REPEAT(CONCAT(MD5($i * 31), ' '), 33),
  JSON_OBJECT('color', ELT(1 + $i % 3, 'red', 'green', 'blue'), 'size', $i % 50, 'weight', ($i % 1000) / 10.0,
    'dims', JSON_ARRAY($i % 10, $i % 20, $i % 30), 'flags', JSON_OBJECT('gift', $i % 2 = 0, 'express', $i % 7 = 0),
    'comment', REPEAT(CONCAT(MD5($i * 17), ' '), 12)),
  JSON_ARRAY(CONCAT('tag', $i % 7), CONCAT('tag', $i % 11), CONCAT('category-', $i % 13), MD5($i * 7))`)
	}
	return r.Replace(`$i, $i % 10000, ($i % 1000000) / 100.0, ELT(1 + $i % 4, 'new', 'paid', 'shipped', 'cancelled'),
  TIMESTAMP'2024-01-01 00:00:00' + INTERVAL $i SECOND + INTERVAL $i % 1000 * 123 MICROSECOND, CONCAT('note ', MD5($i))`)
}

// mySeq is MariaDB's Sequence engine table of 1..n (rows "seq").
func mySeq(n int) string { return fmt.Sprintf("seq_1_to_%d", max(n, 1)) }

func myPreloadSQL(table string, w workload) string {
	return fmt.Sprintf(`INSERT INTO %s SELECT %s FROM %s`, table, myRowSQL(w.Width, "seq"), mySeq(w.preload()))
}

// myWriteSQL writes the workload with an anonymous compound statement
// (MariaDB's BEGIN NOT ATOMIC); autocommit makes a lone statement its own
// transaction.
func myWriteSQL(table string, w workload) string {
	n, b := w.Events, max(w.Batch, 1)
	switch w.Kind {
	case "single":
		return fmt.Sprintf(`BEGIN NOT ATOMIC DECLARE i BIGINT DEFAULT 1;
  WHILE i <= %d DO INSERT INTO %s SELECT %s; SET i = i + 1; END WHILE;
END`, n, table, myRowSQL(w.Width, "i"))
	case "batch":
		return fmt.Sprintf(`BEGIN NOT ATOMIC DECLARE lo BIGINT DEFAULT 1;
  WHILE lo <= %[1]d DO
    START TRANSACTION;
    INSERT INTO %[2]s SELECT %[3]s FROM %[5]s WHERE seq BETWEEN lo AND LEAST(lo + %[4]d - 1, %[1]d);
    COMMIT;
    SET lo = lo + %[4]d;
  END WHILE;
END`, n, table, myRowSQL(w.Width, "seq"), b, mySeq(n))
	case "update":
		return fmt.Sprintf(`BEGIN NOT ATOMIC DECLARE lo BIGINT DEFAULT 1;
  WHILE lo <= %[1]d DO
    START TRANSACTION;
    UPDATE %[2]s SET %[3]s WHERE id BETWEEN lo AND LEAST(lo + %[4]d - 1, %[1]d);
    COMMIT;
    SET lo = lo + %[4]d;
  END WHILE;
END`, n, table, myUpdateSet(w.Width), b)
	case "mixed":
		// The shape of the PostgreSQL mixed workload: see writeSQL.
		p := w.preload()
		return fmt.Sprintf(`BEGIN NOT ATOMIC DECLARE j, nid, did, u BIGINT DEFAULT 0;
  SET nid = %[1]d;
  WHILE j < %[2]d DO
    IF j %% %[7]d = 0 THEN START TRANSACTION; END IF;
    CASE
      WHEN j %% 10 < 5 THEN SET nid = nid + 1; INSERT INTO %[3]s SELECT %[4]s;
      WHEN j %% 10 < 8 THEN UPDATE %[3]s SET %[5]s WHERE id = %[6]d + 1 + u %% %[6]d; SET u = u + 1;
      ELSE SET did = did + 1; DELETE FROM %[3]s WHERE id = did;
    END CASE;
    IF j %% %[7]d = %[7]d - 1 OR j = %[2]d - 1 THEN COMMIT; END IF;
    SET j = j + 1;
  END WHILE;
END`, p, n, table, myRowSQL(w.Width, "nid"), myUpdateSet(w.Width), p/2, b)
	case "huge":
		return fmt.Sprintf(`INSERT INTO %s SELECT %s FROM %s`, table, myRowSQL(w.Width, "seq"), mySeq(n))
	}
	panic("no MySQL form of workload " + w.Kind)
}

func myUpdateSet(width string) string {
	if width == "wide" {
		return `amount = amount + 1, status = 'updated', updated_at = updated_at + INTERVAL 1 HOUR, active = NOT active`
	}
	return `amount = amount + 1, status = 'updated'`
}

// transactions is how many commits the workload writes: the source
// ceiling reader counts them to know it has everything.
func (w workload) transactions() int {
	b := max(w.Batch, 1)
	switch w.Kind {
	case "single":
		return w.Events
	case "batch", "update", "mixed":
		return (w.Events + b - 1) / b
	}
	return 1
}

// myDaemonConfig is one sluice run's YAML for the MySQL source.
func myDaemonConfig(o *options, pipeline, table, topic string) string {
	return runConfig(o, pipeline, fmt.Sprintf(`type: mysql
      dsn: %s
      tables: [%s.%s]
      drain_timeout: 30s
      snapshot: {mode: never}`, o.mysqlDSN, o.my.db, table), topic)
}

// myPrepareRun starts bin once in a fresh directory so that it stores the
// binlog position it starts from, then stops it: the run made from the
// directory later reads everything written after this.
func (b *bench) myPrepareRun(ctx context.Context, bin, name, table, topic string) (sluiceRun, error) {
	dir, err := os.MkdirTemp(b.dir, "run-")
	if err != nil {
		return sluiceRun{}, err
	}
	pipeline := fmt.Sprintf("bench%s%s", strings.ReplaceAll(b.id, "-", ""), name)
	run := sluiceRun{dir: dir, cfg: myDaemonConfig(b.o, pipeline, table, topic)}
	d, err := startDaemon(bin, dir, run.cfg, "")
	if err != nil {
		return run, err
	}
	defer d.stop(10 * time.Second)
	state := filepath.Join(dir, "sluice-state", pipeline+".mysql.json")
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := os.Stat(state); err == nil {
			break
		}
		if err := d.alive(); err != nil {
			return run, err
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return run, fmt.Errorf("sluice stored no start position in %s", state)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return run, d.stop(30 * time.Second)
}

// runMySQLCase prepares one workload on MySQL/MariaDB and measures it
// repeats times.
func (b *bench) runMySQLCase(ctx context.Context, w workload) (*caseResult, error) {
	o := b.o
	ex := w.expected()
	cr := &caseResult{Workload: w.Kind, Width: w.Width, Events: ex.events(), Records: ex.records()}
	if w.Kind == "batch" || w.Kind == "update" || w.Kind == "mixed" {
		cr.Batch = w.Batch
	}
	table := fmt.Sprintf("bench_%s_%s_%s", b.id, w.Kind, w.Width)
	if _, err := b.my.Execute(myCreateSQL(table, w.Width)); err != nil {
		return nil, fmt.Errorf("create table: %w", err)
	}
	defer func() {
		if !o.keep {
			_, _ = b.my.Execute("DROP TABLE IF EXISTS " + table)
		}
	}()
	if w.preload() > 0 {
		if _, err := b.my.Execute(myPreloadSQL(table, w)); err != nil {
			return nil, fmt.Errorf("preload: %w", err)
		}
	}
	runs := o.repeats
	if o.profileDir != "" {
		runs++
	}
	topicOf := func(r int, suffix string) string {
		return fmt.Sprintf("bench.%s.%s.%s.r%d%s", b.id, w.Kind, w.Width, r, suffix)
	}
	// Every run's start position, taken before the workload is written.
	prep := make([]sluiceRun, runs)
	cmp := make([]sluiceRun, o.repeats)
	for r := range runs {
		bin := b.bin
		if r >= o.repeats {
			bin = b.profBin
		}
		var err error
		if prep[r], err = b.myPrepareRun(ctx, bin, fmt.Sprintf("r%d", r), table, topicOf(r, "")); err != nil {
			return nil, fmt.Errorf("prepare run: %w", err)
		}
		if o.compare != "" && r < o.repeats {
			if cmp[r], err = b.myPrepareRun(ctx, o.compare, fmt.Sprintf("r%db", r), table, topicOf(r, "b")); err != nil {
				return nil, fmt.Errorf("prepare compare run: %w", err)
			}
		}
	}
	res, err := b.my.Execute("SHOW MASTER STATUS")
	if err != nil || res.RowNumber() == 0 {
		return nil, fmt.Errorf("SHOW MASTER STATUS: binary logging must be on (%v)", err)
	}
	file, _ := res.GetString(0, 0)
	pos, _ := res.GetUint(0, 1)
	start := mysql.Position{Name: file, Pos: uint32(pos)}

	t0 := time.Now()
	if _, err := b.my.Execute(myWriteSQL(table, w)); err != nil {
		return nil, fmt.Errorf("write workload: %w", err)
	}
	cr.WriteS = time.Since(t0).Seconds()
	b.logf("   workload written in %.1f s", cr.WriteS)

	for r := range runs {
		profiling := r >= o.repeats
		if o.ceilings && !profiling {
			rctx, cancel := context.WithTimeout(ctx, 2*time.Minute+time.Duration(ex.records())*time.Millisecond)
			rr, err := readBinlog(rctx, o.my, start, w.transactions(), ex.events())
			cancel()
			if err != nil {
				return nil, err
			}
			cr.MySQLEPS = append(cr.MySQLEPS, rate(rr.Rows, rr.Last.Sub(rr.First)))
			b.logf("   [%d] mysql ceiling %8.0f ev/s (binlog received unparsed, %d transactions)", r, last(cr.MySQLEPS), w.transactions())
		}
		err := b.measureSluice(ctx, cr, w, r, profiling,
			func(string) sluiceRun { return prep[r] }, func(string) sluiceRun { return cmp[r] }, nil, cr.MySQLEPS)
		if err != nil {
			return nil, err
		}
	}
	cr.medians(o, cr.MySQLEPS, "mysql")
	return cr, nil
}

// readBinlog is the MySQL ceiling: a replication client (go-mysql, raw
// mode: events are received and framed, not parsed) that reads from start
// until it has seen txs commits (XID events). rows is the number of row
// changes those transactions hold, reported as its Rows.
func readBinlog(ctx context.Context, c myConn, start mysql.Position, txs, rows int) (readerResult, error) {
	rr := readerResult{Started: time.Now()}
	sy := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID: 2_000_000_000 + rand.Uint32N(100_000_000), Flavor: mysql.MariaDBFlavor,
		Host: c.host, Port: c.port, User: c.user, Password: c.password,
		RawModeEnabled: true, EventCacheCount: 256, DisableRetrySync: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	defer sy.Close()
	st, err := sy.StartSync(start)
	if err != nil {
		return rr, fmt.Errorf("mysql ceiling: start binlog dump: %w", err)
	}
	seen := 0
	for seen < txs {
		ev, err := st.GetEvent(ctx)
		if err != nil {
			return rr, fmt.Errorf("mysql ceiling: %d of %d transactions: %w", seen, txs, err)
		}
		now := time.Now()
		switch ev.Header.EventType {
		case replication.ROTATE_EVENT, replication.FORMAT_DESCRIPTION_EVENT, replication.HEARTBEAT_EVENT,
			replication.MARIADB_GTID_LIST_EVENT, replication.MARIADB_BINLOG_CHECKPOINT_EVENT, replication.PREVIOUS_GTIDS_EVENT:
			continue
		case replication.XID_EVENT:
			seen++
			rr.Last = now
		}
		if rr.First.IsZero() {
			rr.First = now
		}
		rr.Bytes += int64(len(ev.RawData))
	}
	rr.Rows = rows
	return rr, nil
}
