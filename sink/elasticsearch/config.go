package elasticsearch

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/internal/kafkaconn"
	"github.com/sluice-cdc/sluice/internal/secret"
	"github.com/sluice-cdc/sluice/internal/tlsconf"

	"github.com/sluice-cdc/sluice/sink"
)

// Config is the YAML configuration of an elasticsearch sink. Only urls is
// required. testdata/example.yaml is a complete commented example.
type Config struct {
	// Type is the sink type: "elasticsearch" (Elasticsearch 8.x, through
	// go-elasticsearch) or "opensearch" (OpenSearch 2.x and Amazon
	// OpenSearch Service, through opensearch-go; see opensearch.go). Read
	// by the runner to pick the constructor and otherwise ignored.
	Type string `yaml:"type"`

	// URLs are the Elasticsearch (or OpenSearch) nodes, e.g.
	// https://es1:9200. Required.
	// Requests are spread over them; a failing node is retried later.
	// Logstash/Beats: hosts.
	URLs []string `yaml:"urls"`

	// Username and Password are HTTP basic-auth credentials. Default none.
	// The password is never logged; prefer the environment override
	// SLUICE_PIPELINES_<NAME>_SINKS_<SINK>_PASSWORD.
	Username string `yaml:"username"`
	Password Secret `yaml:"password"`
	// PasswordFile is the path of a file holding the password (a mounted
	// secret), read when the sink is built; instead of Password.
	PasswordFile string `yaml:"password_file"`

	// APIKey is an Elasticsearch API key in its encoded form (the
	// "encoded" field of the create-API-key response, base64 of
	// "id:api_key"), sent as "Authorization: ApiKey …". It takes
	// precedence over username/password. Default none; never logged.
	APIKey Secret `yaml:"api_key"`
	// APIKeyFile is the path of a file holding the API key; instead of
	// APIKey. Elasticsearch only: OpenSearch has no API keys.
	APIKeyFile string `yaml:"api_key_file"`

	// AWSSigV4 signs requests for Amazon OpenSearch Service or
	// OpenSearch Serverless (type: opensearch only; see sigv4.go).
	// Default off.
	AWSSigV4 AWSSigV4 `yaml:"aws_sigv4"`

	// TLS configures https connections.
	TLS TLS `yaml:"tls"`

	// Index is the index name template. Placeholders: {prefix} (the
	// pipeline's topic prefix), {db}, {schema} (the database name when the
	// table has no schema), {table}. A name without placeholders puts every
	// table into one index or alias. Substituted values are lower-cased
	// and characters Elasticsearch forbids in index names become '_'.
	// Default "{prefix}.{schema}.{table}", the Kafka sink's topic names.
	// Kafka Connect's Elasticsearch sink: the topic name.
	Index string `yaml:"index"`

	// Columns is deprecated: use the columns transform in the sink's
	// transforms. It maps "schema.table" (PostgreSQL) or "db.table"
	// (MySQL), as the database spells them (case counts), to the columns
	// to index. It is still accepted, and checked here so that errors
	// name this key, so old files keep working: DeprecatedTransforms
	// turns it into columns transform entries (include, plus the key
	// columns, which give the document id) that run after the sink's own
	// transforms. The sink itself never reads it. Default none.
	Columns map[string][]string `yaml:"columns"`

	// JSONHandling says how json/jsonb columns appear in documents:
	// "string" (default) keeps the JSON text as a string, mapped as text,
	// which any value fits; "object" embeds the parsed JSON, mapped as
	// flattened (OpenSearch: flat_object; every leaf searchable as a
	// keyword), which rejects top-level scalars and arrays of scalars
	// (dead-lettered).
	JSONHandling string `yaml:"json_handling"`

	// CreateIndices creates a missing index the first time a table needs
	// it, with MappingFile's mappings or, by default, a mapping derived
	// from the table's column types, plus IndexSettings. A name that is an
	// existing alias is used as is. Default true. With false, indices must
	// exist or be created by Elasticsearch (action.auto_create_index, with
	// an index template).
	CreateIndices bool `yaml:"create_indices"`

	// MappingFile is a JSON file holding the "mappings" object used for
	// every index the sink creates, instead of the derived mapping.
	// Default none.
	MappingFile string `yaml:"mapping_file"`

	// IndexSettings are the settings of indices the sink creates, e.g.
	// {"number_of_shards": 1, "refresh_interval": "5s"}. Default none
	// (Elasticsearch's defaults).
	IndexSettings map[string]any `yaml:"index_settings"`

	// IndexTemplate installs a composable index template at start (PUT
	// _index_template/<name>), e.g. to give indices that Elasticsearch
	// creates by itself their settings and mappings.
	IndexTemplate IndexTemplate `yaml:"index_template"`

	// StateIndex is the hidden index holding the sink's own state:
	// delete tombstones, truncate marks and the write-ahead high-water
	// mark (see the package documentation). Default "sluice-state". Share
	// it between pipelines freely; deleting it voids the no-resurrection
	// guarantee for deletes older than index.gc_deletes.
	StateIndex string `yaml:"state_index"`

	// Truncate is what a TRUNCATE does: "delete_documents" deletes every
	// document of the table's index (a scroll plus versioned bulk deletes,
	// as the server may lack _delete_by_query) and records a truncate mark
	// so older replayed changes are dropped; "ignore" acknowledges it and
	// logs a warning once per index (Debezium: skipped.operations=t);
	// "fail" stops the pipeline. Default "delete_documents" when Index
	// contains {table}, else "fail" (deleting a shared index's documents
	// would remove other tables' rows).
	Truncate string `yaml:"truncate"`

	// OnEpochChange is what happens when an index was written from one
	// source log and events now come from another whose positions are
	// not comparable (a different server, a PostgreSQL cluster restored or
	// promoted onto a new timeline, or the source's `epoch` key changed
	// after RESET MASTER): "fail" (default) stops the pipeline with an
	// error that says what happened; "reindex" deletes the index and its
	// marks and rebuilds it from the new log (run a snapshot to fill it).
	// Without it, every change would be older than what the index holds
	// and be dropped as stale.
	OnEpochChange string `yaml:"on_epoch_change"`

	// Bulk sizes the bulk requests.
	Bulk Bulk `yaml:"bulk"`

	// Retry paces retries of requests and items that failed for a reason
	// that may pass (connection errors, 429, 5xx, cluster blocks). They
	// are retried without limit: an event is acknowledged only when
	// Elasticsearch or the dead-letter destination has it.
	Retry Retry `yaml:"retry"`

	// RequestTimeout bounds one HTTP request. Default 30s.
	RequestTimeout time.Duration `yaml:"request_timeout"`

	// HealthCheckInterval is how often the sink probes Elasticsearch while
	// open, so /readyz reports an unreachable cluster even when no event
	// is being written. Default 2s.
	HealthCheckInterval time.Duration `yaml:"health_check_interval"`

	// Refresh is the bulk requests' refresh parameter: false (default),
	// true or "wait_for" (acknowledge only once the changes are
	// searchable; slower, useful for tests and read-your-writes).
	Refresh any `yaml:"refresh"`

	// Compression gzips request bodies. Default false.
	Compression bool `yaml:"compression"`

	// DeadLetter receives documents Elasticsearch refuses for good
	// (mapping conflicts, invalid values, ids that cannot be addressed).
	// Without one such a document stops the pipeline with its reason.
	DeadLetter DeadLetter `yaml:"dead_letter"`
}

// TLS configures https connections to Elasticsearch.
type TLS struct {
	// CAFile is a PEM file of the CAs that sign the nodes' certificates.
	// Default: the system roots. Elasticsearch: the http_ca.crt it writes
	// at first start.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a PEM client certificate and key (PKI
	// realm); both or neither. Default none.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName overrides the name checked in the node certificates.
	// Default: the host of the URL.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify accepts any certificate. Default false; for
	// tests only.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// IndexTemplate names a composable index template file.
type IndexTemplate struct {
	// Name is the template's name. Default "sluice-<pipeline>".
	Name string `yaml:"name"`
	// File is a JSON file with the template body (index_patterns,
	// template.settings, template.mappings, priority, …). Default none:
	// no template is installed.
	File string `yaml:"file"`
}

// Bulk sizes bulk requests. A request is sent when it reaches max_actions
// or max_bytes, or flush_interval after its first event.
type Bulk struct {
	// MaxActions is the most events in one bulk request. Default 1000.
	// Kafka Connect's Elasticsearch sink: batch.size.
	MaxActions int `yaml:"max_actions"`
	// MaxBytes is the largest request body, in bytes (a single larger
	// document is sent alone). Default 5242880 (5 MiB). BulkIndexer:
	// FlushBytes.
	MaxBytes int `yaml:"max_bytes"`
	// FlushInterval is how long an event waits for more before its
	// request is sent. Default 1s. Kafka Connect: linger.ms.
	FlushInterval time.Duration `yaml:"flush_interval"`
	// MaxInFlight is how many bulk requests may be outstanding; when they
	// are, and the next request is full, Write blocks (backpressure, and
	// the bound on memory while Elasticsearch is slow or down). Default 2.
	// Kafka Connect: max.in.flight.requests.
	MaxInFlight int `yaml:"max_in_flight"`
}

// Retry paces retries with exponential backoff and jitter.
type Retry struct {
	// InitialBackoff is the first wait. Default 100ms. Kafka Connect:
	// retry.backoff.ms.
	InitialBackoff time.Duration `yaml:"initial_backoff"`
	// MaxBackoff caps the wait. Default 10s.
	MaxBackoff time.Duration `yaml:"max_backoff"`
}

// DeadLetter is where refused documents go: a JSON-lines file, a Kafka
// topic, or both (then both must accept a record before its event is
// acknowledged).
type DeadLetter struct {
	// File is appended one JSON object per refused document and synced
	// before the event is acknowledged. Default none.
	File string `yaml:"file"`
	// Kafka produces the same JSON objects to a topic.
	Kafka DeadLetterKafka `yaml:"kafka"`
}

// DeadLetterKafka is a Kafka topic for refused documents.
type DeadLetterKafka struct {
	// Brokers are seed brokers, host:port. Default none (off).
	Brokers []string `yaml:"brokers"`
	// Topic receives the records, keyed by "<index>/<id>". Required with
	// brokers. The topic must exist or the broker must create it.
	Topic string `yaml:"topic"`
	// TLS and SASL are the kafka sink's keys of the same names.
	TLS  kafkaconn.TLS  `yaml:"tls"`
	SASL kafkaconn.SASL `yaml:"sasl"`
}

// Secret is a string that never prints (internal/secret).
type Secret = secret.Secret

// Defaults returns a Config with every default filled in and no URLs.
// Truncate stays empty: its default depends on Index (see Config.Truncate).
func (Config) Defaults() Config {
	return Config{
		Index:         sink.DefaultTopic,
		JSONHandling:  JSONString,
		CreateIndices: true,
		StateIndex:    "sluice-state",
		OnEpochChange: EpochFail,
		Bulk: Bulk{
			MaxActions:    1000,
			MaxBytes:      5 << 20,
			FlushInterval: time.Second,
			MaxInFlight:   2,
		},
		Retry:               Retry{InitialBackoff: 100 * time.Millisecond, MaxBackoff: 10 * time.Second},
		RequestTimeout:      30 * time.Second,
		HealthCheckInterval: 2 * time.Second,
		AWSSigV4:            AWSSigV4{Service: SigV4ServiceES},
		// Refresh stays nil (false): a typed default would make the
		// decoder parse "wait_for" as a bool.
	}
}

// JSON handling modes.
const (
	JSONString = "string"
	JSONObject = "object"
)

// Epoch change policies.
const (
	EpochFail    = "fail"
	EpochReindex = "reindex"
)

// Truncate policies.
const (
	TruncateDeleteDocuments = "delete_documents"
	TruncateIgnore          = "ignore"
	TruncateFail            = "fail"
)

// refreshParam returns the bulk refresh parameter ("" for false).
func (c *Config) refreshParam() (string, error) {
	switch v := c.Refresh.(type) {
	case nil:
		return "", nil
	case bool:
		if v {
			return "true", nil
		}
		return "", nil
	case string:
		switch strings.ToLower(v) {
		case "", "false":
			return "", nil
		case "true":
			return "true", nil
		case "wait_for":
			return "wait_for", nil
		}
	}
	return "", fmt.Errorf("%v is not one of false, true, wait_for", c.Refresh)
}

// validate fills the defaults that depend on other keys and checks
// everything that can be checked without I/O for a sink of type typ.
// Each error names its full key under path.
func (c *Config) validate(path, typ string) error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", sink.JoinKey(path, key), fmt.Sprintf(format, args...)))
	}
	if len(c.URLs) == 0 {
		bad("urls", "required: at least one URL, e.g. http://127.0.0.1:9200")
	}
	for i, u := range c.URLs {
		p, err := url.Parse(strings.TrimSpace(u))
		switch {
		case err != nil:
			// url.Error quotes the whole URL, which may hold a password.
			bad(fmt.Sprintf("urls[%d]", i), "not a URL")
		case p.Scheme != "http" && p.Scheme != "https":
			bad(fmt.Sprintf("urls[%d]", i), "scheme must be http or https")
		case p.Host == "":
			bad(fmt.Sprintf("urls[%d]", i), "no host")
		}
	}
	if (c.Password != "" || c.PasswordFile != "") && c.Username == "" {
		bad("username", "required when password is set")
	}
	if typ == TypeOpenSearch && c.APIKey != "" {
		bad("api_key", "OpenSearch has no API keys: use username/password or aws_sigv4")
	}
	c.AWSSigV4.validate(typ, c, bad)
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		bad("tls", "cert_file and key_file must be given together")
	}
	switch c.JSONHandling {
	case JSONString, JSONObject:
	default:
		bad("json_handling", "%q is not one of string, object", c.JSONHandling)
	}
	if c.StateIndex == "" {
		bad("state_index", "must not be empty")
	} else if err := checkIndexName(c.StateIndex); err != nil {
		bad("state_index", "%v", err)
	}
	switch c.Truncate {
	case TruncateDeleteDocuments, TruncateIgnore, TruncateFail:
	default:
		bad("truncate", "%q is not one of delete_documents, ignore, fail", c.Truncate)
	}
	switch c.OnEpochChange {
	case EpochFail, EpochReindex:
	default:
		bad("on_epoch_change", "%q is not one of fail, reindex", c.OnEpochChange)
	}
	for table, cols := range c.Columns {
		if s, t, ok := strings.Cut(table, "."); !ok || s == "" || t == "" {
			bad("columns."+table, "key must be schema.table (db.table for MySQL)")
		}
		if len(cols) == 0 {
			bad("columns."+table, "list at least one column")
		}
	}
	b := &c.Bulk
	if b.MaxActions < 1 || b.MaxActions > 1_000_000 {
		bad("bulk.max_actions", "must be between 1 and 1000000, got %d", b.MaxActions)
	}
	if b.MaxBytes < 1024 || b.MaxBytes > 1<<30 {
		bad("bulk.max_bytes", "must be between 1024 and 1073741824, got %d", b.MaxBytes)
	}
	if b.FlushInterval < time.Millisecond || b.FlushInterval > time.Hour {
		bad("bulk.flush_interval", "must be between 1ms and 1h0m0s, got %s", b.FlushInterval)
	}
	if b.MaxInFlight < 1 || b.MaxInFlight > 64 {
		bad("bulk.max_in_flight", "must be between 1 and 64, got %d", b.MaxInFlight)
	}
	if c.Retry.InitialBackoff < time.Millisecond || c.Retry.InitialBackoff > time.Hour {
		bad("retry.initial_backoff", "must be between 1ms and 1h0m0s, got %s", c.Retry.InitialBackoff)
	}
	if c.Retry.MaxBackoff < c.Retry.InitialBackoff || c.Retry.MaxBackoff > time.Hour {
		bad("retry.max_backoff", "must be between retry.initial_backoff (%s) and 1h0m0s, got %s", c.Retry.InitialBackoff, c.Retry.MaxBackoff)
	}
	if c.RequestTimeout < 100*time.Millisecond || c.RequestTimeout > time.Hour {
		bad("request_timeout", "must be between 100ms and 1h0m0s, got %s", c.RequestTimeout)
	}
	if c.HealthCheckInterval < 10*time.Millisecond || c.HealthCheckInterval > time.Hour {
		bad("health_check_interval", "must be between 10ms and 1h0m0s, got %s", c.HealthCheckInterval)
	}
	if _, err := c.refreshParam(); err != nil {
		bad("refresh", "%v", err)
	}
	k := &c.DeadLetter.Kafka
	if len(k.Brokers) > 0 && k.Topic == "" {
		bad("dead_letter.kafka.topic", "required with dead_letter.kafka.brokers")
	}
	if k.Topic != "" && len(k.Brokers) == 0 {
		bad("dead_letter.kafka.brokers", "required with dead_letter.kafka.topic")
	}
	for _, p := range kafkaconn.Validate(k.TLS, k.SASL) {
		bad("dead_letter.kafka."+p.Key, "%s", p.Msg)
	}
	return errors.Join(errs...)
}

// tlsConfig builds the client TLS settings. It reads the PEM files, so it
// runs in Open, not New.
func (t *TLS) tlsConfig() (*tls.Config, error) {
	tc, err := tlsconf.Build(tlsconf.Files{CAFile: t.CAFile, CertFile: t.CertFile, KeyFile: t.KeyFile,
		ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify})
	if err != nil {
		return nil, fmt.Errorf("elasticsearch sink: %w", err)
	}
	return tc, nil
}
