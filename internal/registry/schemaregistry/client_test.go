package schemaregistry

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	ordersV1 = `{"type":"record","name":"Value","namespace":"shop.public.orders","fields":[{"name":"id","type":"int"}]}`
	ordersV2 = `{"type":"record","name":"Value","namespace":"shop.public.orders","fields":[{"name":"id","type":"int"},{"name":"note","type":["null","string"],"default":null}]}`
)

func TestSubject(t *testing.T) {
	for _, tc := range []struct {
		strategy   string
		key, value string
	}{
		{"", "shop.public.orders-key", "shop.public.orders-value"},
		{StrategyTopic, "shop.public.orders-key", "shop.public.orders-value"},
		{StrategyRecord, "shop.public.orders.Key", "shop.public.orders.Value"},
		{StrategyTopicRecord, "shop.public.orders-shop.public.orders.Key", "shop.public.orders-shop.public.orders.Value"},
	} {
		t.Run(tc.strategy, func(t *testing.T) {
			c, err := New(Config{URL: "http://127.0.0.1:1", SubjectStrategy: tc.strategy}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if got := c.Subject("shop.public.orders", "shop.public.orders.Key", true); got != tc.key {
				t.Errorf("key subject %q, want %q", got, tc.key)
			}
			if got := c.Subject("shop.public.orders", "shop.public.orders.Value", false); got != tc.value {
				t.Errorf("value subject %q, want %q", got, tc.value)
			}
		})
	}
}

// TestIDRequestsByStrategy: each strategy registers under its subject, and
// the record strategies share one subject between topics.
func TestIDRequestsByStrategy(t *testing.T) {
	for _, tc := range []struct {
		strategy string
		want     []string
	}{
		{StrategyTopic, []string{
			"POST " + fakeBase + "/subjects/a-value/versions",
			"POST " + fakeBase + "/subjects/b-value/versions",
		}},
		{StrategyRecord, []string{
			"POST " + fakeBase + "/subjects/shop.public.orders.Value/versions",
		}},
		{StrategyTopicRecord, []string{
			"POST " + fakeBase + "/subjects/a-shop.public.orders.Value/versions",
			"POST " + fakeBase + "/subjects/b-shop.public.orders.Value/versions",
		}},
	} {
		t.Run(tc.strategy, func(t *testing.T) {
			f := newFake(t)
			c := f.client(t, Config{SubjectStrategy: tc.strategy})
			for _, topic := range []string{"a", "b", "a", "b"} {
				if id, err := c.ID(t.Context(), topic, "shop.public.orders.Value", false, ordersV1); err != nil || id != 1 {
					t.Fatalf("ID(%s) = %d, %v; want 1", topic, id, err)
				}
			}
			if got := f.requestLog(); !slices.Equal(got, tc.want) {
				t.Errorf("requests %q, want %q", got, tc.want)
			}
		})
	}
}

// TestCacheHit: a schema seen before costs no request and no allocation;
// a changed schema is a miss.
func TestCacheHit(t *testing.T) {
	f := newFake(t)
	c := f.client(t, Config{})
	ctx := t.Context()
	id1, err := c.ID(ctx, "orders", "", false, ordersV1)
	if err != nil {
		t.Fatal(err)
	}
	// A copy of the text, as a codec rebuilding the schema would pass.
	again := string([]byte(ordersV1))
	allocs := testing.AllocsPerRun(100, func() {
		if id, err := c.ID(ctx, "orders", "", false, again); err != nil || id != id1 {
			t.Fatalf("ID = %d, %v; want %d", id, err, id1)
		}
	})
	if allocs != 0 {
		t.Errorf("a cache hit allocates %v times, want 0", allocs)
	}
	if n := len(f.requestLog()); n != 1 {
		t.Errorf("%d requests, want 1 (the hits must not ask the registry)", n)
	}
	id2, err := c.ID(ctx, "orders", "", false, ordersV2)
	if err != nil || id2 == id1 {
		t.Fatalf("ID(v2) = %d, %v; want a new id", id2, err)
	}
	if id, err := c.ID(ctx, "orders", "", true, ordersV1); err != nil || id != id1 {
		t.Fatalf("ID(key) = %d, %v; want %d", id, err, id1)
	}
	if n := len(f.requestLog()); n != 3 {
		t.Errorf("%d requests, want 3 (v1 value, v2 value, v1 key)", n)
	}
}

// TestRetryUntilRegistryAnswers: while the registry drops connections or
// answers 5xx/429, ID waits and Ready says why; when it answers, ID
// returns the id and Ready is nil again.
func TestRetryUntilRegistryAnswers(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     int
		code       int
		wantReady  string
		wantReady2 string
	}{
		{"unreachable", 0, 0, "unreachable", ""},
		{"503", http.StatusServiceUnavailable, 50003, "HTTP 503", "forwarding failed"},
		{"500", http.StatusInternalServerError, 50001, "HTTP 500", "forwarding failed"},
		{"429", http.StatusTooManyRequests, 429, "HTTP 429", "forwarding failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			c := f.client(t, Config{})
			if err := c.Ready(); err != nil {
				t.Fatalf("Ready before any call = %v", err)
			}
			f.failWith(tc.status, tc.code, "forwarding failed")
			type result struct {
				id  int
				err error
			}
			done := make(chan result, 1)
			go func() {
				id, err := c.ID(t.Context(), "orders", "", false, ordersV1)
				done <- result{id, err}
			}()
			deadline := time.Now().Add(10 * time.Second)
			for c.Ready() == nil || len(f.requestLog()) < 3 {
				if time.Now().After(deadline) {
					t.Fatalf("after 10s: Ready = %v, %d requests; want not ready and retries", c.Ready(), len(f.requestLog()))
				}
				time.Sleep(time.Millisecond)
			}
			err := c.Ready()
			if !strings.HasPrefix(err.Error(), "schema registry "+f.srv.URL+fakeBase+": ") ||
				!strings.Contains(err.Error(), tc.wantReady) || !strings.Contains(err.Error(), tc.wantReady2) {
				t.Errorf("Ready = %q; want the URL, %q and %q", err, tc.wantReady, tc.wantReady2)
			}
			select {
			case r := <-done:
				t.Fatalf("ID returned while the registry fails: %d, %v", r.id, r.err)
			default:
			}
			f.recover()
			r := <-done
			if r.err != nil || r.id != 1 {
				t.Fatalf("ID = %d, %v; want 1", r.id, r.err)
			}
			if err := c.Ready(); err != nil {
				t.Errorf("Ready after the registry answered = %v", err)
			}
		})
	}
}

// TestContextEndsWhileWaiting: ID gives up when its context ends and says
// what the registry last did.
func TestContextEndsWhileWaiting(t *testing.T) {
	f := newFake(t)
	c := f.client(t, Config{})
	f.failWith(http.StatusServiceUnavailable, 50003, "leader unknown")
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := c.ID(ctx, "orders", "", false, ordersV1)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "leader unknown") {
		t.Errorf("ID = %v; want context.DeadlineExceeded naming the last failure", err)
	}
	if c.Ready() == nil {
		t.Error("Ready = nil while the registry fails")
	}
}

// TestRefusalsAreNotRetried: answers a retry cannot change return at once,
// as errors the caller can test for.
func TestRefusalsAreNotRetried(t *testing.T) {
	no := false
	for _, tc := range []struct {
		name   string
		cfg    Config
		status int
		code   int
		msg    string
		check  func(t *testing.T, err error)
	}{
		{"409 incompatible", Config{}, http.StatusConflict, 409, "Schema being registered is incompatible with an earlier schema",
			func(t *testing.T, err error) {
				var ie *IncompatibleError
				if !errors.As(err, &ie) || ie.Subject != "orders-value" || !strings.Contains(ie.Message, "incompatible with an earlier schema") {
					t.Fatalf("err = %#v; want *IncompatibleError for orders-value with the registry's message", err)
				}
				if msg := err.Error(); !strings.Contains(msg, `subject "orders-value"`) || !strings.Contains(msg, "compatibility rule") {
					t.Errorf("Error() = %q; want the subject and the compatibility rule", msg)
				}
			}},
		{"422 invalid", Config{}, http.StatusUnprocessableEntity, 42201, "Invalid schema: no type",
			wantIs(ErrInvalidSchema, `subject "orders-value": invalid schema: Invalid schema: no type`)},
		{"401", Config{}, http.StatusUnauthorized, 401, "Unauthorized", wantIs(ErrUnauthorized, "credentials refused (HTTP 401)")},
		{"403", Config{}, http.StatusForbidden, 403, "Forbidden", wantIs(ErrUnauthorized, "(HTTP 403)")},
		{"404 lookup", Config{AutoRegister: &no}, http.StatusNotFound, 40403, "Schema not found",
			wantIs(ErrNotRegistered, "schema not registered and auto_register is false: Schema not found")},
		{"404 latest", Config{UseLatest: true}, http.StatusNotFound, 40401, "Subject not found",
			wantIs(ErrNotRegistered, "not registered: use_latest needs a registered version")},
		{"400", Config{}, http.StatusBadRequest, 400, "bad", func(t *testing.T, err error) {
			if err == nil || !strings.Contains(err.Error(), "HTTP 400: bad") {
				t.Fatalf("err = %v", err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			c := f.client(t, tc.cfg)
			f.failWith(tc.status, tc.code, tc.msg)
			_, err := c.ID(t.Context(), "orders", "", false, ordersV1)
			tc.check(t, err)
			if n := len(f.requestLog()); n != 1 {
				t.Errorf("%d requests, want 1 (no retry)", n)
			}
			if ready := c.Ready(); ready == nil || ready.Error() != err.Error() {
				t.Errorf("Ready = %v, want the failure %v", ready, err)
			}
		})
	}
}

func wantIs(target error, text string) func(t *testing.T, err error) {
	return func(t *testing.T, err error) {
		t.Helper()
		if !errors.Is(err, target) || !strings.Contains(err.Error(), text) {
			t.Fatalf("err = %v; want %v saying %q", err, target, text)
		}
	}
}

// TestModes: auto_register false looks the schema up, use_latest takes the
// subject's latest version whatever the schema passed.
func TestModes(t *testing.T) {
	no := false
	f := newFake(t)
	reg := f.client(t, Config{})
	if _, err := reg.ID(t.Context(), "orders", "", false, ordersV1); err != nil {
		t.Fatal(err)
	}
	v2, err := reg.ID(t.Context(), "orders", "", false, ordersV2)
	if err != nil {
		t.Fatal(err)
	}

	lookup := f.client(t, Config{AutoRegister: &no})
	if id, err := lookup.ID(t.Context(), "orders", "", false, ordersV1); err != nil || id != 1 {
		t.Errorf("lookup ID = %d, %v; want 1", id, err)
	}
	latest := f.client(t, Config{UseLatest: true})
	if id, err := latest.ID(t.Context(), "orders", "", false, ordersV1); err != nil || id != v2 {
		t.Errorf("use_latest ID = %d, %v; want %d (the latest version)", id, err, v2)
	}
	want := []string{
		"POST " + fakeBase + "/subjects/orders-value/versions",
		"POST " + fakeBase + "/subjects/orders-value/versions",
		"POST " + fakeBase + "/subjects/orders-value",
		"GET " + fakeBase + "/subjects/orders-value/versions/latest",
	}
	if got := f.requestLog(); !slices.Equal(got, want) {
		t.Errorf("requests %q, want %q", got, want)
	}
}

// TestConcurrentMisses: callers missing on one schema at once share one
// request.
func TestConcurrentMisses(t *testing.T) {
	f := newFake(t)
	c := f.client(t, Config{})
	gate := make(chan struct{})
	f.mu.Lock()
	f.gate = gate
	f.mu.Unlock()
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			if id, err := c.ID(t.Context(), "orders", "", false, ordersV1); err != nil || id != 1 {
				errs <- errors.Join(err, errors.New("wrong id"))
			}
		})
	}
	for len(f.requestLog()) == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let the others queue behind it
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(f.requestLog()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// TestAuth: basic auth and a bearer token (from a file) are sent, and no
// error or log line holds them.
func TestAuth(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("canary-t0ken\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"basic", Config{Username: "sluice", Password: "canary-s3cr3t"}, "Basic c2x1aWNlOmNhbmFyeS1zM2NyM3Q="},
		{"bearer", Config{TokenFile: tokenFile}, "Bearer canary-t0ken"},
		{"none", Config{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			c := f.client(t, tc.cfg)
			if _, err := c.ID(t.Context(), "orders", "", false, ordersV1); err != nil {
				t.Fatal(err)
			}
			f.mu.Lock()
			got := f.auth[0]
			f.mu.Unlock()
			if got != tc.want {
				t.Errorf("Authorization %q, want %q", got, tc.want)
			}
			f.failWith(http.StatusUnauthorized, 401, "Unauthorized")
			_, err := c.ID(t.Context(), "orders", "", false, ordersV2)
			for _, e := range []error{err, c.Ready()} {
				if e == nil || strings.Contains(e.Error(), "canary") {
					t.Errorf("error %v: want one without credentials", e)
				}
			}
		})
	}
}

func TestNewReadsSecretFiles(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{URL: "http://r:8081", Username: "u", PasswordFile: missing}, "password_file: open"},
		{Config{URL: "http://r:8081", TokenFile: missing}, "token_file: open"},
		{Config{URL: "https://r:8081", TLS: TLS{Enabled: true, CAFile: missing}}, "tls.ca_file: open"},
		{Config{URL: "http://r:8081", SubjectStrategy: "name"}, "subject_strategy"},
	} {
		if _, err := New(tc.cfg, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v; want an error saying %q", tc.cfg, err, tc.want)
		}
	}
}

// TestWaiterOutlivesFetcher: when the caller fetching a schema gives up,
// another caller waiting for the same schema fetches it itself.
func TestWaiterOutlivesFetcher(t *testing.T) {
	f := newFake(t)
	c := f.client(t, Config{})
	f.failWith(http.StatusServiceUnavailable, 50003, "down")
	short, cancel := context.WithCancel(t.Context())
	first := make(chan error, 1)
	go func() {
		_, err := c.ID(short, "orders", "", false, ordersV1)
		first <- err
	}()
	for len(f.requestLog()) == 0 {
		time.Sleep(time.Millisecond)
	}
	second := make(chan error, 1)
	go func() {
		id, err := c.ID(t.Context(), "orders", "", false, ordersV1)
		if err == nil && id != 1 {
			err = errors.New("wrong id")
		}
		second <- err
	}()
	time.Sleep(10 * time.Millisecond) // let it wait behind the first
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("first ID = %v; want context.Canceled", err)
	}
	select {
	case err := <-second:
		t.Fatalf("second ID returned while the registry is down: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	f.recover()
	if err := <-second; err != nil {
		t.Fatal(err)
	}
}
