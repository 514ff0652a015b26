package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestAppendLine(t *testing.T) {
	r := &kgo.Record{
		Topic: "p.public.t", Partition: 0, Offset: 7,
		Key:   []byte(`{"id":1}`),
		Value: nil, // tombstone
		Headers: []kgo.RecordHeader{
			{Key: "__debezium.context.connectorName", Value: []byte("postgresql")},
			{Key: "__debezium.oldkey", Value: []byte(`{"id":0}`)},
			{Key: "nil", Value: nil},
		},
	}
	var buf bytes.Buffer
	appendLine(&buf, r, false)
	want := `{"topic":"p.public.t","partition":0,"offset":7,"key":"{\"id\":1}","value":null,"headers":{"__debezium.oldkey":"{\"id\":0}","nil":null}}` + "\n"
	if got := buf.String(); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}

	// Values come back byte for byte; HTML characters are not escaped.
	r = &kgo.Record{Topic: "t", Key: nil, Value: []byte("{\"a\":\"<&>\u2028 \\u0001 Grüezi\"}")}
	buf.Reset()
	appendLine(&buf, r, true)
	var line struct {
		Key   *string `json:"key"`
		Value *string `json:"value"`
	}
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	if line.Key != nil || line.Value == nil || *line.Value != string(r.Value) {
		t.Fatalf("round trip: %s", buf.String())
	}
	if !bytes.Contains(buf.Bytes(), []byte("<&>")) {
		t.Errorf("HTML escaped: %s", buf.String())
	}

	// Invalid UTF-8 is written as base64.
	r = &kgo.Record{Topic: "t", Key: []byte{0xff}, Value: []byte("v")}
	buf.Reset()
	appendLine(&buf, r, false)
	want = `{"topic":"t","partition":0,"offset":0,"key":null,"key_base64":"/w==","value":"v","headers":{}}` + "\n"
	if got := buf.String(); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
