package mysql

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/source"
	"go.uber.org/zap"
	"gopkg.in/yaml.v3"
)

func TestParseDSN(t *testing.T) {
	cases := []struct {
		in   string
		want dsn
		err  string
	}{
		{"sluice:pw@tcp(127.0.0.1:3306)/shop", dsn{"sluice", "pw", "127.0.0.1", 3306, "shop"}, ""},
		{"sluice@tcp(db.example:3307)/shop", dsn{"sluice", "", "db.example", 3307, "shop"}, ""},
		{"sluice@tcp(db.example)/shop", dsn{"sluice", "", "db.example", 3306, "shop"}, ""},
		{"u:p@ss@tcp([::1]:3306)/", dsn{"u", "p@ss", "::1", 3306, ""}, ""},
		{"u:p/?x@tcp(h:1)/db", dsn{"u", "p/?x", "h", 1, "db"}, ""},
		{"sluice@tcp(h:1)/my%20db", dsn{"sluice", "", "h", 1, "my db"}, ""},
		{"mysql://sluice:pw@127.0.0.1:3306/shop", dsn{"sluice", "pw", "127.0.0.1", 3306, "shop"}, ""},
		{"mysql://sluice@db/shop", dsn{"sluice", "", "db", 3306, "shop"}, ""},
		{"mysql://sluice@[::1]/shop", dsn{"sluice", "", "::1", 3306, "shop"}, ""},
		{"sluice:secret@127.0.0.1:3306/shop", dsn{}, "tcp(host:port)"},
		{"nobody", dsn{}, "user:password@tcp"},
		{"sluice:secret@tcp(127.0.0.1:notaport)/x", dsn{}, "not host:port"},
		{":secret@tcp(127.0.0.1:3306)/x", dsn{}, "no user"},
		{"sluice:secret@tcp(127.0.0.1:3306/x", dsn{}, "DSN: invalid DSN"},
		{"sluice:secret@unix(/run/mysqld.sock)/x", dsn{}, `network "unix" is not supported`},
		// Parameters sluice would ignore are refused, each named.
		{"sluice:secret@tcp(h:1)/shop?parseTime=true", dsn{}, "DSN parameter parseTime is not used by sluice, remove it"},
		{"sluice:secret@tcp(h:1)/shop?charset=latin1&timeout=5s", dsn{}, "DSN parameters are not used by sluice, remove them: charset, timeout"},
		{"mysql://sluice:secret@h/shop?loc=Local", dsn{}, "DSN parameter loc is not used"},
		// TLS is the tls block; tls= points there.
		{"sluice:secret@tcp(h:1)/shop?tls=true", dsn{}, "configured with the source's tls block"},
		{"sluice:secret@tcp(h:1)/shop?tls=custom", dsn{}, "DSN parameter tls is not used by sluice"},
		{"mysql://sluice:secret@h/shop?tls=skip-verify", dsn{}, "tls.enabled, tls.ca_file"},
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
	with := func(f func(c *Config)) Config {
		c := Config{}.Defaults()
		c.DSN = "u@tcp(h:1)/db"
		f(&c)
		return c
	}
	cases := []struct {
		name string
		cfg  Config
		errs []string
	}{
		{"defaults", with(func(*Config) {}), nil},
		{"missing dsn", with(func(c *Config) { c.DSN = "" }), []string{"src.dsn: required"}},
		{"bad values", with(func(c *Config) {
			c.Flavor, c.Tables, c.Offsets.Store = "oracle", []string{"a.b.c"}, "s3"
			c.Snapshot = SnapshotConfig{Mode: "sometimes", ChunkSize: -1}
		}), []string{"src.flavor", "src.tables[0]", "src.offsets.store", "src.snapshot.mode", "src.snapshot.chunk_size"}},
		{"zero durations", with(func(c *Config) { c.Heartbeat, c.DrainTimeout, c.Offsets.FlushInterval = 0, -1, 0 }),
			[]string{"src.heartbeat: must be between 100ms and 1h0m0s", "src.drain_timeout", "src.offsets.flush_interval"}},
		{"empty table list", with(func(c *Config) { c.Tables = []string{} }), []string{"src.tables: empty"}},
		{"huge chunk", with(func(c *Config) { c.Snapshot.ChunkSize = 1 << 40 }), []string{"src.snapshot.chunk_size: must be between 1 and 1000000"}},
		{"kafka store without brokers", with(func(c *Config) { c.Offsets.Store = "kafka" }), []string{"src.offsets.brokers: required"}},
		{"no database", with(func(c *Config) { c.DSN = "u@tcp(h:1)/" }), []string{"src.tables: required when the DSN names no database"}},
		{"dsn parameters", with(func(c *Config) { c.DSN = "u@tcp(h:1)/db?tls=true" }), []string{"src.dsn: DSN parameter tls is not used by sluice", "tls block"}},
		{"tls keys without tls", with(func(c *Config) { c.TLS = TLSConfig{CAFile: "ca.pem"} }), []string{"src.tls.enabled: tls settings are given but tls.enabled is false"}},
		{"tls key without cert", with(func(c *Config) { c.TLS = TLSConfig{Enabled: true, KeyFile: "k.pem"} }), []string{"src.tls: cert_file and key_file must be given together"}},
		{"tls", with(func(c *Config) { c.TLS = TLSConfig{Enabled: true, CAFile: "ca.pem", ServerName: "db"} }), nil},
		{"xa_max_rows", with(func(c *Config) { c.XAMaxRows = 0 }), []string{"src.xa_max_rows: must be between 1 and 10000000"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.cfg, source.Env{Pipeline: "shop", Path: "src", Logger: zap.NewNop()})
			if len(tc.errs) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				c := s.cfg
				if c.ServerID != defaultServerID("shop") || c.Snapshot.Mode != "initial" || c.Offsets.Store != "file" || c.Offsets.Topic != "sluice_offsets" || c.Snapshot.ChunkSize != 4096 {
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

// The documented example must build, and it documents the defaults.
func TestExampleConfig(t *testing.T) {
	data, err := os.ReadFile("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	s, err := source.Build(New, raw, source.Env{Pipeline: "shop", Path: "src", Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	want := Config{}.Defaults()
	want.Type, want.DSN, want.ServerID = "mysql", "sluice@tcp(127.0.0.1:53306)/sluice", defaultServerID("shop")
	got := s.cfg
	if len(got.Tables) == 0 {
		got.Tables = nil
	}
	if len(got.Offsets.Brokers) == 0 {
		got.Offsets.Brokers = nil
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("example config = %+v\nwant defaults %+v", got, want)
	}
}

func TestSplitTable(t *testing.T) {
	cases := []struct {
		in, db, table string
		ok            bool
	}{
		{"shop.orders", "shop", "orders", true},
		{"orders", "def", "orders", true},
		{"Shop.OrderItems", "Shop", "OrderItems", true},
		{"`shop`.`order.lines`", "shop", "order.lines", true},
		{"shop.`a``b`", "shop", "a`b", true},
		{"a.b.c", "", "", false},
		{"`unclosed.t", "", "", false},
		{"shop.", "", "", false},
		{"", "", "", false},
	}
	for _, c := range cases {
		db, table, ok := splitTable(c.in, "def")
		if ok != c.ok || db != c.db || table != c.table {
			t.Errorf("splitTable(%q) = %q, %q, %v; want %q, %q, %v", c.in, db, table, ok, c.db, c.table, c.ok)
		}
	}
	if _, _, ok := splitTable("orders", ""); ok {
		t.Error("a bare name without a default database was accepted")
	}
}

// TestPasswordFile: password_file's content (without its line break) is
// the connection's password; both keys are an error naming the key and
// never showing a value.
func TestPasswordFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(file, []byte("canary-s3cr3t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := source.Env{Pipeline: "shop", Path: "src", Logger: zap.NewNop()}
	s, err := source.Build(New, map[string]any{"dsn": "u@tcp(h:3306)/db", "password_file": file}, env)
	if err != nil {
		t.Fatal(err)
	}
	if s.dsn.Password != "canary-s3cr3t" {
		t.Fatalf("password %q", s.dsn.Password)
	}
	_, err = source.Build(New, map[string]any{"dsn": "u@tcp(h:3306)/db", "password": "canary-x", "password_file": file}, env)
	if err == nil || !strings.Contains(err.Error(), "src.password_file: set password or password_file, not both") || strings.Contains(err.Error(), "canary") {
		t.Errorf("both: %v", err)
	}
}
