package mysql

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice"
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
			testenv.DeleteTopicsAtEnd(t, brokers, topic)
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
			if plain := os.Getenv("SLUICE_TEST_KAFKA_BROKERS"); plain != "" { // the same cluster
				testenv.DeleteTopicsAtEnd(t, plain, src.cfg.Offsets.Topic)
			}
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

// TestCorruptOffsetsArePermanent: an offset that cannot be decoded stops
// the pipeline for good with the way out, instead of being retried
// forever: a retry reads the same bytes.
func TestCorruptOffsetsArePermanent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t.Run("file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "p.mysql.json")
		if err := os.WriteFile(path, []byte(`{"version":1,"file":`), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := (&fileStore{path: path}).Load(ctx)
		if err == nil || !sluice.IsPermanent(err) || !strings.Contains(err.Error(), "delete it") {
			t.Fatalf("Load = %v, want a permanent error saying to delete the file", err)
		}
	})
	t.Run("kafka", func(t *testing.T) {
		brokers := strings.Split(testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS"), ",")
		topic := fmt.Sprintf("sluice_offsets_corrupt_%d", time.Now().UnixNano())
		s, err := newKafkaStore(ctx, brokers, nil, topic, "p")
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		testenv.DeleteTopicsAtEnd(t, strings.Join(brokers, ","), topic)
		if err := s.cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte("p"), Value: []byte("not json")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		_, err = s.Load(ctx)
		if err == nil || !sluice.IsPermanent(err) || !strings.Contains(err.Error(), "tombstone") {
			t.Fatalf("Load = %v, want a permanent error saying how to reset the record", err)
		}
	})
}

// TestOffsetWriteFailureFailsThePipeline: when the offset cannot be
// stored for offsetGiveUp, Run fails (and the pipeline restarts from the
// last stored offset) instead of warning forever while the stored
// position falls behind.
func TestOffsetWriteFailureFailsThePipeline(t *testing.T) {
	defer func(d time.Duration) { offsetGiveUp = d }(offsetGiveUp)
	offsetGiveUp = time.Second
	h := newHarness(t)
	h.exec("DROP TABLE IF EXISTS offfail", "CREATE TABLE offfail (id int PRIMARY KEY)")
	h.dropAfter("offfail")
	h.start(map[string]any{"tables": []any{"offfail"}})
	h.streaming()
	path := filepath.Join(h.stateDir, h.name+".mysql.json")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no offset stored at the start: %v", err)
	}
	// A directory in the file's place: every rename onto it fails.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(path, "blocker"), 0o755); err != nil {
		t.Fatal(err)
	}
	h.exec("INSERT INTO offfail VALUES (1)")
	h.wait(1)
	start := time.Now()
	select {
	case <-h.c.Done():
	case <-time.After(offsetGiveUp + 10*time.Second):
		t.Fatalf("Run still runs %v after offset writes began to fail", time.Since(start))
	}
	err := h.stop()
	if err == nil || sluice.IsPermanent(err) || !strings.Contains(err.Error(), "storing the offset has failed for") {
		t.Fatalf("Run returned %v, want a retryable error saying the offset could not be stored", err)
	}
}
