package elasticsearch

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sluice-cdc/sluice/internal/eventtest"
	"github.com/sluice-cdc/sluice/sink"
)

// TestSigV4TestSuite signs requests of AWS's SigV4 test suite and compares
// the Authorization header with the published one, byte for byte. The
// data is AWS's: credentials AKIDEXAMPLE /
// wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, region us-east-1, service
// "service", 20150830T123600Z; requests and expected values from
// awslabs/aws-c-auth, tests/aws-signing-test-suite/v4/<name>/header-signed-request.txt
// (get-vanilla's also in the original aws-sig-v4-test-suite, as quoted by
// awslabs/aws-crt-python test/test_auth.py).
func TestSigV4TestSuite(t *testing.T) {
	const cred = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
	for _, tc := range []struct {
		name, method, url, body string
		header                  map[string]string
		token                   string
		want                    string
	}{
		{name: "get-vanilla", method: "GET", url: "https://example.amazonaws.com/",
			want: cred + "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
		{name: "get-vanilla-query-order-key-case", method: "GET", url: "https://example.amazonaws.com/?Param2=value2&Param1=value1",
			want: cred + "SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
		{name: "post-vanilla", method: "POST", url: "https://example.amazonaws.com/",
			want: cred + "SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
		{name: "post-header-key-sort", method: "POST", url: "https://example.amazonaws.com/", header: map[string]string{"My-Header1": "value1"},
			want: cred + "SignedHeaders=host;my-header1;x-amz-date, Signature=c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"},
		{name: "post-x-www-form-urlencoded", method: "POST", url: "https://example.amazonaws.com/", body: "Param1=value1",
			header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			want: cred + "SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date, " +
				"Signature=d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b"},
		{name: "get-vanilla-with-session-token", method: "GET", url: "https://example.amazonaws.com/",
			token: "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267",
			want:  cred + "SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newSigV4Transport(&AWSSigV4{Region: "us-east-1", Service: "service", AccessKeyID: "AKIDEXAMPLE",
				SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", SessionToken: Secret(tc.token)}, nil)
			tr.now = func() time.Time { return time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC) }
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req, err := http.NewRequest(tc.method, tc.url, body)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			if err := tr.sign(req); err != nil {
				t.Fatal(err)
			}
			if got := req.Header.Get("Authorization"); got != tc.want {
				t.Errorf("Authorization:\n got %s\nwant %s", got, tc.want)
			}
			if got := req.Header.Get("X-Amz-Date"); got != "20150830T123600Z" {
				t.Errorf("X-Amz-Date = %q", got)
			}
			if req.Body != nil {
				if got, _ := io.ReadAll(req.Body); string(got) != tc.body {
					t.Errorf("body after signing = %q, want %q", got, tc.body)
				}
			}
		})
	}
}

// The opensearch sink signs what it sends: every request carries a SigV4
// Authorization for the configured region and service, and its
// X-Amz-Content-Sha256 is the hash of the bytes on the wire (gzipped
// here); aoss gets the hash header on bodiless requests too. The secret
// key and token are never logged.
func TestSigV4Requests(t *testing.T) {
	for _, service := range []string{SigV4ServiceES, SigV4ServiceAOSS} {
		t.Run(service, func(t *testing.T) {
			f := &fakeES{t: t, docs: map[string]fakeDoc{}, indices: map[string]bool{}}
			var mu sync.Mutex
			var problems []string
			requests := 0
			f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				sum := sha256.Sum256(body)
				mu.Lock()
				requests++
				auth := r.Header.Get("Authorization")
				if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") || !strings.Contains(auth, "/eu-west-1/"+service+"/aws4_request") ||
					!strings.Contains(auth, "x-amz-security-token") {
					problems = append(problems, fmt.Sprintf("%s %s: Authorization %q", r.Method, r.URL.Path, auth))
				}
				hash := r.Header.Get("X-Amz-Content-Sha256")
				switch {
				case len(body) > 0 && hash != hex.EncodeToString(sum[:]):
					problems = append(problems, fmt.Sprintf("%s %s: X-Amz-Content-Sha256 %q is not the body's", r.Method, r.URL.Path, hash))
				case len(body) == 0 && service == SigV4ServiceAOSS && hash != emptySHA256:
					problems = append(problems, fmt.Sprintf("%s %s: aoss without X-Amz-Content-Sha256", r.Method, r.URL.Path))
				}
				mu.Unlock()
				if r.Header.Get("Content-Encoding") == "gzip" {
					zr, err := gzip.NewReader(bytes.NewReader(body))
					if err != nil {
						t.Errorf("gzip: %v", err)
						return
					}
					body, _ = io.ReadAll(zr)
				}
				r.Body = io.NopCloser(bytes.NewReader(body))
				f.serve(w, r)
			}))
			t.Cleanup(f.srv.Close)
			core, logs := observer.New(zap.DebugLevel)
			s, err := sink.Build(NewOpenSearch, map[string]any{"type": "opensearch", "urls": []any{f.srv.URL}, "index": "{table}", "compression": true,
				"aws_sigv4": map[string]any{"region": "eu-west-1", "service": service, "access_key_id": "AKIDEXAMPLE",
					"secret_access_key": "canary-secret", "session_token": "canary-token"},
				"bulk": map[string]any{"flush_interval": "5ms"}},
				sink.Env{Pipeline: "unit", Path: "p", Encoder: testEnv(t).Encoder, Logger: zap.New(core)})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Open(t.Context()); err != nil {
				t.Fatal(err)
			}
			clk := &eventtest.TxClock{}
			acks := write(t, s, clk.Tx(insertEvent(1, "a", 1, "b"), insertEvent(2, "c", 2, "d")))
			<-acks.done
			acks.check(t)
			closeSink(t, s)
			if _, ok := f.doc("orders", "2"); !ok {
				t.Error("document 2 not indexed")
			}
			mu.Lock()
			defer mu.Unlock()
			if requests < 3 { // state index, table index, bulk
				t.Errorf("%d requests", requests)
			}
			for _, p := range problems {
				t.Error(p)
			}
			for _, e := range logs.All() {
				if line := fmt.Sprintf("%s %v", e.Message, e.ContextMap()); strings.Contains(line, "canary") {
					t.Errorf("log entry leaks a secret: %s", line)
				}
			}
		})
	}
}
