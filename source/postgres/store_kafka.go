package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/kafkaconn"
	"github.com/sluice-cdc/sluice/internal/kvstore"
)

// kafkaStore keeps the state in a compacted topic (internal/kvstore,
// shared with the MySQL source's offsets, whose default topic it shares
// too), keyed by pipeline name as MySQL's offsets are: pipeline names are
// unique in a configuration, so one topic serves every pipeline of a
// deployment. The value is the state's JSON, which names its slot; a
// record of another slot (the configuration changed) is no state.
type kafkaStore struct {
	kv   *kvstore.Topic
	key  []byte
	slot string
}

// openKafkaStore connects to state.brokers and creates state.topic when
// missing.
func (s *Source) openKafkaStore(ctx context.Context) (*kafkaStore, error) {
	conn, err := kafkaconn.Opts(s.cfg.State.TLS, s.cfg.State.SASL)
	if err != nil {
		return nil, sluice.Permanent(fmt.Errorf("postgres source: state.%w", err))
	}
	kv, err := kvstore.Open(ctx, s.cfg.State.Brokers, conn, s.cfg.State.Topic)
	if err != nil {
		return nil, fmt.Errorf("postgres source: state %w", err)
	}
	return &kafkaStore{kv: kv, key: []byte(s.pipeline), slot: s.cfg.Slot}, nil
}

func (k *kafkaStore) String() string {
	return fmt.Sprintf("Kafka topic %s (key %s)", k.kv.Name(), k.key)
}

func (k *kafkaStore) close() { k.kv.Close() }

func (k *kafkaStore) load(ctx context.Context) (*state, error) {
	b, err := k.kv.Get(ctx, k.key)
	if err != nil || b == nil {
		return nil, err
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		// A retry reads the same record.
		return nil, sluice.Permanent(fmt.Errorf("the record for key %s is corrupt (produce a tombstone, a null value, for key %s to the topic "+
			"and restart: the start then says how to go on): %w", k.key, k.key, err))
	}
	if st.Slot != k.slot {
		return nil, nil
	}
	return &st, nil
}

func (k *kafkaStore) save(ctx context.Context, st *state) error {
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	return k.kv.Put(ctx, k.key, b)
}
