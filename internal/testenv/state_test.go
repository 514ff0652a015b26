package testenv

import (
	"reflect"
	"testing"
)

func TestSameState(t *testing.T) {
	tests := []struct {
		name      string
		got, want map[int64]int64
		errs      []string
	}{
		{name: "equal", got: map[int64]int64{1: 10, 2: 20}, want: map[int64]int64{1: 10, 2: 20}},
		{name: "older value", got: map[int64]int64{1: 10, 2: 19}, want: map[int64]int64{1: 10, 2: 20},
			errs: []string{"key 2: replayed 19 (present true), the table has 20"}},
		{name: "missing key", got: map[int64]int64{1: 10}, want: map[int64]int64{1: 10, 2: 20},
			errs: []string{"replayed 1 keys, the table has 2 rows", "key 2: replayed 0 (present false), the table has 20"}},
		{name: "deleted key", got: map[int64]int64{1: 10, 3: 30}, want: map[int64]int64{1: 10},
			errs: []string{"replayed 2 keys, the table has 1 rows", "key 3 was replayed but is not in the table (deleted)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &fakeTB{TB: t}
			SameState(e, tt.got, tt.want)
			if !reflect.DeepEqual(e.errs, tt.errs) {
				t.Errorf("errors %q, want %q", e.errs, tt.errs)
			}
		})
	}
}
