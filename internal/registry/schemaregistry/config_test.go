package schemaregistry

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	yes, no := true, false
	ok := Config{URL: "http://127.0.0.1:58081/apis/ccompat/v7"}
	with := func(f func(*Config)) Config {
		c := ok
		f(&c)
		return c
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string // "key: message fragment"
	}{
		{"minimal", ok, nil},
		{"defaults", with(func(c *Config) { d := Defaults(); d.URL = c.URL; *c = d }), nil},
		{"everything", Config{URL: "https://registry:8081", Username: "u", Password: "p",
			TLS:             TLS{Enabled: true, CAFile: "ca.pem", CertFile: "c.pem", KeyFile: "k.pem", ServerName: "registry"},
			SubjectStrategy: StrategyTopicRecord, AutoRegister: &no, Timeout: time.Second, RetryMin: time.Second, RetryMax: time.Minute}, nil},
		{"use_latest", with(func(c *Config) { c.UseLatest = true; c.AutoRegister = &no }), nil},
		{"bearer", with(func(c *Config) { c.TokenFile = "/run/secrets/token" }), nil},

		{"no url", Config{}, []string{"url: required"}},
		{"bad url", with(func(c *Config) { c.URL = "http://[::1" }), []string{"url: not a URL"}},
		{"scheme", with(func(c *Config) { c.URL = "registry:8081" }), []string{"url: must start with http:// or https://"}},
		{"no host", with(func(c *Config) { c.URL = "http:///apis" }), []string{"url: has no host"}},
		{"credentials in url", with(func(c *Config) { c.URL = "http://u:hunter2@registry:8081" }), []string{"url: holds credentials"}},
		{"query", with(func(c *Config) { c.URL = "http://registry:8081?x=1" }), []string{"url: must not have a query"}},
		{"tls with http", with(func(c *Config) { c.TLS.Enabled = true }), []string{"tls.enabled: tls is enabled but the url starts with http://"}},
		{"tls keys without enabled", with(func(c *Config) { c.TLS.CAFile = "ca.pem" }), []string{"tls.enabled: tls settings are given"}},
		{"cert without key", with(func(c *Config) { c.URL = "https://r"; c.TLS = TLS{Enabled: true, CertFile: "c.pem"} }), []string{"tls: cert_file and key_file"}},
		{"password twice", with(func(c *Config) { c.Username = "u"; c.Password = "p"; c.PasswordFile = "f" }), []string{"password_file: set password or password_file, not both"}},
		{"token twice", with(func(c *Config) { c.Token = "t"; c.TokenFile = "f" }), []string{"token_file: set token or token_file, not both"}},
		{"basic and bearer", with(func(c *Config) { c.Username = "u"; c.Password = "p"; c.Token = "t" }), []string{"token: basic auth (username, password) and a bearer token are exclusive"}},
		{"password without username", with(func(c *Config) { c.Password = "p" }), []string{"username: required with password"}},
		{"username without password", with(func(c *Config) { c.Username = "u" }), []string{"password: required with username"}},
		{"strategy", with(func(c *Config) { c.SubjectStrategy = "TopicNameStrategy" }), []string{`subject_strategy: "TopicNameStrategy" is not one of topic`}},
		{"use_latest with auto_register", with(func(c *Config) { c.UseLatest = true; c.AutoRegister = &yes }), []string{"auto_register: use_latest never registers"}},
		{"negative", with(func(c *Config) { c.Timeout = -1 }), []string{"timeout: must not be negative"}},
		{"retry order", with(func(c *Config) { c.RetryMin = time.Minute; c.RetryMax = time.Second }), []string{"retry_max: 1s is less than retry_min 1m0s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := tc.cfg.Validate()
			var got []string
			for _, p := range ps {
				got = append(got, p.Key+": "+p.Msg)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("problems %q, want %d like %q", got, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(got[i], w) {
					t.Errorf("problem %q, want it to start %q", got[i], w)
				}
			}
			if s := fmt.Sprint(ps); strings.Contains(s, "hunter2") {
				t.Errorf("problems hold the URL's password: %s", s)
			}
		})
	}
}

// TestSecretsNeverPrint: a printed or logged Config shows no secret.
func TestSecretsNeverPrint(t *testing.T) {
	c := Config{URL: "http://r:8081", Username: "u", Password: "canary-pw", Token: "canary-token"}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c)} {
		if strings.Contains(s, "canary") {
			t.Errorf("printed config holds a secret: %s", s)
		}
	}
}
