package schemaregistry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"go.uber.org/zap"
)

// maxCached bounds the id cache; it is cleared when full (a schema change
// on every table at once, many times over), which costs one request per
// schema still in use.
const maxCached = 4096

// Client hands out schema ids. It is safe for concurrent use.
type Client struct {
	url      string // for messages; Validate keeps credentials out of it
	strategy string
	register bool // register a schema the subject lacks (auto_register)
	latest   bool // use the subject's latest version (use_latest)
	retryMin time.Duration
	retryMax time.Duration
	log      *zap.Logger
	sr       *sr.Client
	httpcl   *http.Client

	mu      sync.RWMutex
	ids     map[key]int
	flights map[key]*flight // misses being fetched, so one request serves all askers

	failure atomic.Pointer[error] // the last call's failure, for Ready
}

// key identifies a cache entry: the subject's parts (those the strategy
// uses; the others are zero) and the schema text. Keying by the parts
// rather than the subject keeps a hit from building the subject string.
type key struct {
	topic, record string
	isKey         bool
	schema        string
}

// flight is a miss being fetched; done closes when id and err are set.
type flight struct {
	done chan struct{}
	id   int
	err  error
}

// New returns a client for cfg, reading the password, token and TLS files.
// It makes no request: the first ID does.
func New(cfg Config, log *zap.Logger) (*Client, error) {
	cl, httpcl, err := NewSR(cfg)
	if err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = zap.NewNop()
	}
	u, _ := url.Parse(cfg.URL) // Validate parsed it
	return &Client{
		url:      u.Redacted(),
		strategy: cfg.SubjectStrategy,
		register: *cfg.AutoRegister && !cfg.UseLatest,
		latest:   cfg.UseLatest,
		retryMin: cfg.RetryMin,
		retryMax: cfg.RetryMax,
		log:      log.With(zap.String("registry_url", u.Redacted())),
		sr:       cl,
		httpcl:   httpcl,
		ids:      map[key]int{},
		flights:  map[key]*flight{},
	}, nil
}

// Close releases the client's idle connections. ID must not be called
// after it.
func (c *Client) Close() {
	c.httpcl.CloseIdleConnections()
}

// Subject returns the subject of a key or value schema under the
// strategy: <topic>-key or <topic>-value (topic), recordName (record) or
// <topic>-<recordName> (topic_record). recordName is the record's full
// name, namespace.name.
func (c *Client) Subject(topic, recordName string, isKey bool) string {
	switch c.strategy {
	case StrategyRecord:
		return recordName
	case StrategyTopicRecord:
		return topic + "-" + recordName
	}
	if isKey {
		return topic + "-key"
	}
	return topic + "-value"
}

// keyFor keeps the parts of the subject the strategy uses.
func (c *Client) keyFor(topic, recordName string, isKey bool, schema string) key {
	switch c.strategy {
	case StrategyRecord:
		return key{record: recordName, schema: schema}
	case StrategyTopicRecord:
		return key{topic: topic, record: recordName, schema: schema}
	}
	return key{topic: topic, isKey: isKey, schema: schema}
}

// ID returns the id of schema (Avro schema JSON text) under the subject of
// (topic, recordName, isKey). A schema seen before comes from the cache,
// without a request or an allocation. Otherwise ID registers it
// (auto_register), looks it up, or takes the subject's latest version
// (use_latest), retrying with backoff while the registry is unreachable or
// answers 5xx or 429, until ctx ends; Ready reports the failure meanwhile.
// Concurrent misses for one schema make one request. The registry's
// refusals return at once (errors.go).
func (c *Client) ID(ctx context.Context, topic, recordName string, isKey bool, schema string) (int, error) {
	k := c.keyFor(topic, recordName, isKey, schema)
	c.mu.RLock()
	id, ok := c.ids[k]
	c.mu.RUnlock()
	if ok {
		return id, nil
	}
	return c.miss(ctx, k, c.Subject(topic, recordName, isKey), schema)
}

// miss fetches the id for k, or waits for the call already fetching it.
func (c *Client) miss(ctx context.Context, k key, subject, schema string) (int, error) {
	if subject == "" || (c.strategy != StrategyTopic && k.record == "") {
		return 0, fmt.Errorf("schema registry %s: subject strategy %s needs the record name", c.url, c.strategy)
	}
	for {
		c.mu.Lock()
		if id, ok := c.ids[k]; ok {
			c.mu.Unlock()
			return id, nil
		}
		f, busy := c.flights[k]
		if !busy {
			f = &flight{done: make(chan struct{})}
			c.flights[k] = f
			c.mu.Unlock()
			f.id, f.err = c.fetch(ctx, subject, schema)
			c.mu.Lock()
			if f.err == nil {
				if len(c.ids) >= maxCached {
					clear(c.ids)
				}
				c.ids[k] = f.id
			}
			delete(c.flights, k)
			c.mu.Unlock()
			close(f.done)
			return f.id, f.err
		}
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("schema registry %s: subject %q: %w", c.url, subject, ctx.Err())
		case <-f.done:
		}
		if f.err == nil {
			return f.id, nil
		}
		if !errors.Is(f.err, context.Canceled) && !errors.Is(f.err, context.DeadlineExceeded) {
			return 0, f.err
		}
		// The fetching caller's context ended, not ours: fetch ourselves.
	}
}

// fetch asks the registry until it answers or ctx ends.
func (c *Client) fetch(ctx context.Context, subject, schema string) (int, error) {
	wait := c.retryMin
	for attempt := 1; ; attempt++ {
		id, err := c.call(ctx, subject, schema)
		if err == nil {
			if c.failure.Swap(nil) != nil {
				c.log.Info("schema registry call succeeded; reporting ready", zap.String("subject", subject))
			}
			c.log.Debug("schema id", zap.String("subject", subject), zap.Int("id", id))
			return id, nil
		}
		if ctx.Err() != nil { // our caller gave up, not the registry
			return 0, c.gaveUp(ctx, subject)
		}
		retry, err := c.classify(subject, err)
		if prev := c.failure.Swap(&err); prev == nil {
			c.log.Warn("schema registry call failed; reporting not ready", zap.String("subject", subject),
				zap.Bool("retrying", retry), zap.Error(err))
		}
		if !retry {
			return 0, err
		}
		c.log.Debug("retrying", zap.String("subject", subject), zap.Int("attempt", attempt),
			zap.Duration("backoff", wait), zap.Error(err))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, c.gaveUp(ctx, subject)
		case <-t.C:
		}
		wait = min(2*wait, c.retryMax)
	}
}

// gaveUp is the error of a fetch whose context ended, naming the last
// failure if the registry was failing.
func (c *Client) gaveUp(ctx context.Context, subject string) error {
	if last := c.failure.Load(); last != nil {
		return fmt.Errorf("schema registry %s: subject %q: %w while waiting for the registry (last failure: %v)",
			c.url, subject, ctx.Err(), *last)
	}
	return fmt.Errorf("schema registry %s: subject %q: %w", c.url, subject, ctx.Err())
}

// call makes the one request the configuration asks for.
func (c *Client) call(ctx context.Context, subject, schema string) (int, error) {
	switch {
	case c.latest:
		ss, err := c.sr.SchemaByVersion(ctx, subject, -1)
		return ss.ID, err
	case c.register:
		// POST /subjects/{subject}/versions: the registry returns the id
		// of an identical schema already registered, so this is a lookup
		// too.
		return c.sr.RegisterSchema(ctx, subject, sr.Schema{Schema: schema, Type: sr.TypeAvro}, -1, -1)
	default:
		ss, err := c.sr.LookupSchema(ctx, subject, sr.Schema{Schema: schema, Type: sr.TypeAvro})
		return ss.ID, err
	}
}

// Ready is nil unless the last call to the registry failed; then it says
// why (e.g. "schema registry http://…: unreachable: …"), without
// credentials. A later success makes it nil again.
func (c *Client) Ready() error {
	if err := c.failure.Load(); err != nil {
		return *err
	}
	return nil
}
