// Package kafkaconn holds the connection settings every Kafka client of
// sluice shares — the kafka sink, the Elasticsearch sink's dead-letter
// topic and the MySQL source's offset topic — so TLS and SASL are
// configured, validated and applied the same way wherever sluice talks to
// a broker.
package kafkaconn

import (
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/sluice-cdc/sluice/internal/secret"
	"github.com/sluice-cdc/sluice/internal/tlsconf"
)

// TLS configures encrypted connections to the brokers.
type TLS = tlsconf.Block

// SASL configures authentication.
type SASL struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (case does not
	// matter). Default: no SASL. Kafka: sasl.mechanism.
	Mechanism string `yaml:"mechanism"`
	// Username and Password are the credentials. Kafka: the username and
	// password of sasl.jaas.config. The password is never logged.
	Username string `yaml:"username"`
	Password Secret `yaml:"password"`
	// PasswordFile is the path of a file holding the password (a mounted
	// secret), read when the client is opened; instead of Password.
	PasswordFile string `yaml:"password_file"`
}

// Secret is a string that never prints (internal/secret).
type Secret = secret.Secret

// Problem is one invalid setting: its key relative to the block that
// holds the tls: and sasl: keys, and what is wrong.
type Problem struct {
	Key, Msg string
}

// Validate checks the settings without reading any file.
func Validate(t TLS, s SASL) []Problem {
	var ps []Problem
	for _, p := range t.Problems() {
		ps = append(ps, Problem{p[0], p[1]})
	}
	if s.Password != "" && s.PasswordFile != "" {
		ps = append(ps, Problem{"sasl.password_file", "set sasl.password or sasl.password_file, not both"})
	}
	switch strings.ToUpper(s.Mechanism) {
	case "":
		if s.Username != "" || s.Password != "" || s.PasswordFile != "" {
			ps = append(ps, Problem{"sasl.mechanism", "required when sasl.username or sasl.password is set: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"})
		}
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		if s.Username == "" {
			ps = append(ps, Problem{"sasl.username", "required with sasl.mechanism " + s.Mechanism})
		}
	default:
		ps = append(ps, Problem{"sasl.mechanism", fmt.Sprintf("%q is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512", s.Mechanism)})
	}
	return ps
}

// Opts turns validated settings into franz-go options. It reads the TLS
// files, so it belongs where the client is opened, not in a constructor.
func Opts(t TLS, s SASL) ([]kgo.Opt, error) {
	var opts []kgo.Opt
	if t.Enabled {
		tc, err := t.Config()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	pw, err := secret.Resolve(s.Password, s.PasswordFile, "sasl.password")
	if err != nil {
		return nil, err
	}
	s.Password, s.PasswordFile = pw, ""
	if m := s.Auth(); m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

// Auth is the SASL mechanism, or nil without SASL.
func (s SASL) Auth() sasl.Mechanism {
	switch strings.ToUpper(s.Mechanism) {
	case "PLAIN":
		return plain.Auth{User: s.Username, Pass: string(s.Password)}.AsMechanism()
	case "SCRAM-SHA-256":
		return scram.Auth{User: s.Username, Pass: string(s.Password)}.AsSha256Mechanism()
	case "SCRAM-SHA-512":
		return scram.Auth{User: s.Username, Pass: string(s.Password)}.AsSha512Mechanism()
	}
	return nil
}
