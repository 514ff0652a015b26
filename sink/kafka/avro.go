package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/codec"
	"github.com/sluice-cdc/sluice/codec/avro"
	"github.com/sluice-cdc/sluice/internal/registry/schemaregistry"
)

// avroFormat writes records as Avro in Confluent's wire format. A row
// event's key and value are written straight from its rows (encode leaves
// its JSON value out); every other record (messages, schema changes,
// heartbeats, the transaction topic, unwrapped and outbox events) is
// written as JSON by encode, with an encoder whose payloads follow their
// Connect schemas, and transcoded by convert. Each goes behind its
// schema's registry id. The ids are kept per schema and topic, so the
// registry is asked once per table version and topic: the first event of
// a table, and the first after its schema changed, wait for the registry
// (with retries while it is down: the pipeline waits, nothing is
// dropped); every other event is served from memory.
type avroFormat struct {
	reg *schemaregistry.Client

	mu  sync.Mutex
	ids map[idKey]int
}

type idKey struct {
	s     *avro.Schema
	topic string
}

// maxAvroIDs bounds the id cache; it is cleared when full.
const maxAvroIDs = 4096

func newAvroFormat(cfg RegistryConfig, log *zap.Logger) (*avroFormat, error) {
	reg, err := schemaregistry.New(cfg, log)
	if err != nil {
		return nil, err
	}
	return &avroFormat{reg: reg, ids: map[idKey]int{}}, nil
}

// typedEncoder is enc with payloads bound to their Connect schemas and no
// schema wrapper, the JSON the Avro transcoding reads.
func typedEncoder(enc *codec.Encoder) (*codec.Encoder, error) {
	o := enc.Options()
	o.Schemas, o.Typed = false, true
	return codec.New(o)
}

// id returns the registry id of s for topic.
func (a *avroFormat) id(ctx context.Context, s *avro.Schema, topic string, isKey bool) (int, error) {
	k := idKey{s, topic}
	a.mu.Lock()
	id, ok := a.ids[k]
	a.mu.Unlock()
	if ok {
		return id, nil
	}
	id, err := a.reg.ID(ctx, topic, s.Name, isKey, s.JSON)
	if err != nil {
		return 0, err
	}
	a.mu.Lock()
	if len(a.ids) >= maxAvroIDs {
		clear(a.ids)
	}
	a.ids[k] = id
	a.mu.Unlock()
	return id, nil
}

// convert rewrites the keys and values of p's records into Avro, in
// p.abuf: the transaction topic's records with their schemas, the others
// (ev's change and tombstone, or a heartbeat: ev nil) with as.
func (a *avroFormat) convert(ctx context.Context, s *Sink, p *pending, ev *sluice.Event, as *codec.AvroSchemas) error {
	type span struct{ rec, ks, ke, vs, ve int }
	var spans [4]span
	buf := p.abuf[:0]
	direct := ev != nil && codec.AvroDirect(ev)
	for i := range p.n {
		r := &p.recs[i]
		as, rowRec := as, direct
		if s.txMeta && r.Topic == s.txTopic {
			tx, err := s.enc.AvroTxSchemas()
			if err != nil {
				return sluice.Permanent(fmt.Errorf("format avro: %w", err))
			}
			as, rowRec = tx, false
		}
		sp := span{rec: i, ks: -1, vs: -1}
		if r.Key != nil {
			id, err := a.id(ctx, as.Key, r.Topic, true)
			if err != nil {
				return registryErr(err)
			}
			sp.ks = len(buf)
			buf = schemaregistry.AppendHeader(buf, id)
			if rowRec {
				buf, _, err = s.enc.AppendAvroKey(buf, ev, as, &p.scratch)
			} else {
				buf, err = as.Key.Append(buf, r.Key)
			}
			if err != nil {
				return sluice.Permanent(err)
			}
			sp.ke = len(buf)
		}
		if r.Value != nil {
			id, err := a.id(ctx, as.Value, r.Topic, false)
			if err != nil {
				return registryErr(err)
			}
			sp.vs = len(buf)
			buf = schemaregistry.AppendHeader(buf, id)
			if rowRec {
				buf, err = s.enc.AppendAvroValue(buf, ev, p.now, as, &p.scratch)
			} else {
				buf, err = as.Value.Append(buf, r.Value)
			}
			if err != nil {
				return sluice.Permanent(err)
			}
			sp.ve = len(buf)
		}
		spans[i] = sp
	}
	p.abuf = buf
	for _, sp := range spans[:p.n] {
		r := &p.recs[sp.rec]
		if sp.ks >= 0 {
			r.Key = buf[sp.ks:sp.ke:sp.ke]
		}
		if sp.vs >= 0 {
			r.Value = buf[sp.vs:sp.ve:sp.ve]
		}
	}
	return nil
}

// registryErr marks the registry's refusals permanent: the events carry
// the schema it refused, so a replay fails the same way.
func registryErr(err error) error {
	var inc *schemaregistry.IncompatibleError
	if errors.As(err, &inc) || errors.Is(err, schemaregistry.ErrInvalidSchema) || errors.Is(err, schemaregistry.ErrNotRegistered) {
		return sluice.Permanent(fmt.Errorf("format avro: %w", err))
	}
	return fmt.Errorf("format avro: %w", err)
}
