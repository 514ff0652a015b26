package mysql

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestTLS runs the source over TLS against the test server, whose
// certificate the test CA (SLUICE_TEST_MYSQL_CA_FILE, made by
// scripts/mariadb.sh) signs. The accounts used refuse plaintext (REQUIRE
// SSL, REQUIRE X509), so streaming proves that both the query connection
// and the binlog connection use TLS.
func TestTLS(t *testing.T) {
	ca := testenv.Get(t, "SLUICE_TEST_MYSQL_CA_FILE")
	h := newHarness(t)
	h.exec("DROP TABLE IF EXISTS tls_t", "CREATE TABLE tls_t (id int PRIMARY KEY)")
	h.dropAfter("tls_t")
	d, err := parseDSN(h.dsn)
	if err != nil {
		t.Fatal(err)
	}
	as := func(user string) string { return fmt.Sprintf("%s:%s@tcp(%s)/%s", user, user, d.addr(), d.DB) }
	n := 0
	streams := func(t *testing.T, dsn string, tlsBlock map[string]any) {
		t.Helper()
		h := newHarness(t)
		h.start(map[string]any{"dsn": dsn, "tables": []any{"tls_t"}, "tls": tlsBlock})
		h.streaming()
		n++
		h.exec(fmt.Sprintf("INSERT INTO tls_t VALUES (%d)", n))
		if evs := h.wait(1); len(evs) != 1 || evs[0].After[0].Int != int64(n) {
			t.Fatalf("over TLS: %s, want c%d", ids(evs), n)
		}
		if err := h.stop(); err != nil {
			t.Fatal(err)
		}
	}
	refused := func(t *testing.T, dsn string, tlsBlock map[string]any, want ...string) {
		t.Helper()
		h := newHarness(t)
		s := h.newSource(map[string]any{"dsn": dsn, "tables": []any{"tls_t"}, "tls": tlsBlock})
		ctx, cancel := contextTimeout(20 * time.Second)
		defer cancel()
		err := s.Run(ctx, func(*sluice.Event) error { return nil })
		t.Logf("refused: %v", err)
		if err == nil || !sluice.IsPermanent(err) {
			t.Fatalf("Run = %v, want a permanent error", err)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Fatalf("Run = %v, want an error containing %q", err, w)
			}
		}
	}

	t.Run("verified with the CA", func(t *testing.T) {
		streams(t, as("sluicetls"), map[string]any{"enabled": true, "ca_file": ca})
	})
	t.Run("client certificate", func(t *testing.T) {
		dir := filepath.Dir(ca)
		streams(t, as("sluicex509"), map[string]any{"enabled": true, "ca_file": ca,
			"cert_file": filepath.Join(dir, "client.crt"), "key_file": filepath.Join(dir, "client.key")})
	})
	t.Run("insecure_skip_verify", func(t *testing.T) {
		streams(t, as("sluicetls"), map[string]any{"enabled": true, "insecure_skip_verify": true})
	})
	t.Run("another CA", func(t *testing.T) {
		refused(t, as("sluicetls"), map[string]any{"enabled": true, "ca_file": otherCA(t)},
			"over TLS: the server's certificate is not signed by a CA in tls.ca_file", "unknown authority")
	})
	t.Run("another name", func(t *testing.T) {
		refused(t, as("sluicetls"), map[string]any{"enabled": true, "ca_file": ca, "server_name": "db.example"},
			`not valid for "db.example": set tls.server_name`)
	})
	t.Run("no CA file", func(t *testing.T) {
		refused(t, as("sluicetls"), map[string]any{"enabled": true, "ca_file": filepath.Join(t.TempDir(), "missing.pem")},
			"tls.ca_file")
	})
}

// otherCA writes a CA certificate that signed nothing the server has.
func otherCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "another CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "other-ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
