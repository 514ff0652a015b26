package schemaregistry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"go.uber.org/zap/zaptest"

	"github.com/sluice-cdc/sluice/internal/avrotest"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestRegistry runs the client against a real registry
// (SLUICE_TEST_REGISTRY_URL, e.g. Apicurio's
// http://127.0.0.1:58081/apis/ccompat/v7 from scripts/services.sh):
// register, look up from a fresh client, an incompatible change refused
// under BACKWARD, a compatible one accepted, use_latest, a schema the
// registry cannot parse. It deletes the subjects it made.
func TestRegistry(t *testing.T) {
	url := testenv.Get(t, "SLUICE_TEST_REGISTRY_URL")
	suffix := make([]byte, 6)
	rand.Read(suffix)
	topic := "sluice-registry-test-" + hex.EncodeToString(suffix)
	subject := topic + "-value"
	admin := avrotest.AdminClient(t, url)
	avrotest.DeleteSubjectsAtEnd(t, admin, subject, topic+"-key")

	const (
		v1           = `{"type":"record","name":"Value","namespace":"sluice.test","fields":[{"name":"id","type":"int"}]}`
		v2           = `{"type":"record","name":"Value","namespace":"sluice.test","fields":[{"name":"id","type":"int"},{"name":"note","type":["null","string"],"default":null}]}`
		incompatible = `{"type":"record","name":"Value","namespace":"sluice.test","fields":[{"name":"id","type":"string"}]}`
	)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	no := false
	newClient := func(cfg Config) *Client {
		cfg.URL = url
		c, err := New(cfg, zaptest.NewLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}

	reg := newClient(Config{})
	id1, err := reg.ID(ctx, topic, "sluice.test.Value", false, v1)
	if err != nil || id1 <= 0 {
		t.Fatalf("register v1: %d, %v", id1, err)
	}
	if err := reg.Ready(); err != nil {
		t.Errorf("Ready after a registration = %v", err)
	}

	lookup := newClient(Config{AutoRegister: &no})
	if id, err := lookup.ID(ctx, topic, "sluice.test.Value", false, v1); err != nil || id != id1 {
		t.Errorf("look up v1 from a fresh client: %d, %v; want %d", id, err, id1)
	}
	if _, err := lookup.ID(ctx, topic, "sluice.test.Value", false, v2); !errors.Is(err, ErrNotRegistered) {
		t.Errorf("look up unregistered v2: %v; want ErrNotRegistered", err)
	}
	if _, err := lookup.ID(ctx, topic, "sluice.test.Key", true, v1); !errors.Is(err, ErrNotRegistered) {
		t.Errorf("look up under a subject that does not exist: %v; want ErrNotRegistered", err)
	}

	for _, r := range admin.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatBackward}, subject) {
		if r.Err != nil {
			t.Fatalf("PUT /config/%s BACKWARD: %v", subject, r.Err)
		}
	}
	_, err = reg.ID(ctx, topic, "sluice.test.Value", false, incompatible)
	var ie *IncompatibleError
	if !errors.As(err, &ie) || ie.Subject != subject || ie.Message == "" {
		t.Fatalf("register an incompatible change: %#v; want *IncompatibleError for %s with the registry's message", err, subject)
	}
	t.Logf("refused as expected: %v", err)
	if reg.Ready() == nil {
		t.Error("Ready = nil after the registry refused a schema")
	}

	id2, err := reg.ID(ctx, topic, "sluice.test.Value", false, v2)
	if err != nil || id2 <= 0 || id2 == id1 {
		t.Fatalf("register compatible v2: %d, %v; want a new id (v1 is %d)", id2, err, id1)
	}
	if err := reg.Ready(); err != nil {
		t.Errorf("Ready after a success = %v", err)
	}

	latest := newClient(Config{UseLatest: true})
	if id, err := latest.ID(ctx, topic, "sluice.test.Value", false, v1); err != nil || id != id2 {
		t.Errorf("use_latest: %d, %v; want %d (v2, the latest version)", id, err, id2)
	}

	if _, err := reg.ID(ctx, topic, "sluice.test.Key", true, `{"type":"nope"}`); !errors.Is(err, ErrInvalidSchema) {
		t.Errorf("register an invalid schema: %v; want ErrInvalidSchema", err)
	}
}
