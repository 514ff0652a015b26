package sink

import (
	"testing"

	"github.com/sluice-cdc/sluice/codec"
)

// The schema change and transaction topics carry Debezium's names.
func TestDebeziumSideTopics(t *testing.T) {
	r, err := NewRouter("p", DefaultTopic, DefaultMessageTopic, codec.Options{Name: "dbzpg"})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.TransactionTopic(); got != "dbzpg.transaction" {
		t.Errorf("transaction topic %q", got)
	}
	if got := r.SchemaTopic(); got != "dbzpg" {
		t.Errorf("schema change topic %q", got)
	}
}
