package mysql

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/kafkaconn"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestOffsetStores: both stores return nothing before the first save,
// then the last offset saved.
func TestOffsetStores(t *testing.T) {
	stores := map[string]func(t *testing.T) offsetStore{
		"file": func(t *testing.T) offsetStore { return &fileStore{path: filepath.Join(t.TempDir(), "p.mysql.json")} },
		"kafka": func(t *testing.T) offsetStore {
			brokers := testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			topic := fmt.Sprintf("sluice_offsets_test_%d", time.Now().UnixNano())
			s, err := newKafkaStore(ctx, strings.Split(brokers, ","), nil, topic, "p")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(s.Close)
			return s
		},
		// Through the config, as the daemon opens it: the broker's
		// SASL_SSL listener with the test CA and SASL PLAIN.
		"kafka over TLS and SASL": func(t *testing.T) offsetStore {
			src := &Source{pipeline: "p", cfg: Config{Offsets: OffsetConfig{
				Store:   "kafka",
				Brokers: strings.Split(testenv.Get(t, "SLUICE_TEST_KAFKA_SECURE_BROKERS"), ","),
				Topic:   fmt.Sprintf("sluice_offsets_secure_%d", time.Now().UnixNano()),
				TLS:     kafkaconn.TLS{Enabled: true, CAFile: testenv.Get(t, "SLUICE_TEST_KAFKA_CA_FILE")},
				SASL: kafkaconn.SASL{Mechanism: "PLAIN", Username: testenv.Get(t, "SLUICE_TEST_KAFKA_SASL_USERNAME"),
					Password: kafkaconn.Secret(testenv.Get(t, "SLUICE_TEST_KAFKA_SASL_PASSWORD"))},
			}}}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s, err := src.openStore(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := s.(*kafkaStore); !ok {
				t.Fatalf("openStore gave a %T", s)
			}
			t.Cleanup(s.Close)
			return s
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s := open(t)
			if o, err := s.Load(ctx); err != nil || o != nil {
				t.Fatalf("empty store: %+v, %v", o, err)
			}
			var want *offset
			for i := 1; i <= 3; i++ {
				want = &offset{Version: 1, ServerID: 1, File: "mysql-bin.000002", Pos: uint32(100 * i), GTIDs: fmt.Sprintf("0-1-%d", i),
					Snapshot: &snapshotState{Tables: []*tableProgress{{Table: "db.t", LastKey: []keyValue{{Text: "4"}, {Text: "ff", Hex: true}}, Rows: 7}}}}
				if err := s.Save(ctx, want); err != nil {
					t.Fatal(err)
				}
			}
			got, err := s.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("loaded %+v, want %+v", got, want)
			}
		})
	}
}
