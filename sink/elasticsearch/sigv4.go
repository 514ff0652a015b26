package elasticsearch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/sluice-cdc/sluice/internal/secret"
	"github.com/sluice-cdc/sluice/sink"
)

// AWSSigV4 signs every request with AWS Signature Version 4, as Amazon
// OpenSearch Service and OpenSearch Serverless require instead of
// passwords. Only with type: opensearch. Setting region turns it on.
type AWSSigV4 struct {
	// Region is the AWS region of the domain or collection, e.g.
	// eu-west-1. Default none (no signing).
	Region string `yaml:"region"`
	// Service is the signing name: "es" (default) for an Amazon
	// OpenSearch Service domain, "aoss" for an OpenSearch Serverless
	// collection.
	Service string `yaml:"service"`
	// AccessKeyID, SecretAccessKey and SessionToken are the AWS
	// credentials; a session token only with temporary credentials.
	// Default: the environment variables AWS_ACCESS_KEY_ID,
	// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, read when the sink is
	// built, when neither key is set here. The secret key and token are
	// never logged; prefer the *_file keys or the environment override
	// SLUICE_PIPELINES_<NAME>_SINKS_<SINK>_AWS_SIGV4_SECRET_ACCESS_KEY.
	AccessKeyID     string `yaml:"access_key_id"`
	SecretAccessKey Secret `yaml:"secret_access_key"`
	SessionToken    Secret `yaml:"session_token"`
	// SecretAccessKeyFile and SessionTokenFile are paths of files holding
	// the secret key and the session token (mounted secrets), read when
	// the sink is built; instead of the keys above.
	SecretAccessKeyFile string `yaml:"secret_access_key_file"`
	SessionTokenFile    string `yaml:"session_token_file"`
}

// Signing services.
const (
	SigV4ServiceES   = "es"
	SigV4ServiceAOSS = "aoss"
)

// enabled reports whether requests are signed.
func (a *AWSSigV4) enabled() bool { return a.Region != "" }

// resolve reads the *_file secrets and, when no key is configured, the
// standard AWS environment variables. Errors name the key under path.
func (a *AWSSigV4) resolve(path string) []error {
	var errs []error
	key := sink.JoinKey(path, "aws_sigv4")
	var err error
	if a.SecretAccessKey, err = secret.Resolve(a.SecretAccessKey, a.SecretAccessKeyFile, "secret_access_key"); err != nil {
		errs = append(errs, fmt.Errorf("%s.%w", key, err))
	}
	if a.SessionToken, err = secret.Resolve(a.SessionToken, a.SessionTokenFile, "session_token"); err != nil {
		errs = append(errs, fmt.Errorf("%s.%w", key, err))
	}
	a.SecretAccessKeyFile, a.SessionTokenFile = "", ""
	if a.enabled() && a.AccessKeyID == "" && a.SecretAccessKey == "" {
		a.AccessKeyID = os.Getenv("AWS_ACCESS_KEY_ID")
		a.SecretAccessKey = Secret(os.Getenv("AWS_SECRET_ACCESS_KEY"))
		if a.SessionToken == "" {
			a.SessionToken = Secret(os.Getenv("AWS_SESSION_TOKEN"))
		}
	}
	return errs
}

// validate checks the block of a sink of the given type; bad reports one
// problem by key relative to the sink.
func (a *AWSSigV4) validate(typ string, c *Config, bad func(key, format string, args ...any)) {
	if !a.enabled() {
		if a.AccessKeyID != "" || a.SecretAccessKey != "" || a.SessionToken != "" || a.Service != SigV4ServiceES {
			bad("aws_sigv4.region", "required with the other aws_sigv4 keys")
		}
		return
	}
	if typ != TypeOpenSearch {
		bad("aws_sigv4", "only with type: opensearch (Amazon OpenSearch Service)")
	}
	switch a.Service {
	case SigV4ServiceES, SigV4ServiceAOSS:
	default:
		bad("aws_sigv4.service", "%q is not one of es, aoss", a.Service)
	}
	if a.AccessKeyID == "" || a.SecretAccessKey == "" {
		bad("aws_sigv4", "no credentials: set access_key_id and secret_access_key (or secret_access_key_file), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}
	if c.Username != "" || c.APIKey != "" {
		bad("aws_sigv4", "sign requests or send username/api_key credentials, not both")
	}
}

// sigv4Transport signs each request just before it leaves, below the
// client library: after its gzip compression (the signature covers the
// bytes sent) and on every node it picks.
type sigv4Transport struct {
	next    http.RoundTripper
	signer  *v4.Signer
	creds   aws.Credentials
	region  string
	service string
	now     func() time.Time // time.Now; fixed in tests
}

func newSigV4Transport(a *AWSSigV4, next http.RoundTripper) *sigv4Transport {
	return &sigv4Transport{
		next:   next,
		signer: v4.NewSigner(),
		creds: aws.Credentials{AccessKeyID: a.AccessKeyID, SecretAccessKey: string(a.SecretAccessKey),
			SessionToken: string(a.SessionToken), Source: "sluice configuration"},
		region:  a.Region,
		service: a.Service,
		now:     time.Now,
	}
}

// emptySHA256 is the payload hash of a request without a body.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// RoundTrip signs a copy of req (a RoundTripper must not change its
// argument) and sends it.
func (t *sigv4Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	if err := t.sign(out); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	return t.next.RoundTrip(out)
}

// sign adds X-Amz-Date, X-Amz-Security-Token (with a session token),
// X-Amz-Content-Sha256 and Authorization to req. The body is read into
// memory to be hashed (bulk bodies are bounded by bulk.max_bytes) and put
// back. X-Amz-Content-Sha256 is sent with every body and, for "aoss",
// which requires it, with every request: the AWS test suite's vectors
// have it exactly then.
func (t *sigv4Transport) sign(req *http.Request) error {
	hash := emptySHA256
	if req.Body != nil && req.Body != http.NoBody {
		body, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return fmt.Errorf("aws_sigv4: read the request body: %w", err)
		}
		sum := sha256.Sum256(body)
		hash = hex.EncodeToString(sum[:])
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		req.ContentLength = int64(len(body))
		req.Header.Set("X-Amz-Content-Sha256", hash)
	} else if t.service == SigV4ServiceAOSS {
		req.Header.Set("X-Amz-Content-Sha256", hash)
	}
	if err := t.signer.SignHTTP(context.Background(), t.creds, req, hash, t.service, t.region, t.now()); err != nil {
		return fmt.Errorf("aws_sigv4: sign %s %s: %w", req.Method, req.URL.Path, err)
	}
	return nil
}
