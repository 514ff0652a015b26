// Package tlsconf builds client TLS settings from the file paths every
// sink's `tls:` block names, so the sinks read certificates the same way.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// Files are the settings of a `tls:` block.
type Files struct {
	CAFile, CertFile, KeyFile, ServerName string
	InsecureSkipVerify                    bool
}

// Build reads the PEM files (so it belongs in Open, not in a constructor)
// and returns the client configuration. Errors name the config key.
func Build(f Files) (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         f.ServerName,
		InsecureSkipVerify: f.InsecureSkipVerify, // explicit opt-in, documented as test-only
	}
	if f.CAFile != "" {
		pem, err := os.ReadFile(f.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca_file %s: no PEM certificates found", f.CAFile)
		}
		tc.RootCAs = pool
	}
	if f.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls.cert_file/key_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// Block is a `tls:` block of the configuration: the same keys for every
// client that verifies a server (Kafka brokers, a schema registry).
type Block struct {
	// Enabled turns TLS on. Default false. The other keys need it.
	Enabled bool `yaml:"enabled"`
	// CAFile is a PEM file of the CAs that sign the server's certificate.
	// Default: the system roots. Kafka: ssl.truststore.location.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are the PEM client certificate and key for
	// mutual TLS; both or neither. Default none. Kafka:
	// ssl.keystore.location.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// InsecureSkipVerify accepts any server certificate. Default false;
	// for tests only. Kafka: ssl.endpoint.identification.algorithm="" is
	// the nearest (it skips only the host check).
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
	// ServerName overrides the name checked in the server certificate.
	// Default: the host dialled.
	ServerName string `yaml:"server_name"`
}

// Problems are the block's invalid settings, as (key relative to the
// block's parent, message) pairs; none reads a file.
func (t Block) Problems() [][2]string {
	var ps [][2]string
	if !t.Enabled && (t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.InsecureSkipVerify || t.ServerName != "") {
		ps = append(ps, [2]string{"tls.enabled", "tls settings are given but tls.enabled is false"})
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		ps = append(ps, [2]string{"tls", "cert_file and key_file must be given together"})
	}
	return ps
}

// Config reads the PEM files and returns the client TLS configuration.
func (t Block) Config() (*tls.Config, error) {
	return Build(Files{CAFile: t.CAFile, CertFile: t.CertFile, KeyFile: t.KeyFile,
		ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify})
}
