package main

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when a goroutine outlives them. Run
// as "-bulk-loader …" it is the bulk loader child of the → Elasticsearch
// comparisons, which start their own executable (TestESSmoke).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "-bulk-loader" {
		if err := bulkLoaderMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "sluice-bench -bulk-loader:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}
