package main

import (
	"context"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
)

// deleteSubjects removes, soft then for good, the registry subjects a
// compare run with format avro made (the registry of
// $SLUICE_TEST_REGISTRY_URL, the one cmd/sluice-bench/sink-avro.yaml
// names). Failures are only logged: the figures do not depend on it.
func (b *bench) deleteSubjects(subjects ...string) {
	url := os.Getenv("SLUICE_TEST_REGISTRY_URL")
	if b.o.keep || url == "" {
		return
	}
	cl, err := sr.NewClient(sr.URLs(url))
	if err != nil {
		b.logf("   registry: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, s := range subjects {
		for _, how := range []sr.DeleteHow{sr.SoftDelete, sr.HardDelete} {
			if _, err := cl.DeleteSubject(ctx, s, how); err != nil {
				b.logf("   registry: delete %s: %v", s, err)
				break
			}
		}
	}
}
