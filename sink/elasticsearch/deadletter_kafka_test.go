package elasticsearch

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/internal/eventtest"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestDeadLetterKafkaSecure: the dead-letter topic is reached through the
// test broker's SASL_SSL listener (TLS with the test CA, SASL PLAIN), with
// the same tls/sasl keys as the kafka sink; the refused document lands
// there with its reason.
func TestDeadLetterKafkaSecure(t *testing.T) {
	brokers := strings.Split(testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS"), ",")
	secure := strings.Split(testenv.Get(t, "SLUICE_TEST_KAFKA_SECURE_BROKERS"), ",")
	caFile := testenv.Get(t, "SLUICE_TEST_KAFKA_CA_FILE")
	user, password := testenv.Get(t, "SLUICE_TEST_KAFKA_SASL_USERNAME"), testenv.Get(t, "SLUICE_TEST_KAFKA_SASL_PASSWORD")
	e := newESTest(t)

	kcl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer kcl.Close()
	topic := fmt.Sprintf("sluice_dlq_secure_%d", time.Now().UnixNano())
	adm := kadm.NewClient(kcl)
	if _, err := adm.CreateTopic(t.Context(), 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { adm.DeleteTopics(context.Background(), topic) })

	mapping := filepath.Join(t.TempDir(), "mapping.json")
	if err := os.WriteFile(mapping, []byte(`{"dynamic":"strict","properties":{"id":{"type":"integer"},"note":{"type":"integer"},"qty":{"type":"integer"},"big":{"type":"text"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	clk := &eventtest.TxClock{}
	events := clk.Tx(insertEvent(1, "1", 1, "a"), insertEvent(2, "abc", 2, "b"))
	s := e.sink(map[string]any{"mapping_file": mapping, "dead_letter": map[string]any{"kafka": map[string]any{
		"brokers": toAny(secure), "topic": topic,
		"tls":  map[string]any{"enabled": true, "ca_file": caFile},
		"sasl": map[string]any{"mechanism": "PLAIN", "username": user, "password": password},
	}}})
	writeAll(t, s, events)

	rd, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for len(recs) == 0 && ctx.Err() == nil {
		rd.PollFetches(ctx).EachRecord(func(r *kgo.Record) { recs = append(recs, r) })
	}
	if len(recs) != 1 {
		t.Fatalf("%d dead letters on the topic, want 1", len(recs))
	}
	var rec deadRecordJSON
	if err := json.Unmarshal(recs[0].Value, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.ID != "2" || rec.Error == nil || !strings.Contains(rec.Error.String(), "note") {
		t.Errorf("dead letter = %s", recs[0].Value)
	}
	if st := s.Stats(); st.DeadLettered != 1 || st.Indexed != 1 {
		t.Errorf("stats = %+v", st)
	}
}
