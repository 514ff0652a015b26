// Package join is the join transform: it enriches a table's change
// events with the row of another captured table of the same source that
// they refer to (an order with its customer), exactly as of each event's
// own position in the log. A stream-processing job next to the connector
// joins a change stream with a table that races it; here both tables'
// changes arrive in commit order in one process, so the lookup state is
// kept in that order and read at each event's version.
//
// The lookup table's rows live in an embedded store on disk (store.go),
// filled at first start by reading the table through the source
// (bootstrap.go), kept in log order by its change events, and made
// durable before the pipeline confirms a position. With
// on_lookup_change: reemit, a change of a looked-up row re-emits every
// event row that refers to it (reemit.go), so a state topic or index of
// enriched rows follows a customer's rename.
package join

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/transform"
)

func init() { transform.RegisterWhole("join", newJoin, Config{}) }

// Config is the join transform's entry. tables (the common key) names
// the tables whose events are enriched.
type Config struct {
	// Lookup is the table looked up, captured by the same source
	// (schema.table or db.table).
	Lookup string `yaml:"lookup"`
	// On maps the enriched events' columns to the lookup table's columns
	// they must equal: {customer_id: id}.
	On map[string]string `yaml:"on"`
	// As is the field added to before and after: a struct of the lookup
	// row, null when no row matches.
	As string `yaml:"as"`
	// Columns are the lookup columns the struct holds; empty: all.
	Columns []string `yaml:"columns"`
	// Missing is what happens to an event whose lookup row does not
	// exist: null (the field is null), drop (the event is dropped) or
	// error (the pipeline stops).
	Missing string `yaml:"missing"`
	// OnLookupChange is none, or reemit: a change of a lookup row
	// re-emits every enriched row that refers to it, as op u.
	OnLookupChange string `yaml:"on_lookup_change"`
	// MaxReemit bounds the rows one lookup change re-emits; the rest
	// are counted (sluice_join_reemit_skipped_total) and logged.
	MaxReemit int `yaml:"max_reemit"`
	// CacheBytes is the store's block cache: most of the memory the
	// join adds, whatever the lookup table's size.
	CacheBytes int64 `yaml:"cache_bytes"`
	// Dir is where the store lives; default
	// <state_dir>/join/<pipeline>-<as>.
	Dir string `yaml:"dir"`
}

// Defaults of the join's keys.
func (Config) Defaults() Config {
	return Config{Missing: "null", OnLookupChange: "none", MaxReemit: 100_000, CacheBytes: 64 << 20}
}

const (
	missingNull = iota
	missingDrop
	missingError
)

// CauseHeader is the record header of a re-emitted event: its value
// names the lookup table whose change caused it.
const CauseHeader = "sluice.join.cause"

// pair is one entry of on: an event column and the lookup column it
// must equal. Pairs are sorted by lookup column, so keys built from
// either side line up.
type pair struct{ event, lookup string }

// Join is the transform.
type Join struct {
	cfg     Config
	match   transform.Matcher
	env     transform.Env
	log     *zap.Logger
	pairs   []pair
	missing int
	reemit  bool
	dir     string
	fp      string // the configuration the store was filled for

	mu    sync.RWMutex // guards st against Checkpoint while it is replaced
	st    *store
	batch *pebble.Batch
	ctx   context.Context // the run's, for a bootstrap inside Apply
	src   sluice.Source

	lookupShape *shape            // the struct's fields now
	shapes      map[uint64]*shape // stored shapes by id
	tables      map[*sluice.Table]*tableInfo
	epochOK     bool

	pending change // the lookup change the last Apply saw, for Expand
	stats   stats
	keyBuf  []byte
}

var (
	_ sluice.OpenTransform = (*Join)(nil)
	_ sluice.Expander      = (*Join)(nil)
	_ sluice.Syncer        = (*Join)(nil)
)

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]*$`)

func newJoin(cfg Config, m transform.Matcher, env transform.Env) (*Join, error) {
	p := env.Path
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if env.Sink != "" {
		bad("%s: a join runs in the pipeline's transforms, not a sink's: it must see every change of its lookup table in log order", p)
	}
	if cfg.Lookup == "" || strings.Count(cfg.Lookup, ".") != 1 {
		bad("%s.lookup: required, as schema.table (PostgreSQL) or db.table (MySQL), got %q", p, cfg.Lookup)
	}
	if len(cfg.On) == 0 {
		bad("%s.on: required: the event columns and the lookup columns they equal, {customer_id: id}", p)
	}
	if cfg.As == "" || !identRE.MatchString(cfg.As) {
		bad("%s.as: required, a field name (letters, digits, _), got %q", p, cfg.As)
	}
	j := &Join{cfg: cfg, match: m, env: env, log: env.Logger, tables: map[*sluice.Table]*tableInfo{}, shapes: map[uint64]*shape{}}
	if j.log == nil {
		j.log = zap.NewNop()
	}
	switch cfg.Missing {
	case "null":
		j.missing = missingNull
	case "drop":
		j.missing = missingDrop
	case "error":
		j.missing = missingError
	default:
		bad("%s.missing: %q is not one of null, drop, error", p, cfg.Missing)
	}
	switch cfg.OnLookupChange {
	case "none":
	case "reemit":
		j.reemit = true
	default:
		bad("%s.on_lookup_change: %q is not one of none, reemit", p, cfg.OnLookupChange)
	}
	if cfg.MaxReemit < 1 {
		bad("%s.max_reemit: must be at least 1, got %d", p, cfg.MaxReemit)
	}
	if cfg.CacheBytes < 1<<20 {
		bad("%s.cache_bytes: must be at least 1048576 (1 MiB), got %d", p, cfg.CacheBytes)
	}
	names := m.TableNames()
	if len(names) == 0 {
		bad("%s.tables: required: the tables whose events are enriched", p)
	}
	if j.reemit {
		for _, n := range names {
			if strings.ContainsAny(n, "*?[") {
				bad("%s.tables: %q: with on_lookup_change: reemit, tables are names, not globs (the join reads them when it starts)", p, n)
			}
		}
	}
	for ev, lk := range cfg.On {
		if ev == "" || lk == "" {
			bad("%s.on: %q: %q: both column names are required", p, ev, lk)
		}
		j.pairs = append(j.pairs, pair{event: ev, lookup: lk})
	}
	slices.SortFunc(j.pairs, func(a, b pair) int { return strings.Compare(a.lookup, b.lookup) })
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	j.dir = cfg.Dir
	if j.dir == "" {
		j.dir = filepath.Join(env.StateDir, "join", env.Pipeline+"-"+cfg.As)
	}
	j.fp = fmt.Sprintf("lookup=%s on=%v columns=%v reemit=%v tables=%v", cfg.Lookup, j.pairs, cfg.Columns, j.reemit, names)
	return j, nil
}

// Open opens the store and fills it when it is empty, was filled for
// another configuration, or its fill did not finish.
func (j *Join) Open(ctx context.Context, src sluice.Source) error {
	j.ctx, j.src = ctx, src
	st, err := openStore(j.dir, j.cfg.CacheBytes)
	if err != nil {
		return err
	}
	j.attach(st)
	j.epochOK = false
	fp, err := st.meta("config")
	if err != nil {
		return err
	}
	done, err := st.meta("complete")
	if err != nil {
		return err
	}
	if string(fp) != j.fp || string(done) != "1" {
		return j.bootstrap(ctx)
	}
	return j.loadLookupShape()
}

// Close closes the store.
func (j *Join) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.batch != nil {
		j.batch.Close()
		j.batch = nil
	}
	if j.st == nil {
		return nil
	}
	err := j.st.close()
	j.st = nil
	return err
}

// attach makes st the join's store, with a new batch and nothing
// resolved from another store's tables and shapes.
func (j *Join) attach(st *store) {
	j.mu.Lock()
	j.st = st
	j.mu.Unlock()
	j.batch = st.db.NewBatch()
	j.tables = map[*sluice.Table]*tableInfo{}
	j.shapes = map[uint64]*shape{}
	j.lookupShape = nil
}

// Checkpoint makes the store durable before the pipeline confirms pos,
// and lets it forget the versions older than pos needs.
func (j *Join) Checkpoint(pos sluice.Position) error {
	j.mu.RLock()
	defer j.mu.RUnlock()
	if j.st == nil {
		return nil
	}
	if err := j.st.sync(); err != nil {
		return err
	}
	// Versions are collected up to where a restart would resume: the
	// source records a confirmed position some time after it is
	// confirmed, and until then a crash replays from an older one.
	// A source that cannot tell keeps every version.
	bound := uint64(0)
	if d, ok := j.src.(sluice.DurableReporter); ok {
		bound = min(pos.TxLSN, d.Durable())
	}
	j.st.confirmed.Store(bound)
	return nil
}

// Apply keeps the lookup state up to date with the lookup table's
// changes and enriches the selected tables' events.
func (j *Join) Apply(ev *sluice.Event) (bool, error) {
	j.pending.n = 0
	if ev.Table == nil {
		return true, nil
	}
	if !j.epochOK && ev.Pos.Epoch != "" {
		if err := j.checkEpoch(ev.Pos.Epoch); err != nil {
			return false, err
		}
	}
	info, err := j.info(ev.Table)
	if err != nil {
		return false, err
	}
	if info.lookup != nil {
		if err := j.applyLookup(ev, info.lookup); err != nil {
			return false, err
		}
	}
	switch ev.Op {
	case sluice.OpCreate, sluice.OpUpdate, sluice.OpDelete, sluice.OpRead:
		return j.enrich(ev, info)
	}
	return true, nil
}

// checkEpoch compares the log the events come from with the one the
// store was filled from. Positions of another log (a restored or
// replaced server) say nothing about the store's versions: it is filled
// again.
func (j *Join) checkEpoch(epoch string) error {
	stored, err := j.st.meta("epoch")
	if err != nil {
		return err
	}
	switch string(stored) {
	case epoch:
	case "":
		if err := j.st.setMeta("epoch", []byte(epoch), false); err != nil {
			return err
		}
	default:
		j.log.Warn("the source's log is not the one the join's state was built from; filling it again",
			zap.String("stored_epoch", string(stored)), zap.String("epoch", epoch))
		if err := j.bootstrap(j.ctx); err != nil {
			return err
		}
		if err := j.st.setMeta("epoch", []byte(epoch), false); err != nil {
			return err
		}
	}
	j.epochOK = true
	return nil
}

// commit writes the batch Apply built.
func (j *Join) commit() error { return j.st.commit(j.batch) }
