package elasticsearch

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/eventtest"
	"github.com/sluice-cdc/sluice/internal/eventtest/sinktest"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/sink"
)

// notElasticsearch serves what the elasticsearch sink's Open asks for
// (HEAD and PUT of the state index) without Elasticsearch's
// X-Elastic-Product header, and root, the body of GET /.
func notElasticsearch(t *testing.T, root string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == "GET" && r.URL.Path == "/":
			w.Write([]byte(root))
		case r.Method == "HEAD":
			w.WriteHeader(404)
		default:
			w.Write([]byte(`{"acknowledged":true}`))
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// An elasticsearch sink pointed at OpenSearch (or anything else that is
// not Elasticsearch) fails Open for good with an error that says what to
// do, instead of being retried forever: go-elasticsearch's product check
// refuses every answer of such a server.
func TestNotElasticsearchIsPermanent(t *testing.T) {
	for _, tc := range []struct {
		name, root string
		want       []string
	}{
		{"opensearch", `{"version":{"distribution":"opensearch","number":"2.19.6"},"tagline":"The OpenSearch Project"}`,
			[]string{"is OpenSearch 2.19.6", "use type: opensearch"}},
		{"unknown", `{"hello":"world"}`, []string{"not Elasticsearch", "for OpenSearch use type: opensearch"}},
		{"no JSON", `<html>`, []string{"not Elasticsearch"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := notElasticsearch(t, tc.root)
			s, err := sink.Build(New, map[string]any{"urls": []any{u}}, testEnv(t))
			if err != nil {
				t.Fatal(err)
			}
			err = s.Open(t.Context())
			if err == nil {
				closeSink(t, s)
				t.Fatal("Open succeeded against a server that is not Elasticsearch")
			}
			if !sluice.IsPermanent(err) || !errors.Is(err, ErrNotElasticsearch) {
				t.Errorf("Open = %v; want a permanent ErrNotElasticsearch", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Open = %v; want it to say %q", err, w)
				}
			}
		})
	}
}

// The same against the real OpenSearch.
func TestElasticsearchTypeAgainstOpenSearch(t *testing.T) {
	e := newBackendTest(t, backends[1])
	s := buildSink(t, "it", 0, map[string]any{"urls": []any{e.URL}, "state_index": e.state}, nil)
	err := s.Open(t.Context())
	if err == nil {
		closeSink(t, s)
		t.Fatal("an elasticsearch sink opened against OpenSearch")
	}
	if !sluice.IsPermanent(err) || !strings.Contains(err.Error(), "is OpenSearch 2.") || !strings.Contains(err.Error(), "use type: opensearch") {
		t.Errorf("Open = %v; want a permanent error naming OpenSearch and type: opensearch", err)
	}
}

func TestOpenSearchRegistered(t *testing.T) {
	sinktest.Registered(t, TypeOpenSearch, map[string]any{"urls": []any{"http://os:9200"}}, testEnv(t))
}

// The opensearch type takes the elasticsearch type's keys, refuses
// api_key (OpenSearch has none) and alone takes aws_sigv4.
func TestOpenSearchConfig(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_SESSION_TOKEN", "")
	min := func() map[string]any {
		return map[string]any{"type": "opensearch", "urls": []any{"https://search-x.eu-west-1.es.amazonaws.com"}}
	}
	with := func(kv ...any) map[string]any { return testenv.With(min(), kv...) }
	sigv4 := func(kv ...any) map[string]any {
		return testenv.With(map[string]any{"region": "eu-west-1", "access_key_id": "AKIDEXAMPLE", "secret_access_key": "canary-secret"}, kv...)
	}
	sinktest.RunConfigCases(t, NewOpenSearch, testPath, []sinktest.ConfigCase[Config]{
		{Name: "defaults", Raw: min(), Check: func(t *testing.T, c Config) {
			if c.AWSSigV4.enabled() || c.AWSSigV4.Service != SigV4ServiceES || c.StateIndex != "sluice-state" {
				t.Errorf("config = %+v", c)
			}
		}},
		{Name: "aws_sigv4", Raw: with("aws_sigv4", sigv4("service", "aoss", "session_token", "canary-token")), Check: func(t *testing.T, c Config) {
			a := c.AWSSigV4
			if !a.enabled() || a.Region != "eu-west-1" || a.Service != SigV4ServiceAOSS || a.SecretAccessKey != "canary-secret" || a.SessionToken != "canary-token" {
				t.Errorf("aws_sigv4 = %+v", a)
			}
			if got := strings.Join([]string{a.SecretAccessKey.String(), a.SessionToken.String()}, " "); strings.Contains(got, "canary") {
				t.Errorf("secret printed: %s", got)
			}
		}},
		{Name: "api_key", Raw: with("api_key", "a2V5"), WantErr: []string{testPath + ".api_key: OpenSearch has no API keys"}},
		{Name: "bad service", Raw: with("aws_sigv4", sigv4("service", "s3")), WantErr: []string{testPath + `.aws_sigv4.service: "s3"`}},
		{Name: "no credentials", Raw: with("aws_sigv4", map[string]any{"region": "eu-west-1"}), WantErr: []string{testPath + ".aws_sigv4: no credentials"}},
		{Name: "keys without region", Raw: with("aws_sigv4", map[string]any{"access_key_id": "AKIDEXAMPLE"}), WantErr: []string{testPath + ".aws_sigv4.region: required"}},
		{Name: "sigv4 and basic auth", Raw: with("aws_sigv4", sigv4(), "username", "admin", "password", "p"), WantErr: []string{testPath + ".aws_sigv4: sign requests or send"}},
	})
	// aws_sigv4 is no key of the elasticsearch type.
	_, err := sink.Build(New, map[string]any{"urls": []any{"http://es:9200"}, "aws_sigv4": sigv4()}, testEnv(t))
	if err == nil || !strings.Contains(err.Error(), testPath+".aws_sigv4: only with type: opensearch") || strings.Contains(err.Error(), "canary") {
		t.Errorf("elasticsearch with aws_sigv4: %v", err)
	}
}

// JSON objects are mapped as OpenSearch's flat_object (it has no
// flattened type).
func TestOpenSearchFlatObject(t *testing.T) {
	s, err := sink.Build(NewOpenSearch, map[string]any{"urls": []any{"http://os:9200"}, "json_handling": "object"}, testEnv(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.enc.fieldMapping(&sluice.Column{Type: sluice.TypeJSON}); got != `{"type":"flat_object"}` {
		t.Errorf("mapping = %s", got)
	}
}

// Credentials come from the *_file keys or, when no key is configured,
// from the standard AWS environment variables.
func TestSigV4Credentials(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/secret"
	if err := os.WriteFile(file, []byte("canary-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "canary-from-env")
	t.Setenv("AWS_SESSION_TOKEN", "canary-token-env")
	for _, tc := range []struct {
		name                     string
		sigv4                    map[string]any
		wantID, wantKey, wantTok string
	}{
		{"environment", map[string]any{"region": "eu-west-1"}, "AKIDENV", "canary-from-env", "canary-token-env"},
		{"file", map[string]any{"region": "eu-west-1", "access_key_id": "AKIDFILE", "secret_access_key_file": file}, "AKIDFILE", "canary-from-file", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := sink.Build(NewOpenSearch, map[string]any{"urls": []any{"http://os:9200"}, "aws_sigv4": tc.sigv4}, testEnv(t))
			if err != nil {
				t.Fatal(err)
			}
			a := s.Config().AWSSigV4
			if a.AccessKeyID != tc.wantID || string(a.SecretAccessKey) != tc.wantKey || string(a.SessionToken) != tc.wantTok || a.SecretAccessKeyFile != "" {
				t.Errorf("credentials = %q %q %q", a.AccessKeyID, string(a.SecretAccessKey), string(a.SessionToken))
			}
		})
	}
	_, err := sink.Build(NewOpenSearch, map[string]any{"urls": []any{"http://os:9200"},
		"aws_sigv4": map[string]any{"region": "eu-west-1", "access_key_id": "A", "secret_access_key": "canary-x", "secret_access_key_file": file}}, testEnv(t))
	if err == nil || !strings.Contains(err.Error(), testPath+".aws_sigv4.secret_access_key_file: set secret_access_key or secret_access_key_file, not both") {
		t.Errorf("both: %v", err)
	}
}

// The documented example is valid for type: opensearch too.
func TestExampleConfigOpenSearch(t *testing.T) {
	raw := testenv.ExampleConfig(t)
	raw["type"] = TypeOpenSearch
	if _, err := sink.Build(NewOpenSearch, raw, testEnv(t)); err != nil {
		t.Fatal(err)
	}
}

// Signed (and gzipped) requests reach the real OpenSearch intact. It has
// no security plugin, so it checks no signature (TestSigV4TestSuite does);
// this proves that signing, which rereads every body, changes nothing else.
func TestSigV4AgainstOpenSearch(t *testing.T) {
	e := newBackendTest(t, backends[1])
	clk := &eventtest.TxClock{}
	events := ordersStream(clk)
	writeAll(t, e.sink(map[string]any{"compression": true, "aws_sigv4": map[string]any{
		"region": "eu-west-1", "access_key_id": "AKIDEXAMPLE", "secret_access_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}}), events)
	sameDocs(t, e.Docs(e.index("orders")), model(events))
}
