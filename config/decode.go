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
	var md mapstructure.Metadata
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		Result:           out,
		TagName:          "yaml",
		ErrorUnused:      true,
		WeaklyTypedInput: false,
		Metadata:         &md,
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToSliceHookFunc(","),
			stringToScalarHook,
		),
	})
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := dec.Decode(raw); err != nil {
		return prefixErrors(err, path)
	}
	return nil
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
		msg := errors.Unwrap(de).Error()
		if keys, ok := strings.CutPrefix(msg, "has invalid keys: "); ok {
			for _, k := range strings.Split(keys, ", ") {
				out = append(out, fmt.Errorf("%s: unknown key", join(key, k)))
			}
			return
		}
		out = append(out, fmt.Errorf("%s: %s", key, msg))
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
