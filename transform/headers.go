package transform

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/codec"
)

func init() { Register("headers", newHeaders, HeadersConfig{}) }

// HeadersConfig is the headers transform's entry: record headers added to
// every event it applies to (tombstones and logical messages included),
// each a fixed value or computed by an expression — a tenant id for
// consumers that route on headers without parsing the value. Debezium:
// Kafka's InsertHeader SMT (header, value.literal), whose output through
// Debezium Server the default encoding reproduces byte for byte.
type HeadersConfig struct {
	Headers []HeaderSpec `yaml:"headers"`
	// Encoding is how values are written: connect (default), Kafka
	// Connect's JSON with its schema as Debezium Server writes headers,
	// e.g. {"schema":{"type":"string","optional":false},"payload":"acme"};
	// or raw, the value's text alone (acme, 42, true; a NULL is a null
	// header).
	Encoding string `yaml:"encoding"`
}

// HeaderSpec is one header, with set_field's keys: a fixed Value, whose
// Connect type is InsertHeader's for the same literal (string, boolean,
// the smallest of int8 … int64 that holds an integer, float64), or an
// Expression with its result's Type (string, the default, int, float or
// bool: Connect string, int64, float64, boolean, optional).
type HeaderSpec = FieldSpec

// connectTypes are the Connect types of the expressions' result types.
var connectTypes = map[string]string{"string": "string", "int": "int64", "float": "float64", "bool": "boolean"}

// Defaults: Debezium Server's header encoding.
func (HeadersConfig) Defaults() HeadersConfig { return HeadersConfig{Encoding: "connect"} }

type headerSpec struct {
	name  string
	fixed sluice.Header // for Value
	x     *expression   // for Expression
	typ   string        // the expression's Connect type
}

type headers struct {
	specs []headerSpec
	raw   bool
	fixed []sluice.Header // every header, when all are fixed: one slice shared by every event
}

func newHeaders(c HeadersConfig, env Env) (*headers, error) {
	var errs []error
	bad := func(i int, key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s.headers[%d]%s: %s", env.Path, i, key, fmt.Sprintf(format, a...)))
	}
	h := &headers{}
	switch c.Encoding {
	case "connect":
	case "raw":
		h.raw = true
	default:
		errs = append(errs, fmt.Errorf("%s.encoding: %q is not connect or raw", env.Path, c.Encoding))
	}
	if len(c.Headers) == 0 {
		errs = append(errs, fmt.Errorf("%s.headers: required: at least one {name, value} or {name, expression, type}", env.Path))
	}
	allFixed := true
	for _, c := range checkSpecs(c.Headers, bad) {
		s := headerSpec{name: c.Name, x: c.x}
		if c.x == nil {
			text, typ, _ := literal(c.Value)
			s.fixed = h.header(c.Name, text, typ, false, false)
		} else {
			allFixed = false
			s.typ = connectTypes[c.typ]
		}
		h.specs = append(h.specs, s)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if allFixed {
		for _, s := range h.specs {
			h.fixed = append(h.fixed, s.fixed)
		}
	}
	return h, nil
}

// literal is a YAML scalar's text and the Connect type Kafka's
// Values.parseString gives that text (InsertHeader's value.literal).
func literal(v any) (text, typ string, ok bool) {
	switch x := v.(type) {
	case string:
		return x, "string", true
	case bool:
		return strconv.FormatBool(x), "boolean", true
	case int:
		t := "int64"
		switch {
		case x >= math.MinInt8 && x <= math.MaxInt8:
			t = "int8"
		case x >= math.MinInt16 && x <= math.MaxInt16:
			t = "int16"
		case x >= math.MinInt32 && x <= math.MaxInt32:
			t = "int32"
		}
		return strconv.Itoa(x), t, true
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), "float64", true
	}
	return "", "", false
}

// header makes a header of the value's text: written as Connect JSON of
// type typ (optional when the value is computed) or as the text itself.
func (h *headers) header(name, text, typ string, optional, null bool) sluice.Header {
	out := sluice.Header{Name: name, Text: text, Null: null}
	if h.raw {
		if !null {
			out.Value = []byte(text)
		}
		return out
	}
	// Sized once: computed headers are made per event. A string that
	// needs escaping grows it.
	v := make([]byte, 0, len(`{"schema":{"type":"","optional":false},"payload":}`)+len(typ)+max(len(text)+2, 24))
	v = append(v, `{"schema":{"type":"`...)
	v = append(v, typ...)
	v = append(v, `","optional":`...)
	v = strconv.AppendBool(v, optional)
	v = append(v, `},"payload":`...)
	switch {
	case null:
		v = append(v, "null"...)
	case typ == "string":
		v = codec.AppendStr(v, text)
	case typ == "float64":
		f, _ := strconv.ParseFloat(text, 64) // formatted by literal or exprText
		v = codec.AppendFloat(v, f, 64)
	default:
		v = append(v, text...)
	}
	out.Value = append(v, '}')
	return out
}

func (h *headers) Apply(ev *sluice.Event) (bool, error) {
	if h.fixed != nil && len(ev.Headers) == 0 {
		ev.Headers = h.fixed
		return true, nil
	}
	out := make([]sluice.Header, len(ev.Headers), len(ev.Headers)+len(h.specs))
	copy(out, ev.Headers)
	for i := range h.specs {
		s := &h.specs[i]
		if s.x == nil {
			out = append(out, s.fixed)
			continue
		}
		v, err := s.x.eval(ev)
		if err != nil {
			return false, fmt.Errorf("headers[%d]: %w", i, err)
		}
		text, null := exprText(v)
		out = append(out, h.header(s.name, text, s.typ, true, null))
	}
	ev.Headers = out
	return true, nil
}

// exprText is an expression's result (string, int, float64, bool or nil,
// by the compiled expression's kind) as text.
func exprText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, false
	case int:
		return strconv.Itoa(x), false
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), false
	case bool:
		return strconv.FormatBool(x), false
	}
	return "", true
}
