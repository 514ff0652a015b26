package elasticsearch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/secret"
	"github.com/sluice-cdc/sluice/sink"
)

func init() { sink.Register(TypeElasticsearch, New, Config{}) }

// Sink keeps Elasticsearch indices equal to the captured tables. Build it
// with New; Open, Write and Close follow sluice.Sink's contract, and Ready
// implements sluice.ReadyChecker.
type Sink struct {
	typ      string // TypeElasticsearch or TypeOpenSearch: the client library
	cfg      Config
	path     string
	pipeline string
	log      *zap.Logger
	prefix   string // {prefix}
	db       string // {db} for tables that do not name theirs
	tmpl     indexTemplate
	enc      docEncoder
	refresh  string

	// scratch is where Write builds an event's id and document before
	// copying each out at its final size: appending to a fresh slice
	// grew it (and allocated) about once per column. Only Write's
	// goroutine uses it (Sink.Write is called from one goroutine).
	scratch []byte
	arena   arena // ops and documents, also for Write's goroutine only

	conn atomic.Pointer[conn] // nil until Open, and after Close

	// mu guards the batch being filled; Write and the flush timer take it.
	// Dispatching a full batch happens under it, so batches leave in
	// order and Write blocks while the in-flight bound is reached.
	mu    sync.Mutex
	cur   *batch
	timer *time.Timer
	// lastOps is the size of the last batch sent: the next one is made
	// with room for as many, instead of growing to it.
	lastOps int

	// slots holds one token per bulk request in flight.
	slots chan struct{}

	// flight tracks documents that have a bulk request in flight: a batch
	// touching one of them waits, so Elasticsearch sees the changes of a
	// document in commit order even with several requests in flight.
	// flightRefs counts the ops in flight per op.key, a hash of the
	// document's ref: hashing 8 bytes is cheaper than a string key, and
	// two documents whose hashes collide only wait for each other.
	flightMu      sync.Mutex
	flightRefs    map[uint64]int
	refSeed       maphash.Seed // for op.key
	flightBatches int
	flightChanged chan struct{} // closed and replaced when a batch completes

	stats counters
}

var (
	_ sluice.Sink         = (*Sink)(nil)
	_ sluice.ReadyChecker = (*Sink)(nil)
)

// conn is what one Open creates and Close releases.
type conn struct {
	cl         *client
	stateIndex string
	ctx        context.Context // ends when Close gives up waiting
	cancel     context.CancelFunc
	dlq        *deadLetter
	mapping    []byte // mapping_file's content, or nil

	// probeErr is the probe's verdict, reqErr the last request's (a
	// failure stays until a request succeeds): either makes Ready fail,
	// so a reachable cluster that refuses every bulk request (red, 503)
	// is not reported ready by the probe alone.
	probeErr atomic.Pointer[error]
	reqErr   atomic.Pointer[error]
	probeWG  sync.WaitGroup

	// Owned by the Write goroutine.
	tables map[*sluice.Table]*tableInfo
	warned map[*sluice.Table]bool // rows refused before sending (logged once)
	// indices holds per-index state; guarded by idxMu because bulk
	// goroutines read the marks.
	idxMu   sync.Mutex
	indices map[string]*indexState
	hwmMu   sync.Mutex // serializes high-water mark writes
}

// New builds an elasticsearch sink from its decoded configuration
// (defaults filled in). It validates, naming offending keys under env.Path,
// and does no I/O.
func New(cfg Config, env sink.Env) (*Sink, error) {
	return newSink(cfg, env, TypeElasticsearch)
}

// newSink builds a sink of type typ (New, NewOpenSearch).
func newSink(cfg Config, env sink.Env, typ string) (*Sink, error) {
	if cfg.Truncate == "" { // its default depends on the index template
		cfg.Truncate = TruncateFail
		if strings.Contains(cfg.Index, "{table}") {
			cfg.Truncate = TruncateDeleteDocuments
		}
	}
	// Secrets given as files are read now, so validate finds a missing one.
	var serrs []error
	var err error
	if cfg.Password, err = secret.Resolve(cfg.Password, cfg.PasswordFile, "password"); err != nil {
		serrs = append(serrs, fmt.Errorf("%s.%w", env.Path, err))
	}
	if cfg.APIKey, err = secret.Resolve(cfg.APIKey, cfg.APIKeyFile, "api_key"); err != nil {
		serrs = append(serrs, fmt.Errorf("%s.%w", env.Path, err))
	}
	cfg.PasswordFile, cfg.APIKeyFile = "", ""
	serrs = append(serrs, cfg.AWSSigV4.resolve(env.Path)...)
	if err := errors.Join(append(serrs, cfg.validate(env.Path, typ))...); err != nil {
		return nil, err
	}
	tmpl, err := parseIndexTemplate(cfg.Index)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", sink.JoinKey(env.Path, "index"), err)
	}
	refresh, _ := cfg.refreshParam()
	s := &Sink{
		typ:        typ,
		cfg:        cfg,
		path:       env.Path,
		pipeline:   env.Pipeline,
		log:        env.Logger,
		tmpl:       tmpl,
		enc:        docEncoder{jsonObject: cfg.JSONHandling == JSONObject, flatObject: typ == TypeOpenSearch},
		refresh:    refresh,
		slots:      make(chan struct{}, cfg.Bulk.MaxInFlight),
		flightRefs: map[uint64]int{},
		refSeed:    maphash.MakeSeed(),

		flightChanged: make(chan struct{}),
	}
	if env.Encoder != nil {
		o := env.Encoder.Options()
		s.prefix, s.db = o.Name, o.DB
	}
	if tmpl.UsesPrefix() && s.prefix == "" {
		return nil, fmt.Errorf("%s: template uses {prefix} but the pipeline has no topic prefix", sink.JoinKey(env.Path, "index"))
	}
	if cfg.IndexTemplate.Name == "" {
		s.cfg.IndexTemplate.Name = "sluice-" + env.Pipeline
	}
	return s, nil
}

// Config returns the sink's configuration with defaults filled in.
func (s *Sink) Config() Config { return s.cfg }

// Open connects: it checks that Elasticsearch answers (and that the
// credentials work), creates the state index, installs the index template
// and opens the dead-letter destination, so the runner can retry it with
// backoff. Calling Open again after Close starts afresh.
func (s *Sink) Open(ctx context.Context) error {
	if s.conn.Load() != nil {
		return errors.New("elasticsearch sink: already open")
	}
	cl, err := newClient(&s.cfg, s.typ)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithCancel(context.Background())
	c := &conn{cl: cl, stateIndex: s.cfg.StateIndex, ctx: cctx, cancel: cancel,
		tables: map[*sluice.Table]*tableInfo{}, warned: map[*sluice.Table]bool{}, indices: map[string]*indexState{}}
	fail := func(err error) error {
		cancel()
		if c.dlq != nil {
			c.dlq.close()
		}
		cl.close()
		return err
	}
	if err := c.ensureStateIndex(ctx); err != nil {
		return fail(fmt.Errorf("elasticsearch sink: connect %v: %w", redactURLs(s.cfg.URLs), err))
	}
	if s.cfg.MappingFile != "" {
		data, err := os.ReadFile(s.cfg.MappingFile)
		if err != nil {
			return fail(fmt.Errorf("elasticsearch sink: mapping_file: %w", err))
		}
		if !json.Valid(data) {
			return fail(fmt.Errorf("elasticsearch sink: mapping_file %s: not valid JSON", s.cfg.MappingFile))
		}
		c.mapping = data
	}
	if f := s.cfg.IndexTemplate.File; f != "" {
		data, err := os.ReadFile(f)
		if err != nil {
			return fail(fmt.Errorf("elasticsearch sink: index_template.file: %w", err))
		}
		path := "/_index_template/" + url.PathEscape(s.cfg.IndexTemplate.Name)
		if _, _, err := cl.call(ctx, "PUT", path, data); err != nil {
			return fail(fmt.Errorf("elasticsearch sink: install index template %s from %s: %w", s.cfg.IndexTemplate.Name, f, err))
		}
	}
	if c.dlq, err = openDeadLetter(ctx, &s.cfg.DeadLetter); err != nil {
		return fail(err)
	}
	s.conn.Store(c)
	c.probeWG.Add(1)
	go s.probe(c)
	auth := "none"
	switch {
	case s.cfg.AWSSigV4.enabled():
		auth = "aws_sigv4"
	case s.cfg.APIKey != "":
		auth = "api_key"
	case s.cfg.Username != "":
		auth = "basic"
	}
	s.log.Info("connected",
		zap.String("type", s.typ),
		zap.Strings("urls", redactURLs(s.cfg.URLs)),
		zap.String("auth", auth),
		zap.String("username", s.cfg.Username),
		zap.String("index", s.cfg.Index),
		zap.String("state_index", s.cfg.StateIndex),
		zap.Int("max_in_flight", s.cfg.Bulk.MaxInFlight),
		zap.Bool("dead_letter", c.dlq.enabled()))
	return nil
}

// redactURLs hides passwords given in URLs (http://user:pass@host).
func redactURLs(urls []string) []string {
	out := make([]string, len(urls))
	for i, u := range urls {
		p, err := url.Parse(u)
		if err != nil {
			out[i] = "[unparsable URL]"
			continue
		}
		out[i] = p.Redacted()
	}
	return out
}

// probe checks reachability every health_check_interval until Close, so
// Ready reports an unreachable cluster even while nothing is written. It
// asks for the state index (HEAD), which needs no privilege beyond the
// ones the sink uses anyway.
func (s *Sink) probe(c *conn) {
	defer c.probeWG.Done()
	t := time.NewTicker(s.cfg.HealthCheckInterval)
	defer t.Stop()
	path := "/" + url.PathEscape(c.stateIndex)
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		status, _, err := c.cl.do(c.ctx, "HEAD", path, nil)
		switch {
		case err != nil:
			setErr(&c.probeErr, err)
		case status == 401 || status == 403:
			setErr(&c.probeErr, fmt.Errorf("elasticsearch sink: HEAD %s: HTTP %d: check the credentials and privileges", path, status))
		case status >= 500:
			setErr(&c.probeErr, fmt.Errorf("elasticsearch sink: HEAD %s: HTTP %d", path, status))
		default:
			setErr(&c.probeErr, nil)
		}
	}
}

// setHealth records the outcome of a request: err when Elasticsearch did
// not answer or answered with a server error, nil when it accepted one.
func (c *conn) setHealth(err error) { setErr(&c.reqErr, err) }

func setErr(p *atomic.Pointer[error], err error) {
	if err == nil {
		p.Store(nil)
		return
	}
	p.Store(&err)
}

// Ready implements sluice.ReadyChecker: an error while the sink is not
// open, while its probe finds Elasticsearch unreachable (connection
// refused, timeout, 5xx, refused credentials), or from a request that
// failed that way until one succeeds — the time during which events are
// retried, Write soon blocks and the pipeline's checkpoint stands still.
func (s *Sink) Ready() error {
	c := s.conn.Load()
	if c == nil {
		return ErrNotOpen
	}
	if e := c.reqErr.Load(); e != nil {
		return *e
	}
	if e := c.probeErr.Load(); e != nil {
		return *e
	}
	return nil
}

// Close sends the batch being filled, waits until every event written so
// far is acknowledged (bounded by ctx; events still undelivered then are
// acknowledged with ErrClosed), and releases the connection. It must not
// run concurrently with Write.
func (s *Sink) Close(ctx context.Context) error {
	c := s.conn.Load()
	if c == nil {
		return nil
	}
	s.mu.Lock()
	flushErr := s.dispatchLocked(ctx, c)
	s.mu.Unlock()

	waitErr := s.waitIdle(ctx)
	if waitErr != nil {
		// Give up: abort retries; their events are acked with ErrClosed.
		c.cancel()
		s.waitIdle(context.Background())
	}
	c.cancel()
	c.probeWG.Wait()
	c.dlq.close()
	c.cl.close()
	s.conn.Store(nil)
	if err := errors.Join(flushErr, waitErr); err != nil {
		return fmt.Errorf("elasticsearch sink: close: %w", err)
	}
	return nil
}

// waitIdle waits until no bulk request is in flight.
func (s *Sink) waitIdle(ctx context.Context) error {
	for {
		s.flightMu.Lock()
		n, ch := s.flightBatches, s.flightChanged
		s.flightMu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Stats are running totals since the sink was built.
type Stats struct {
	Events      uint64 // events acknowledged with nil (indexed, deleted, stale, dead-lettered or skipped)
	EventErrors uint64 // events acknowledged with an error

	Indexed uint64 // documents written
	Deleted uint64 // documents deleted (or found already gone)
	// VersionConflicts counts changes Elasticsearch refused because the
	// document already holds a newer one: replays after a restart. They
	// are expected and acknowledged.
	VersionConflicts uint64
	// StaleSkipped counts replayed changes dropped before sending because
	// a tombstone or truncate mark of the document is newer.
	StaleSkipped uint64
	DeadLettered uint64 // documents written to the dead-letter destination
	// PartialUpdates counts updates without some unchanged TOAST columns
	// that were merged with the stored document; PartialIncomplete those
	// where the stored document lacked such a column too (it stays absent).
	PartialUpdates    uint64
	PartialIncomplete uint64
	Truncates         uint64 // truncates applied (delete_documents)
	Skipped           uint64 // logical messages and ignored truncates
	Requests          uint64 // bulk requests sent
	Retries           uint64 // bulk requests repeated for retryable failures
	// Pending is a gauge: events written and not yet acknowledged, which
	// the sink holds in memory. It stays below
	// (bulk.max_in_flight+1)·bulk.max_actions: beyond that Write blocks.
	Pending int64
}

type counters struct {
	events, eventErrors, indexed, deleted, conflicts, stale, deadLettered,
	partial, partialIncomplete, truncates, skipped, requests, retries atomic.Uint64
	pending atomic.Int64
	bytes   atomic.Uint64 // bulk request bodies sent (metrics.go)
}

// Stats returns the sink's counters; safe to call from any goroutine.
func (s *Sink) Stats() Stats {
	st := &s.stats
	return Stats{
		Events: st.events.Load(), EventErrors: st.eventErrors.Load(),
		Indexed: st.indexed.Load(), Deleted: st.deleted.Load(),
		VersionConflicts: st.conflicts.Load(), StaleSkipped: st.stale.Load(),
		DeadLettered: st.deadLettered.Load(), PartialUpdates: st.partial.Load(),
		PartialIncomplete: st.partialIncomplete.Load(), Truncates: st.truncates.Load(),
		Skipped: st.skipped.Load(), Requests: st.requests.Load(), Retries: st.retries.Load(),
		Pending: st.pending.Load(),
	}
}

// ackEvent acknowledges one event and counts it. Every Write ends in
// exactly one ackEvent.
func (s *Sink) ackEvent(ack func(error), err error) {
	s.stats.pending.Add(-1)
	if err != nil {
		s.stats.eventErrors.Add(1)
	} else {
		s.stats.events.Add(1)
	}
	ack(err)
}
