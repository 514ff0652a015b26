package config

import (
	"errors"
	"fmt"
	"strings"

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
			// Environment overrides arrive as strings.
			mapstructure.StringToBasicTypeHookFunc(),
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
		key := join(path, de.Name())
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
