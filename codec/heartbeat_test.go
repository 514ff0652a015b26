package codec

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
)

// Heartbeat records: Debezium's key and ts_ms, the position under the
// names of Debezium's offsets; with schemas, valid Connect JSON whose
// payload is the plain value.
func TestHeartbeatRecords(t *testing.T) {
	at := time.UnixMilli(1796017287458)
	for _, tc := range []struct {
		name      string
		connector string
		hb        sluice.Heartbeat
		key, val  string
	}{
		{"postgres", ConnectorPostgres, sluice.Heartbeat{LSN: 1359847328},
			`{"serverName":"shop"}`, `{"ts_ms":1796017287458,"lsn":1359847328}`},
		{"mysql", ConnectorMySQL, sluice.Heartbeat{File: "mysql-bin.000003", Pos: 4711, GTIDs: "0-1-42"},
			`{"serverName":"shop"}`, `{"ts_ms":1796017287458,"file":"mysql-bin.000003","pos":4711,"gtids":"0-1-42"}`},
		{"mariadb without gtids", ConnectorMariaDB, sluice.Heartbeat{File: "mysql-bin.000003", Pos: 4},
			`{"serverName":"shop"}`, `{"ts_ms":1796017287458,"file":"mysql-bin.000003","pos":4,"gtids":null}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := &sluice.Event{Op: sluice.OpHeartbeat, Heartbeat: &tc.hb}
			for _, schemas := range []bool{false, true} {
				enc, err := New(Options{Name: "shop", Connector: tc.connector, Schemas: schemas})
				if err != nil {
					t.Fatal(err)
				}
				key, val := enc.AppendHeartbeatKey(nil), enc.AppendHeartbeatValue(nil, ev, at)
				if schemas {
					var k, v struct {
						Schema  map[string]any  `json:"schema"`
						Payload json.RawMessage `json:"payload"`
					}
					if err := json.Unmarshal(key, &k); err != nil || k.Schema["name"] != "io.debezium.connector.common.ServerNameKey" {
						t.Fatalf("key with schemas %s: %v", key, err)
					}
					if err := json.Unmarshal(val, &v); err != nil || v.Schema["name"] != "io.debezium.connector.common.Heartbeat" {
						t.Fatalf("value with schemas %s: %v", val, err)
					}
					key, val = k.Payload, v.Payload
				}
				if string(key) != tc.key || string(val) != tc.val {
					t.Errorf("schemas %v: key %s value %s\nwant key %s value %s", schemas, key, val, tc.key, tc.val)
				}
			}
		})
	}
}
