package testenv

import (
	"strings"
	"testing"
)

// WantError checks err against want, the substrings an expected error
// must all contain; nil want expects no error. An unexpected or missing
// error stops the test, each substring missing from err is reported.
// WantError returns true when no error was expected, for the caller to
// go on and check the result.
func WantError(t testing.TB, err error, want []string) bool {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return true
	}
	if err == nil {
		t.Fatalf("no error, want %q", want)
		return false
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
	return false
}
