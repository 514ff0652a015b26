// Package avrotest checks Avro output in tests: it decodes Avro bodies
// with an implementation independent of sluice's (hamba/avro), compares
// them with the JSON sluice writes for the same events, and talks to the
// schema registry the tests use (fetching schemas by id, deleting the
// subjects a test made).
package avrotest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	havro "github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
)

// Compare decodes bin (an Avro body of schemaJSON) and compares it with
// the JSON value js: "" when they hold the same values, else the first
// difference. Members at the paths in ignore (".ts_ms": the top-level
// ts_ms) are not compared.
func Compare(schemaJSON string, bin, js []byte, ignore ...string) (string, error) {
	parsed, err := havro.Parse(schemaJSON)
	if err != nil {
		return "", fmt.Errorf("schema does not parse: %w", err)
	}
	var got any
	if err := havro.Unmarshal(parsed, bin, &got); err != nil {
		return "", fmt.Errorf("decode: %w", err)
	}
	var want any
	d := json.NewDecoder(bytes.NewReader(js))
	d.UseNumber()
	if err := d.Decode(&want); err != nil {
		return "", fmt.Errorf("json: %w", err)
	}
	if m, ok := want.(map[string]any); ok {
		if g, ok := got.(map[string]any); ok {
			for _, p := range ignore {
				delete(m, strings.TrimPrefix(p, "."))
				delete(g, strings.TrimPrefix(p, "."))
			}
		}
	}
	return sameValue(want, got, ""), nil
}

// AdminClient is a registry client for a test's own requests.
func AdminClient(t testing.TB, url string) *sr.Client {
	t.Helper()
	httpcl := &http.Client{Timeout: 10 * time.Second, Transport: http.DefaultTransport.(*http.Transport).Clone()}
	cl, err := sr.NewClient(sr.URLs(url), sr.HTTPClient(httpcl))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(httpcl.CloseIdleConnections)
	return cl
}

// DeleteSubjectsAtEnd deletes the subjects when the test ends, soft then
// permanently (Confluent and Apicurio's ccompat API need both steps). A
// subject never made is no failure.
func DeleteSubjectsAtEnd(t testing.TB, admin *sr.Client, subjects ...string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, s := range subjects {
			for _, how := range []sr.DeleteHow{sr.SoftDelete, sr.HardDelete} {
				var re *sr.ResponseError
				if _, err := admin.DeleteSubject(ctx, s, how); err != nil &&
					!(errors.As(err, &re) && re.StatusCode == http.StatusNotFound) {
					t.Errorf("delete subject %s (permanent=%v): %v", s, how, err)
				}
			}
		}
	})
}

// Wire splits a record in Confluent's wire format: the schema id and the
// Avro body.
func Wire(b []byte) (int, []byte, error) {
	if len(b) < 5 || b[0] != 0 {
		return 0, nil, fmt.Errorf("not Confluent's wire format (magic byte 0, 4-byte id): % x", b[:min(len(b), 8)])
	}
	return int(binary.BigEndian.Uint32(b[1:5])), b[5:], nil
}

// SchemaByID fetches a schema's text from the registry.
func SchemaByID(ctx context.Context, admin *sr.Client, id int) (string, error) {
	s, err := admin.SchemaByID(ctx, id)
	if err != nil {
		return "", err
	}
	return s.Schema, nil
}

// sameValue compares a JSON value with hamba's decoding of its Avro form:
// bytes are base64 in JSON, NaN and the infinities are strings, unions
// decode to the value or to {branch: value}.
func sameValue(want, got any, path string) string {
	if m, ok := got.(map[string]any); ok && len(m) == 1 {
		if _, isObj := want.(map[string]any); !isObj || !sameKeys(want.(map[string]any), m) {
			for _, v := range m { // a union's branch
				got = v
			}
		}
	}
	switch w := want.(type) {
	case nil:
		if got != nil {
			return fmt.Sprintf("%s: want null, got %#v", path, got)
		}
	case bool:
		if got != w {
			return fmt.Sprintf("%s: want %v, got %#v", path, w, got)
		}
	case json.Number:
		var f float64
		switch g := got.(type) {
		case time.Time: // Connect's Date (days) or Timestamp (milliseconds)
			i, _ := w.Int64()
			if g.UnixMilli() != i && g.Unix()/86400 != i {
				return fmt.Sprintf("%s: want %s, got %v", path, w, g)
			}
			return ""
		case time.Duration: // Connect's Time (milliseconds)
			if i, _ := w.Int64(); g.Milliseconds() != i {
				return fmt.Sprintf("%s: want %s, got %v", path, w, g)
			}
			return ""
		case int:
			f = float64(g)
			if i, err := w.Int64(); err == nil && int64(g) != i {
				return fmt.Sprintf("%s: want %s, got %d", path, w, g)
			}
			return ""
		case int64:
			if i, err := w.Int64(); err != nil || g != i {
				return fmt.Sprintf("%s: want %s, got %d", path, w, g)
			}
			return ""
		case float32:
			f = float64(g)
			wf, _ := w.Float64()
			if float32(wf) != g {
				return fmt.Sprintf("%s: want %s, got %v", path, w, g)
			}
			return ""
		case float64:
			f = g
		default:
			return fmt.Sprintf("%s: want number %s, got %#v", path, w, got)
		}
		if wf, _ := w.Float64(); wf != f {
			return fmt.Sprintf("%s: want %s, got %v", path, w, f)
		}
	case string:
		switch g := got.(type) {
		case string:
			if g != w {
				return fmt.Sprintf("%s: want %q, got %q", path, w, g)
			}
		case *big.Rat: // a decimal: its unscaled bytes in the JSON
			raw, err := base64.StdEncoding.DecodeString(w)
			if err != nil || !decimalIs(raw, g) {
				return fmt.Sprintf("%s: want decimal bytes %q, got %v", path, w, g)
			}
		case []byte:
			if base64.StdEncoding.EncodeToString(g) != w {
				return fmt.Sprintf("%s: want bytes %q, got %x", path, w, g)
			}
		case float32, float64:
			f, _ := g.(float64)
			if f32, ok := g.(float32); ok {
				f = float64(f32)
			}
			ok := w == "NaN" && math.IsNaN(f) || w == "Infinity" && math.IsInf(f, 1) || w == "-Infinity" && math.IsInf(f, -1)
			if !ok {
				return fmt.Sprintf("%s: want %q, got %v", path, w, f)
			}
		default:
			return fmt.Sprintf("%s: want %q, got %#v", path, w, got)
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Sprintf("%s: want %d items, got %#v", path, len(w), got)
		}
		for i := range w {
			if d := sameValue(w[i], g[i], fmt.Sprintf("%s[%d]", path, i)); d != "" {
				return d
			}
		}
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: want object, got %#v", path, got)
		}
		for k, v := range w {
			if d := sameValue(v, g[k], path+"."+k); d != "" {
				return d
			}
		}
		for k, v := range g {
			if _, ok := w[k]; !ok && v != nil {
				return fmt.Sprintf("%s.%s: not in the JSON, got %#v", path, k, v)
			}
		}
	}
	return ""
}

// decimalIs reports whether the two's-complement unscaled value raw is r
// at some scale.
func decimalIs(raw []byte, r *big.Rat) bool {
	u := new(big.Int).SetBytes(raw)
	if len(raw) > 0 && raw[0]&0x80 != 0 {
		u.Sub(u, new(big.Int).Lsh(big.NewInt(1), uint(8*len(raw))))
	}
	ten := big.NewInt(10)
	d := big.NewInt(1)
	for range 60 {
		if new(big.Rat).SetFrac(u, d).Cmp(r) == 0 {
			return true
		}
		d.Mul(d, ten)
	}
	return false
}

func sameKeys(a, b map[string]any) bool {
	for k := range b {
		if _, ok := a[k]; !ok {
			return false
		}
	}
	return true
}

// Decode decodes bin, an Avro body of schemaJSON, into Go values (records
// and maps as map[string]any).
func Decode(schemaJSON string, bin []byte) (any, error) {
	parsed, err := havro.Parse(schemaJSON)
	if err != nil {
		return nil, fmt.Errorf("schema does not parse: %w", err)
	}
	var got any
	if err := havro.Unmarshal(parsed, bin, &got); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return got, nil
}

// Plain is a decoded value with each union's {branch: value} replaced by
// the value, whichever way the decoder gave it.
func Plain(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	if len(m) == 1 {
		for k, x := range m {
			switch k {
			case "int", "long", "string", "boolean", "float", "double", "bytes":
				return x
			}
		}
	}
	out := map[string]any{}
	for k, x := range m {
		out[k] = Plain(x)
	}
	return out
}

// DecodeWire decodes a record in Confluent's wire format: its schema id,
// the schema fetched from the registry by id, and the body decoded.
func DecodeWire(ctx context.Context, admin *sr.Client, b []byte) (int, any, error) {
	id, body, err := Wire(b)
	if err != nil {
		return 0, nil, err
	}
	s, err := SchemaByID(ctx, admin, id)
	if err != nil {
		return id, nil, fmt.Errorf("schema %d: %w", id, err)
	}
	v, err := Decode(s, body)
	if err != nil {
		return id, nil, fmt.Errorf("schema %d: %w", id, err)
	}
	return id, v, nil
}
