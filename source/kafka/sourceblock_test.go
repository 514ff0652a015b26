package kafka

import (
	"path/filepath"
	"testing"

	"github.com/valyala/fastjson"
)

// readByName is the source block read field by field with fastjson's
// Get* lookups: the reference sourceReader.read must agree with.
func readByName(r *sourceReader, v *fastjson.Value, s *sourceInfo) {
	s.connector = r.str(0, v.GetStringBytes("connector"))
	s.name = r.str(1, v.GetStringBytes("name"))
	s.epoch = r.epochOf(s.connector, s.name)
	s.db = r.str(2, v.GetStringBytes("db"))
	s.schema = r.str(3, v.GetStringBytes("schema"))
	s.table = r.str(4, v.GetStringBytes("table"))
	s.snapshot = r.str(5, v.GetStringBytes("snapshot"))
	s.tsMs = v.GetInt64("ts_ms")
	s.tsUs = v.GetInt64("ts_us")
	s.lsn = v.GetUint64("lsn")
	s.txID = v.GetUint64("txId")
	if seq := v.GetStringBytes("sequence"); len(seq) > 0 {
		s.seq0 = sequenceFirst(seq)
	}
	s.file = r.str(6, v.GetStringBytes("file"))
	s.pos = v.GetUint64("pos")
	s.row = v.GetInt64("row")
	s.gtid = r.str(7, v.GetStringBytes("gtid"))
	s.serverID = uint32(v.GetUint64("server_id"))
	s.thread = v.GetUint64("thread")
}

// TestSourceBlockRead: the one-pass reader reads every source block
// Debezium Server wrote in the recordings, and blocks with wrong types,
// repeated or escaped names, missing and unknown fields, as lookups by
// name read them.
func TestSourceBlockRead(t *testing.T) {
	blocks := []string{
		`{}`,
		`{"connector":"postgresql","name":"dbz","ts_ms":1,"snapshot":"false","db":"shop","sequence":"[\"24023128\",\"24023184\"]","schema":"public","table":"orders","txId":742,"lsn":24023184,"xmin":null}`,
		`{"connector":"mysql","name":"m","server_id":1,"file":"mysql-bin.000003","pos":1234,"row":2,"gtid":"0-1-42","thread":7,"ts_us":5}`,
		`{"connector":1,"name":null,"lsn":"12","txId":-1,"ts_ms":1.5,"row":"x","server_id":4294967297,"sequence":[1]}`,
		`{"table":"first","table":"second","lsn":1,"lsn":2}`,
		`{"tab\u006ce":"escaped","ts_ms":18446744073709551616,"pos":-3,"row":-2,"thread":-1,"sequence":"[null,\"1\"]"}`,
		`{"connector":"postgresql","sequence":"","version":"3.3.1.Final","other":{"lsn":9}}`,
	}
	files, _ := filepath.Glob("../../testdata/golden/debezium/*/*/*.jsonl")
	for _, f := range files {
		for _, r := range recorded(t, f) {
			v, err := fastjson.ParseBytes(r.Value)
			if err != nil {
				continue // not JSON: the decode tests cover it
			}
			if p := v.Get("payload"); p != nil {
				v = p
			}
			if src := v.Get("source"); src != nil && src.Type() == fastjson.TypeObject {
				blocks = append(blocks, src.String())
			}
		}
	}
	if len(blocks) < 50 {
		t.Fatalf("only %d source blocks: the recordings were not found", len(blocks))
	}
	var got, want sourceReader
	for _, b := range blocks {
		v, err := fastjson.Parse(b)
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		var g, w sourceInfo
		if err := got.read(v, &g); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		readByName(&want, v, &w)
		if g != w {
			t.Errorf("%s:\nread   %+v\nby name %+v", b, g, w)
		}
	}
	for _, b := range []string{`null`, `[]`, `"source"`} {
		if err := got.read(fastjson.MustParse(b), &sourceInfo{}); err == nil {
			t.Errorf("%s: read without an error", b)
		}
	}
	if err := got.read(nil, &sourceInfo{}); err == nil {
		t.Error("a record without a source block: read without an error")
	}
}
