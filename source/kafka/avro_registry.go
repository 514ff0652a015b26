package kafka

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice/internal/registry/schemaregistry"
)

// registryAttempts bounds the requests for one schema while the registry
// is unreachable or failing. The error then wraps errRegistryUnavailable,
// and the source fails (batcher.deliver): the pipeline restarts from the
// committed offsets with its own backoff, so an outage holds the records
// back instead of sending readable ones to the dead-letter topic.
const registryAttempts = 6

// errRegistryUnavailable: the registry was unreachable or answered 5xx
// or 429 at every attempt; the record itself may be fine.
var errRegistryUnavailable = errors.New("schema registry unavailable")

// registrySchemas reads writer schemas from a Confluent-compatible
// registry (GET /schemas/ids/{id}). Ids are immutable, so a schema is
// fetched once and kept; concurrent misses for one id make one request.
type registrySchemas struct {
	sharedPlans
	sr                 *sr.Client
	url                string // redacted, for messages
	log                *zap.Logger
	retryMin, retryMax time.Duration

	mu   sync.Mutex
	byID map[int]*schemaFlight
}

// schemaFlight is a schema fetched or being fetched; done closes when
// text and err are set.
type schemaFlight struct {
	done chan struct{}
	text string
	err  error
}

// newRegistrySchemas returns the schema source of cfg's registry (its URL,
// credentials, TLS and timeouts). It makes no request.
func newRegistrySchemas(cfg schemaregistry.Config, log *zap.Logger) (schemaSource, error) {
	cl, _, err := schemaregistry.NewSR(cfg)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	u, _ := url.Parse(cfg.URL) // NewSR validated it
	s := &registrySchemas{sr: cl, url: u.Redacted(), log: log, retryMin: cfg.RetryMin, retryMax: cfg.RetryMax, byID: map[int]*schemaFlight{}}
	if s.retryMin <= 0 {
		s.retryMin = schemaregistry.DefaultRetryMin
	}
	if s.retryMax < s.retryMin {
		s.retryMax = max(schemaregistry.DefaultRetryMax, s.retryMin)
	}
	return s, nil
}

// SchemaByID returns the schema of id, its references resolved.
func (s *registrySchemas) SchemaByID(ctx context.Context, id int) (string, error) {
	for {
		s.mu.Lock()
		f, ok := s.byID[id]
		if !ok {
			f = &schemaFlight{done: make(chan struct{})}
			s.byID[id] = f
			s.mu.Unlock()
			f.text, f.err = s.fetch(ctx, id)
			if f.err != nil {
				s.mu.Lock()
				delete(s.byID, id) // a later record asks again
				s.mu.Unlock()
			}
			close(f.done)
			return f.text, f.err
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("schema registry %s: schema id %d: %w", s.url, id, ctx.Err())
		case <-f.done:
		}
		if f.err == nil || ctx.Err() != nil || !errors.Is(f.err, context.Canceled) && !errors.Is(f.err, context.DeadlineExceeded) {
			return f.text, f.err
		}
		// The fetching caller's context ended, not ours: fetch ourselves.
	}
}

// fetch reads the schema of id and the schemas it references.
func (s *registrySchemas) fetch(ctx context.Context, id int) (string, error) {
	var top sr.Schema
	err := s.retry(ctx, fmt.Sprintf("schema id %d", id), func() (err error) {
		top, err = s.sr.SchemaByID(ctx, id)
		return err
	})
	if err != nil {
		return "", err
	}
	if top.Type != sr.TypeAvro {
		return "", fmt.Errorf("schema registry %s: schema id %d is %s, not Avro", s.url, id, top.Type)
	}
	if len(top.References) == 0 {
		return top.Schema, nil
	}
	// Apicurio's serializer registers Debezium's nested records (the row,
	// the source block, …) as references; the decoder wants one text.
	refs := map[string]any{}
	if err := s.references(ctx, top.References, refs, 0); err != nil {
		return "", fmt.Errorf("schema id %d: %w", id, err)
	}
	text, err := inlineReferences(top.Schema, refs)
	if err != nil {
		return "", fmt.Errorf("schema registry %s: schema id %d: %w", s.url, id, err)
	}
	return text, nil
}

// references fetches referenced schemas, theirs too, by full name.
func (s *registrySchemas) references(ctx context.Context, rs []sr.SchemaReference, into map[string]any, depth int) error {
	if depth > maxAvroDepth {
		return errors.New("schema references nest too deeply")
	}
	for _, ref := range rs {
		if _, ok := into[ref.Name]; ok {
			continue
		}
		var ss sr.SubjectSchema
		what := fmt.Sprintf("reference %s (subject %q version %d)", ref.Name, ref.Subject, ref.Version)
		if err := s.retry(ctx, what, func() (err error) {
			ss, err = s.sr.SchemaByVersion(ctx, ref.Subject, ref.Version)
			return err
		}); err != nil {
			return err
		}
		v, err := parseJSONNumbers(ss.Schema.Schema)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		into[ref.Name] = v
		if err := s.references(ctx, ss.References, into, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// retry calls call until it succeeds, fails for good, or has been tried
// registryAttempts times; it retries while the registry is unreachable or
// answers 5xx or 429.
func (s *registrySchemas) retry(ctx context.Context, what string, call func() error) error {
	wait := s.retryMin
	for attempt := 1; ; attempt++ {
		err := call()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("schema registry %s: %s: %w (last failure: %v)", s.url, what, ctx.Err(), err)
		}
		var re *sr.ResponseError
		switch {
		case errors.As(err, &re) && re.StatusCode == http.StatusNotFound:
			return fmt.Errorf("schema registry %s: %s not found: %w", s.url, what, err)
		case errors.As(err, &re) && re.StatusCode != http.StatusTooManyRequests && re.StatusCode < 500:
			return fmt.Errorf("schema registry %s: %s: HTTP %d: %w", s.url, what, re.StatusCode, err)
		case attempt >= registryAttempts:
			return fmt.Errorf("schema registry %s: %s: gave up after %d attempts: %w: %w", s.url, what, attempt, errRegistryUnavailable, err)
		}
		s.log.Warn("schema registry request failed; retrying", zap.String("registry_url", s.url), zap.String("what", what),
			zap.Int("attempt", attempt), zap.Duration("backoff", wait), zap.Error(err))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("schema registry %s: %s: %w (last failure: %v)", s.url, what, ctx.Err(), err)
		case <-t.C:
		}
		wait = min(2*wait, s.retryMax)
	}
}

func parseJSONNumbers(text string) (any, error) {
	d := json.NewDecoder(strings.NewReader(text))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("schema is not JSON: %w", err)
	}
	return v, nil
}

// inlineReferences makes a schema self-contained, as a client resolving
// its references sees it: each referenced named type (refs, by full name)
// is written out where it is first used; later uses stay names.
func inlineReferences(text string, refs map[string]any) (string, error) {
	v, err := parseJSONNumbers(text)
	if err != nil {
		return "", err
	}
	in := &inliner{refs: refs, defined: map[string]bool{}}
	v = in.walk(v, "", 0)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

type inliner struct {
	refs    map[string]any
	defined map[string]bool
}

var avroPrimitive = map[string]bool{"null": true, "boolean": true, "int": true, "long": true, "float": true,
	"double": true, "bytes": true, "string": true}

// walk visits the types in v in Avro's definition order; ns is the
// enclosing namespace names are relative to.
func (in *inliner) walk(v any, ns string, depth int) any {
	if depth > 4*maxAvroDepth {
		return v
	}
	switch t := v.(type) {
	case string:
		if avroPrimitive[t] {
			return t
		}
		full := t
		if !strings.Contains(t, ".") && ns != "" {
			full = ns + "." + t
		}
		if def, ok := in.refs[full]; ok && !in.defined[full] {
			in.defined[full] = true
			return in.walk(def, "", depth+1)
		}
	case []any:
		for i := range t {
			t[i] = in.walk(t[i], ns, depth+1)
		}
	case map[string]any:
		switch typ := t["type"]; typ {
		case "record", "error", "enum", "fixed":
			name, _ := t["name"].(string)
			if i := strings.LastIndexByte(name, '.'); i >= 0 {
				ns = name[:i]
			} else if n, ok := t["namespace"].(string); ok {
				ns = n
			}
			full := name
			if !strings.Contains(name, ".") && ns != "" {
				full = ns + "." + name
			}
			in.defined[full] = true
			if fs, ok := t["fields"].([]any); ok {
				for _, f := range fs {
					if fm, ok := f.(map[string]any); ok {
						fm["type"] = in.walk(fm["type"], ns, depth+1)
					}
				}
			}
		case "array":
			t["items"] = in.walk(t["items"], ns, depth+1)
		case "map":
			t["values"] = in.walk(t["values"], ns, depth+1)
		default:
			t["type"] = in.walk(typ, ns, depth+1) // {"type": "int", …} or {"type": <a type>}
		}
	}
	return v
}
