package testenv

import (
	"errors"
	"reflect"
	"testing"
)

func TestWantError(t *testing.T) {
	tests := []struct {
		name  string
		err   error
		want  []string
		ok    bool
		fatal string
		errs  []string
	}{
		{name: "none expected, none", ok: true},
		{name: "none expected, one", err: errors.New("boom"), fatal: "unexpected error: boom", ok: true},
		{name: "expected, none", want: []string{"x"}, fatal: `no error, want ["x"]`},
		{name: "expected, matches", err: errors.New("a.b: required"), want: []string{"a.b", "required"}},
		{name: "expected, differs", err: errors.New("a.b: required"), want: []string{"a.c", "required"},
			errs: []string{`error "a.b: required" does not contain "a.c"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeTB{TB: t}
			if ok := WantError(f, tt.err, tt.want); ok != tt.ok || f.fatal != tt.fatal || !reflect.DeepEqual(f.errs, tt.errs) {
				t.Errorf("WantError = %v, fatal %q, errors %q; want %v, %q, %q", ok, f.fatal, f.errs, tt.ok, tt.fatal, tt.errs)
			}
		})
	}
}
