package config

import (
	"fmt"
	"time"
)

// IntIn checks an integer key against its documented range [lo, hi]. key
// is the full dotted path; the error names it and the range.
func IntIn(key string, v, lo, hi int64) error {
	if v < lo || v > hi {
		return fmt.Errorf("%s: must be between %d and %d, got %d", key, lo, hi, v)
	}
	return nil
}

// DurationIn checks a duration key against its documented range [lo, hi].
func DurationIn(key string, v, lo, hi time.Duration) error {
	if v < lo || v > hi {
		return fmt.Errorf("%s: must be between %s and %s, got %s", key, lo, hi, v)
	}
	return nil
}

// Collect appends the non-nil errors to errs.
func Collect(errs []error, more ...error) []error {
	for _, e := range more {
		if e != nil {
			errs = append(errs, e)
		}
	}
	return errs
}
