package config

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
)

// Decode copies raw into the struct out, strictly: a key that out has no
// field for, or a value of the wrong type, is an error naming the key
// prefixed by path (e.g. "pipelines.shop.sinks.kafka.brokers"). Fields are
// matched by their `yaml` tag. Durations accept Go duration strings.
func Decode(raw map[string]any, out any, path string) error {
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		Result:           out,
		TagName:          "yaml",
		WeaklyTypedInput: false,
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToSliceHookFunc(","),
			stringToScalarHook,
		),
	})
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	// Unknown keys are found by unknownKeys, not by mapstructure, whose
	// "has invalid keys: a, b" cannot name a key with ", " in it or an
	// empty one.
	var errs []error
	if err := dec.Decode(raw); err != nil {
		errs = append(errs, prefixErrors(err, path))
	}
	errs = append(errs, unknownKeys(raw, reflect.TypeOf(out), path)...)
	return errors.Join(errs...)
}

// unknownKeys lists, one error each, the keys of raw that the struct type
// t (or the structs it holds) has no field for, with their full path.
func unknownKeys(raw any, t reflect.Type, path string) []error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var errs []error
	switch t.Kind() {
	case reflect.Struct:
		m, ok := raw.(map[string]any)
		if !ok {
			return nil // a type error, reported by the decoder
		}
		fields := map[string]reflect.Type{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name != "" && name != "-" && f.IsExported() {
				fields[name] = f.Type
			}
		}
		for _, k := range sortedKeys(m) {
			ft, ok := fields[k]
			if !ok {
				errs = append(errs, fmt.Errorf("%s: unknown key", join(path, keyName(k))))
				continue
			}
			errs = append(errs, unknownKeys(m[k], ft, join(path, k))...)
		}
	case reflect.Map:
		if m, ok := raw.(map[string]any); ok {
			for _, k := range sortedKeys(m) {
				errs = append(errs, unknownKeys(m[k], t.Elem(), join(path, keyName(k)))...)
			}
		}
	case reflect.Slice, reflect.Array:
		if l, ok := raw.([]any); ok {
			for i, e := range l {
				errs = append(errs, unknownKeys(e, t.Elem(), path+"["+strconv.Itoa(i)+"]")...)
			}
		}
	}
	return errs
}

// keyName is k as an error names it: quoted when it is empty or holds
// characters that would make the path ambiguous.
func keyName(k string) string {
	if k == "" || strings.ContainsAny(k, ",: \t\"") {
		return strconv.Quote(k)
	}
	return k
}

// prefixErrors rewrites mapstructure's messages so that every key is the
// full dotted path a user can find in the file, one error per problem.
func prefixErrors(err error, path string) error {
	var out []error
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		de, ok := e.(*mapstructure.DecodeError)
		if !ok {
			if inner := errors.Unwrap(e); inner != nil {
				walk(inner)
				return
			}
			out = append(out, fmt.Errorf("%s: %s", path, e.Error()))
			return
		}
		key := join(path, mapIndex.ReplaceAllString(de.Name(), ".$1"))
		out = append(out, fmt.Errorf("%s: %s", key, errors.Unwrap(de).Error()))
	}
	walk(err)
	return errors.Join(out...)
}

func join(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "." + b
}

// mapIndex matches mapstructure's "[name]" for a map key (not a list
// index), which the file spells "name".
var mapIndex = regexp.MustCompile(`\[([^\]]*[^0-9\]][^\]]*)\]`)

// stringToScalarHook parses strings into numbers and booleans: values from
// SLUICE_… environment overrides always arrive as strings. A string that
// does not parse is an error that quotes it.
func stringToScalarHook(from, to reflect.Type, data any) (any, error) {
	if f, ok := data.(float64); ok {
		return floatToInt(f, to)
	}
	if durType := reflect.TypeOf(time.Duration(0)); to == durType && from != durType && from.Kind() >= reflect.Int && from.Kind() <= reflect.Uint64 {
		// A bare number would be nanoseconds: 10 for "10s" is a mistake
		// nobody means. Zero is the same in every unit.
		if reflect.ValueOf(data).IsZero() {
			return time.Duration(0), nil
		}
		return nil, fmt.Errorf("%v is not a duration: write it with a unit, e.g. 5s or 100ms", data)
	}
	s, ok := data.(string)
	if !ok || from.Kind() != reflect.String {
		return data, nil
	}
	var err error
	var v any
	switch to.Kind() {
	case reflect.Bool:
		v, err = strconv.ParseBool(s)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if to == reflect.TypeOf(time.Duration(0)) {
			return data, nil
		}
		v, err = strconv.ParseInt(s, 10, to.Bits())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v, err = strconv.ParseUint(s, 10, to.Bits())
	case reflect.Float32, reflect.Float64:
		v, err = strconv.ParseFloat(s, to.Bits())
	default:
		return data, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot parse %q as %s", s, to.Kind())
	}
	return v, nil
}

// floatToInt lets a YAML float (1e3, 4096.0) fill an integer key only
// when it is whole and fits: the decoder would otherwise truncate 1.5 to 1
// and wrap 1e30.
func floatToInt(f float64, to reflect.Type) (any, error) {
	switch to.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if to == reflect.TypeOf(time.Duration(0)) {
			return nil, fmt.Errorf("%v is not a duration: write it with a unit, e.g. 5s or 100ms", f)
		}
		if f != math.Trunc(f) || f < -math.Ldexp(1, to.Bits()-1) || f >= math.Ldexp(1, to.Bits()-1) {
			return nil, fmt.Errorf("%v is not a whole number that fits %s", f, to.Kind())
		}
		return int64(f), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if f != math.Trunc(f) || f < 0 || f >= math.Ldexp(1, to.Bits()) {
			return nil, fmt.Errorf("%v is not a whole number that fits %s", f, to.Kind())
		}
		return uint64(f), nil
	}
	return f, nil
}
