package mysql

import (
	"strings"
	"testing"
)

func TestParseDSN(t *testing.T) {
	cases := []struct {
		in   string
		want dsn
		err  string
	}{
		{"sluice:pw@tcp(127.0.0.1:3306)/shop", dsn{"sluice", "pw", "127.0.0.1", 3306, "shop"}, ""},
		{"sluice@tcp(db.example:3307)/shop?parseTime=true", dsn{"sluice", "", "db.example", 3307, "shop"}, ""},
		{"u:p@ss@tcp([::1]:3306)/", dsn{"u", "p@ss", "::1", 3306, ""}, ""},
		{"mysql://sluice:pw@127.0.0.1:3306/shop", dsn{"sluice", "pw", "127.0.0.1", 3306, "shop"}, ""},
		{"mysql://sluice@db/shop", dsn{"sluice", "", "db", 3306, "shop"}, ""},
		{"sluice:secret@127.0.0.1:3306/shop", dsn{}, "tcp(host:port)"},
		{"nobody", dsn{}, "user:password@tcp"},
		{"sluice:secret@tcp(127.0.0.1:notaport)/x", dsn{}, "not host:port"},
		{":secret@tcp(127.0.0.1:3306)/x", dsn{}, "no user"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseDSN(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Fatalf("error leaks the password: %v", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		errs []string
	}{
		{"defaults", Config{DSN: "u@tcp(h:1)/db"}, nil},
		{"missing dsn", Config{}, []string{"src.dsn: required"}},
		{"bad values", Config{DSN: "u@tcp(h:1)/db", Flavor: "oracle", Tables: []string{"a.b.c"},
			Offsets: OffsetConfig{Store: "s3"}, Snapshot: SnapshotConfig{Mode: "sometimes", ChunkSize: -1}},
			[]string{"src.flavor", "src.tables[0]", "src.offsets.store", "src.snapshot.mode", "src.snapshot.chunk_size"}},
		{"kafka store without brokers", Config{DSN: "u@tcp(h:1)/db", Offsets: OffsetConfig{Store: "kafka"}}, []string{"src.offsets.brokers: required"}},
		{"no database", Config{DSN: "u@tcp(h:1)/"}, []string{"src.tables: required when the DSN names no database"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.validate("shop", "src")
			if len(tc.errs) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				c := tc.cfg
				if c.ServerID < 1_000_000 || c.Snapshot.Mode != "initial" || c.Offsets.Store != "file" || c.Offsets.Topic != "sluice_offsets" || c.Snapshot.ChunkSize != 4096 {
					t.Errorf("defaults not filled: %+v", c)
				}
				return
			}
			for _, want := range tc.errs {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("error %v, want one containing %q", err, want)
				}
			}
		})
	}
}

func TestDefaultServerIDStable(t *testing.T) {
	if defaultServerID("shop") != defaultServerID("shop") || defaultServerID("shop") == defaultServerID("orders") {
		t.Fatal("server ids must be stable per pipeline and differ between pipelines")
	}
}

func TestParseLabels(t *testing.T) {
	got := parseLabels(`enum('a','b''c','d,e','')`)
	want := []string{"a", "b'c", "d,e", ""}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q, want %q", got, want)
	}
}
