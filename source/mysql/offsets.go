package mysql

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/atomicfile"
	"github.com/sluice-cdc/sluice/internal/kafkaconn"
	"github.com/sluice-cdc/sluice/internal/kvstore"
	"github.com/sluice-cdc/sluice/source"
)

// offset is what the source stores once the sinks acknowledged
// everything before it: where the binlog stream resumes and, while an
// initial snapshot runs, how far it got.
type offset struct {
	Version  int    `json:"version"`
	ServerID uint32 `json:"server_id"` // of the server, to notice a different one
	// ServerUUID is MySQL's server_uuid ("" on MariaDB, which has none).
	ServerUUID string `json:"server_uuid,omitempty"`
	// File and Pos are the binlog file and the offset after the last
	// acknowledged transaction.
	File string `json:"file"`
	Pos  uint32 `json:"pos"`
	// GTIDs is the executed GTID set (MariaDB: one GTID per domain)
	// including the last acknowledged transaction; empty when the server
	// has no GTIDs.
	GTIDs string `json:"gtids,omitempty"`
	// Snapshot is the initial snapshot in progress; nil when none runs.
	Snapshot *snapshotState `json:"snapshot,omitempty"`
	// SnapshotDone records that an initial snapshot completed.
	SnapshotDone bool `json:"snapshot_done,omitempty"`
	// Incremental is the incremental snapshot work (incremental.go):
	// queued and running jobs with their acknowledged progress, the jobs
	// finished or given up lately, whether snapshots are paused. Saved
	// with every offset (incStore).
	Incremental *incrementalState `json:"incremental,omitempty"`
}

// snapshotState is the progress of the initial snapshot. The stream
// position of the offset is where streaming starts once it is done.
type snapshotState struct {
	Tables []*tableProgress `json:"tables"`
}

// tableProgress is one table of the snapshot.
type tableProgress struct {
	Table string `json:"table"` // db.table
	// LastKey is the text form of the key of the last acknowledged row;
	// nil before the first chunk.
	LastKey []keyValue `json:"last_key,omitempty"`
	// KeyColumns names the key LastKey is of: a restart after the key
	// changed reads the table from the start (empty in offsets of
	// versions before it: LastKey's length is then the check).
	KeyColumns []string `json:"key_columns,omitempty"`
	Rows       int64    `json:"rows"`
	Done       bool     `json:"done,omitempty"`
}

// keyValue is one key column's value, passed back to the server as a
// statement parameter of the type it was read as.
type keyValue struct {
	Text string `json:"t"`
	Hex  bool   `json:"h,omitempty"` // Text is hex of binary bytes
	// Type is keySigned, keyUnsigned or keyFloat for numbers (ENUM and
	// SET keys are their numbers), "" for text (and for every key stored
	// before the types were: the server converts the text).
	Type string `json:"y,omitempty"`
}

// The numeric types of keyValue.Type.
const (
	keySigned   = "i"
	keyUnsigned = "u"
	keyFloat    = "f"
)

// param is the value as a statement parameter.
func (kv keyValue) param() (any, error) {
	var v any
	var err error
	switch {
	case kv.Hex:
		v, err = hex.DecodeString(kv.Text)
	case kv.Type == keySigned:
		v, err = strconv.ParseInt(kv.Text, 10, 64)
	case kv.Type == keyUnsigned:
		v, err = strconv.ParseUint(kv.Text, 10, 64)
	case kv.Type == keyFloat:
		v, err = strconv.ParseFloat(kv.Text, 64)
	case kv.Type != "":
		err = fmt.Errorf("unknown key type %q", kv.Type)
	default:
		v = kv.Text
	}
	if err != nil {
		return nil, fmt.Errorf("key value %q: %w", kv.Text, err)
	}
	return v, nil
}

// sameServer reports whether o was stored for srv, or cannot tell (an
// offset of an older sluice stored no server_id).
func (o *offset) sameServer(srv *server) bool {
	if o.ServerID != 0 && o.ServerID != srv.serverID {
		return false
	}
	return o.ServerUUID == "" || srv.uuid == "" || o.ServerUUID == srv.uuid
}

// clone copies o deeply enough that the copy's snapshot progress can
// change.
func (o *offset) clone() *offset {
	c := *o
	if o.Snapshot != nil {
		s := &snapshotState{Tables: make([]*tableProgress, len(o.Snapshot.Tables))}
		for i, t := range o.Snapshot.Tables {
			tc := *t
			tc.LastKey = append([]keyValue(nil), t.LastKey...)
			tc.KeyColumns = append([]string(nil), t.KeyColumns...)
			s.Tables[i] = &tc
		}
		c.Snapshot = s
	}
	c.Incremental = o.Incremental.clone()
	return &c
}

// offsetStore keeps the offset of one pipeline.
type offsetStore interface {
	// Load returns the stored offset, or nil when there is none.
	Load(ctx context.Context) (*offset, error)
	Save(ctx context.Context, o *offset) error
	Close()
}

// openStore opens the configured offset store: the file in the state
// directory, or the Kafka topic.
func (s *Source) openStore(ctx context.Context) (offsetStore, error) {
	if s.cfg.Offsets.Store == "kafka" {
		conn, err := kafkaconn.Opts(s.cfg.Offsets.TLS, s.cfg.Offsets.SASL)
		if err != nil {
			return nil, fmt.Errorf("mysql source: offsets.%w", err)
		}
		st, err := newKafkaStore(ctx, s.cfg.Offsets.Brokers, conn, s.cfg.Offsets.Topic, s.pipeline)
		if err != nil {
			return nil, fmt.Errorf("mysql source: %w", err)
		}
		return st, nil
	}
	return &fileStore{path: filepath.Join(s.stateDir, s.pipeline+".mysql.json")}, nil
}

// fileStore writes the offset to a JSON file atomically (temporary file,
// fsync, rename), so a crash leaves the old or the new offset, never a
// torn one.
type fileStore struct{ path string }

func (f *fileStore) Load(context.Context) (*offset, error) {
	b, err := os.ReadFile(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read offsets: %w", err)
	}
	var o offset
	if err := json.Unmarshal(b, &o); err != nil {
		// A retry reads the same bytes.
		return nil, sluice.Permanent(fmt.Errorf("offsets file %s is corrupt (delete it to start over with a snapshot): %w", f.path, err))
	}
	return &o, nil
}

func (f *fileStore) Save(_ context.Context, o *offset) error {
	b, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		return fmt.Errorf("encode offsets: %w", err)
	}
	if err := atomicfile.Write(f.path, b); err != nil {
		return fmt.Errorf("offsets file: %w", err)
	}
	return nil
}

func (f *fileStore) Close() {}

// kafkaStore keeps offsets in a compacted topic keyed by pipeline name,
// like Kafka Connect's offset topic: the latest record of a key wins
// (internal/kvstore, shared with the PostgreSQL source's snapshot state).
type kafkaStore struct {
	kv    *kvstore.Topic
	cl    *kgo.Client // kv's producer, for tests
	topic string
	key   []byte
}

// newKafkaStore connects with conn (kafkaconn options: TLS, SASL) to
// brokers and creates the topic when missing.
func newKafkaStore(ctx context.Context, brokers []string, conn []kgo.Opt, topic, pipeline string) (*kafkaStore, error) {
	kv, err := kvstore.Open(ctx, brokers, conn, topic)
	if err != nil {
		return nil, fmt.Errorf("offsets %w", err)
	}
	return &kafkaStore{kv: kv, cl: kv.Client(), topic: topic, key: []byte(pipeline)}, nil
}

// Load reads the topic from the start to its current end and keeps the
// last value of the pipeline's key.
func (k *kafkaStore) Load(ctx context.Context) (*offset, error) {
	last, err := k.kv.Get(ctx, k.key)
	if err != nil {
		return nil, fmt.Errorf("offsets %w", err)
	}
	if last == nil {
		return nil, nil
	}
	var o offset
	if err := json.Unmarshal(last, &o); err != nil {
		// A retry reads the same record.
		return nil, sluice.Permanent(fmt.Errorf("offsets topic %s: the record for %s is corrupt (produce a tombstone, a null value, for key %s to the topic to start over with a snapshot): %w",
			k.topic, k.key, k.key, err))
	}
	return &o, nil
}

func (k *kafkaStore) Save(ctx context.Context, o *offset) error {
	b, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("encode offsets: %w", err)
	}
	if err := k.kv.Put(ctx, k.key, b); err != nil {
		return fmt.Errorf("offsets %w", err)
	}
	return nil
}

func (k *kafkaStore) Close() { k.kv.Close() }

// writer forwards events to the pipeline, remembers the last mark, and
// writes confirmed marks to the offset store.
type writer struct {
	src          *Source
	srv          *server
	emit         func(*sluice.Event) error
	stopClock    *source.StopClock // when Run's context ended: bounds drain
	lastMark     atomic.Pointer[string]
	snapshotDone atomic.Bool
	saved        string
}

// emitEvent is the emit function of the snapshot and the stream: it
// remembers marks for drain.
func (w *writer) emitEvent(ev *sluice.Event) error {
	if ev.Op == sluice.OpMark {
		r := ev.Pos.Resume
		w.lastMark.Store(&r)
	}
	return w.emit(ev)
}

// offsetOf turns a confirmed Resume token into the offset to store.
func (w *writer) offsetOf(token string) (*offset, error) {
	o, stream, err := tokenOffset(token)
	if err != nil || !stream {
		return o, err
	}
	o.Version, o.ServerID, o.ServerUUID, o.SnapshotDone = 1, w.srv.serverID, w.srv.uuid, w.snapshotDone.Load()
	return o, nil
}

// tokenOffset parses a Resume token: a snapshot chunk's JSON offset,
// whole, or a stream mark's "file\x00pos\x00gtids" (stream), of which
// the offset has File, Pos and GTIDs only.
func tokenOffset(token string) (o *offset, stream bool, err error) {
	if strings.HasPrefix(token, "{") { // a snapshot chunk: the whole offset
		o = new(offset)
		if err := json.Unmarshal([]byte(token), o); err != nil {
			return nil, false, fmt.Errorf("mysql source: snapshot mark: %w", err)
		}
		return o, false, nil
	}
	parts := strings.SplitN(token, "\x00", 3)
	if len(parts) != 3 {
		return nil, true, fmt.Errorf("mysql source: malformed mark %q", token)
	}
	// A chunk mark of an incremental snapshot has its sequence number
	// after the stream position (chunkMarkSuffix).
	parts[2], _, _ = strings.Cut(parts[2], "\x00")
	pos, err := strconv.ParseUint(parts[1], 10, 32)
	if err != nil {
		return nil, true, fmt.Errorf("mysql source: malformed mark %q", token)
	}
	return &offset{File: parts[0], Pos: uint32(pos), GTIDs: parts[2]}, true, nil
}

// save writes the confirmed position when it moved.
func (w *writer) save(ctx context.Context, store offsetStore) error {
	c := w.src.confirmation.Load()
	if c == nil || c.resume == w.saved {
		if is, ok := store.(*incStore); ok && is.stale() {
			return is.resave(ctx)
		}
		return nil
	}
	o, err := w.offsetOf(c.resume)
	if err != nil {
		return err
	}
	if err := store.Save(ctx, o); err != nil {
		return fmt.Errorf("mysql source: %w", err)
	}
	w.saved = c.resume
	if c.tx > w.src.durable.Load() {
		w.src.durable.Store(c.tx)
	}
	return nil
}

// offsetGiveUp bounds how long offset writes may keep failing: a failed
// write is logged and tried again at the next flush, and once writes have
// failed for this long without one success, the run fails (fail), so the
// pipeline restarts from the offset last stored (with backoff) and reports
// not-ready instead of streaming on while the stored position falls
// further behind (a crash would replay all of it, and the binlog holding
// it may be purged meanwhile). A variable for tests.
var offsetGiveUp = time.Minute

// saveLoop saves the confirmed position every offsets.flush_interval
// until ctx ends; a failed write is logged and tried again, and after
// offsetGiveUp of failures fail is called with the last error.
func (w *writer) saveLoop(ctx context.Context, store offsetStore, fail func(error)) {
	t := time.NewTicker(w.src.cfg.Offsets.FlushInterval)
	defer t.Stop()
	var failingSince, warned time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			err := w.save(ctx, store)
			now := time.Now()
			switch {
			case err == nil:
				failingSince = time.Time{}
			case failingSince.IsZero():
				failingSince = now
				fallthrough
			case now.Sub(failingSince) < offsetGiveUp:
				if now.Sub(warned) >= 10*time.Second { // not at every flush
					warned = now
					w.src.log.Warn("storing the offset failed; retrying", zap.Error(err),
						zap.Duration("failing_for", now.Sub(failingSince)), zap.Duration("gives_up_after", offsetGiveUp))
				}
			default:
				fail(fmt.Errorf("%w (storing the offset has failed for %s: the pipeline restarts from the offset stored last)", err, now.Sub(failingSince).Round(time.Millisecond)))
				return
			}
		}
	}
}

// drain waits, after the stop request, until the sinks acknowledged the
// last mark read (or DrainTimeout passes); Run's deferred save then
// stores that position.
func (w *writer) drain() {
	deadline := w.stopClock.Deadline(w.src.cfg.DrainTimeout)
	for time.Now().Before(deadline) {
		last, conf := w.lastMark.Load(), w.src.confirmed()
		if last == nil || conf != nil && *conf == *last {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
