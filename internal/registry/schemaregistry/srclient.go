package schemaregistry

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/sluice-cdc/sluice/internal/secret"
)

// NewSR validates cfg, reads its password, token and TLS files and builds
// the franz-go client of the registry with them. New uses it, and so does
// a reader of schemas (the Kafka source's Avro decoder), so both speak to
// a registry with the same URL, credentials, TLS and per-request timeout.
// Close the returned http.Client's idle connections when done.
func NewSR(cfg Config) (*sr.Client, *http.Client, error) {
	if ps := cfg.Validate(); len(ps) > 0 {
		errs := make([]error, len(ps))
		for i, p := range ps {
			errs[i] = fmt.Errorf("%s: %s", p.Key, p.Msg)
		}
		return nil, nil, fmt.Errorf("schema registry: %w", errors.Join(errs...))
	}
	cfg = cfg.withDefaults()
	pw, err := secret.Resolve(cfg.Password, cfg.PasswordFile, "password")
	if err != nil {
		return nil, nil, fmt.Errorf("schema registry: %w", err)
	}
	token, err := secret.Resolve(cfg.Token, cfg.TokenFile, "token")
	if err != nil {
		return nil, nil, fmt.Errorf("schema registry: %w", err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.TLS.Enabled {
		if tr.TLSClientConfig, err = cfg.TLS.Config(); err != nil {
			return nil, nil, fmt.Errorf("schema registry: %w", err)
		}
	}
	httpcl := &http.Client{Transport: tr, Timeout: cfg.Timeout}
	opts := []sr.ClientOpt{sr.URLs(cfg.URL), sr.HTTPClient(httpcl), sr.UserAgent("sluice")}
	switch {
	case cfg.Username != "":
		opts = append(opts, sr.BasicAuth(cfg.Username, string(pw)))
	case token != "":
		opts = append(opts, sr.BearerToken(string(token)))
	}
	cl, err := sr.NewClient(opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("schema registry %s: %w", cfg.URL, err)
	}
	return cl, httpcl, nil
}
