package schemaregistry

import (
	"fmt"
	"net/url"
	"time"

	"github.com/sluice-cdc/sluice/internal/secret"
	"github.com/sluice-cdc/sluice/internal/tlsconf"
)

// Subject name strategies (Config.SubjectStrategy), as Confluent's
// serializers name subjects.
const (
	// StrategyTopic names subjects <topic>-key and <topic>-value.
	// Confluent: TopicNameStrategy, the default.
	StrategyTopic = "topic"
	// StrategyRecord names the subject after the record's full name
	// (namespace.name), for keys and values alike, so that topics
	// carrying the same record share one subject. Confluent:
	// RecordNameStrategy.
	StrategyRecord = "record"
	// StrategyTopicRecord names subjects <topic>-<record full name>.
	// Confluent: TopicRecordNameStrategy.
	StrategyTopicRecord = "topic_record"
)

// Config is the Kafka sink's `registry:` block.
type Config struct {
	// URL is the registry's base URL, required, e.g.
	// http://127.0.0.1:58081/apis/ccompat/v7 for Apicurio Registry's
	// Confluent API, or http://registry:8081 for Confluent's. Credentials
	// go in username/password or token, never in the URL. Confluent:
	// schema.registry.url.
	URL string `yaml:"url"`
	// Username and Password are HTTP basic auth credentials. Default none.
	// Confluent: basic.auth.user.info. The password is never logged.
	Username string        `yaml:"username"`
	Password secret.Secret `yaml:"password"`
	// PasswordFile is the path of a file holding the password (a mounted
	// secret), read by New; instead of Password.
	PasswordFile string `yaml:"password_file"`
	// Token is a bearer token, sent as "Authorization: Bearer <token>";
	// not together with basic auth. Default none. Confluent:
	// bearer.auth.token. Never logged.
	Token secret.Secret `yaml:"token"`
	// TokenFile is the path of a file holding the token, read by New;
	// instead of Token.
	TokenFile string `yaml:"token_file"`
	// TLS configures https connections beyond the defaults (system roots,
	// certificate verified): a private CA, a client certificate. An
	// https:// URL needs no tls block.
	TLS TLS `yaml:"tls"`
	// SubjectStrategy is topic (default), record or topic_record; see the
	// Strategy constants. Confluent: key.subject.name.strategy and
	// value.subject.name.strategy.
	SubjectStrategy string `yaml:"subject_strategy"`
	// AutoRegister registers a schema the subject does not have yet.
	// Default true. When false, the schema is only looked up and one the
	// registry does not have fails with ErrNotRegistered. Confluent:
	// auto.register.schemas.
	AutoRegister *bool `yaml:"auto_register"`
	// UseLatest uses the id of the subject's latest version instead of
	// registering or looking up the schema the events are written with;
	// it implies no auto_register. The schema must then be the one the
	// events are written with: the registry's latest version is not
	// compared with it, so a reader would decode the records with a
	// schema they were not written with. The id is fetched once per
	// subject; a version registered later is used after a restart.
	// Default false. Confluent: use.latest.version.
	UseLatest bool `yaml:"use_latest"`
	// Timeout bounds each request to the registry. Default 10s.
	Timeout time.Duration `yaml:"timeout"`
	// RetryMin and RetryMax bound the backoff between attempts while the
	// registry is unreachable or answers 5xx or 429: the wait starts at
	// RetryMin and doubles up to RetryMax. Defaults 100ms and 10s.
	RetryMin time.Duration `yaml:"retry_min"`
	RetryMax time.Duration `yaml:"retry_max"`
}

// TLS configures https connections to the registry.
type TLS = tlsconf.Block

// Defaults for the zero values of Config, which New fills in.
const (
	DefaultTimeout  = 10 * time.Second
	DefaultRetryMin = 100 * time.Millisecond
	DefaultRetryMax = 10 * time.Second
)

// Defaults returns the configuration a decoder fills the YAML over.
func Defaults() Config {
	yes := true
	return Config{SubjectStrategy: StrategyTopic, AutoRegister: &yes,
		Timeout: DefaultTimeout, RetryMin: DefaultRetryMin, RetryMax: DefaultRetryMax}
}

// withDefaults fills the zero values, so a Config built in code needs only
// a URL.
func (c Config) withDefaults() Config {
	d := Defaults()
	if c.SubjectStrategy == "" {
		c.SubjectStrategy = d.SubjectStrategy
	}
	if c.AutoRegister == nil {
		c.AutoRegister = d.AutoRegister
	}
	if c.Timeout == 0 {
		c.Timeout = d.Timeout
	}
	if c.RetryMin == 0 {
		c.RetryMin = d.RetryMin
	}
	if c.RetryMax == 0 {
		c.RetryMax = max(d.RetryMax, c.RetryMin)
	}
	return c
}

// Problem is one invalid setting: its key relative to the registry block
// (e.g. "url", "tls.cert_file"), and what is wrong.
type Problem struct {
	Key, Msg string
}

// Validate checks the settings without reading any file. Zero values are
// valid: they stand for the defaults.
func (c Config) Validate() []Problem {
	var ps []Problem
	add := func(key, format string, args ...any) {
		ps = append(ps, Problem{key, fmt.Sprintf(format, args...)})
	}
	switch u, err := url.Parse(c.URL); {
	case c.URL == "":
		add("url", "required: the registry's base URL, e.g. http://registry:8081 or http://apicurio:8080/apis/ccompat/v7")
	case err != nil:
		// url.Error repeats the URL, which might hold credentials.
		add("url", "not a URL: %v", unwrapURLError(err))
	case u.Scheme != "http" && u.Scheme != "https":
		add("url", "must start with http:// or https://")
	case u.Host == "":
		add("url", "has no host")
	case u.User != nil:
		add("url", "holds credentials; set username and password (or token) instead")
	case u.RawQuery != "" || u.Fragment != "":
		add("url", "must not have a query or fragment: it is the base the API paths are appended to")
	case c.TLS.Enabled && u.Scheme != "https":
		add("tls.enabled", "tls is enabled but the url starts with http://; use https://")
	}

	if c.Password != "" && c.PasswordFile != "" {
		add("password_file", "set password or password_file, not both")
	}
	if c.Token != "" && c.TokenFile != "" {
		add("token_file", "set token or token_file, not both")
	}
	basic := c.Username != "" || c.Password != "" || c.PasswordFile != ""
	bearer := c.Token != "" || c.TokenFile != ""
	switch {
	case basic && bearer:
		add("token", "basic auth (username, password) and a bearer token are exclusive; set one")
	case c.Username == "" && (c.Password != "" || c.PasswordFile != ""):
		add("username", "required with password")
	case c.Username != "" && c.Password == "" && c.PasswordFile == "":
		add("password", "required with username (or password_file)")
	}

	for _, p := range c.TLS.Problems() {
		add(p[0], "%s", p[1])
	}

	switch c.SubjectStrategy {
	case "", StrategyTopic, StrategyRecord, StrategyTopicRecord:
	default:
		add("subject_strategy", "%q is not one of %s (<topic>-key, <topic>-value), %s (<record full name>), %s (<topic>-<record full name>)",
			c.SubjectStrategy, StrategyTopic, StrategyRecord, StrategyTopicRecord)
	}
	if c.UseLatest && c.AutoRegister != nil && *c.AutoRegister {
		add("auto_register", "use_latest never registers a schema; leave auto_register out or set it to false")
	}

	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"timeout", c.Timeout}, {"retry_min", c.RetryMin}, {"retry_max", c.RetryMax}} {
		if d.v < 0 {
			add(d.key, "must not be negative (0 means the default)")
		}
	}
	if c.RetryMin > 0 && c.RetryMax > 0 && c.RetryMax < c.RetryMin {
		add("retry_max", "%v is less than retry_min %v", c.RetryMax, c.RetryMin)
	}
	return ps
}

// unwrapURLError drops url.Error's copy of the URL.
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
