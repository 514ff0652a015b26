package testenv

import "testing"

// NewOpenSearch is NewES for the test OpenSearch (SLUICE_TEST_OPENSEARCH_URL,
// started by scripts/opensearch.sh): OpenSearch 2.x serves the same REST
// API for everything ES's helpers do (documents, search, scroll, _cat), so
// a test checks either server through one *ES. Under CI=true a missing
// OpenSearch fails the test; otherwise it is skipped.
func NewOpenSearch(t testing.TB, prefix string) *ES {
	t.Helper()
	return newES(t, "SLUICE_TEST_OPENSEARCH_URL", prefix)
}
