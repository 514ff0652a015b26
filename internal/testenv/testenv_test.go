package testenv

import (
	"fmt"
	"testing"
)

// fakeTB records Fatal, Fatalf, Errorf and Skip instead of stopping or
// failing the test.
type fakeTB struct {
	testing.TB
	fatal, skip string
	errs        []string
}

func (f *fakeTB) Helper()                           {}
func (f *fakeTB) Fatal(args ...any)                 { f.fatal = fmt.Sprint(args...) }
func (f *fakeTB) Fatalf(format string, args ...any) { f.fatal = fmt.Sprintf(format, args...) }
func (f *fakeTB) Errorf(format string, args ...any) {
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}
func (f *fakeTB) Skip(args ...any) { f.skip = fmt.Sprint(args...) }

func TestGet(t *testing.T) {
	const name = "SLUICE_TEST_TESTENV_PROBE"
	tests := []struct {
		value, ci         string
		want, fatal, skip string
	}{
		{value: "127.0.0.1:1", ci: "true", want: "127.0.0.1:1"},
		{value: "", ci: "", skip: name + " unset; run scripts/services.sh up"},
		{value: "", ci: "false", skip: name + " unset; run scripts/services.sh up"},
		{value: "", ci: "true", fatal: name + " unset; run scripts/services.sh up (CI=true: a missing service is a failure)"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("value=%q,CI=%q", tt.value, tt.ci), func(t *testing.T) {
			t.Setenv(name, tt.value)
			t.Setenv("CI", tt.ci)
			f := &fakeTB{TB: t}
			if got := Get(f, name); got != tt.want || f.fatal != tt.fatal || f.skip != tt.skip {
				t.Errorf("Get = %q, fatal %q, skip %q; want %q, %q, %q", got, f.fatal, f.skip, tt.want, tt.fatal, tt.skip)
			}
		})
	}
}
