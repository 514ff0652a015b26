package eventtest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
)

// ReadAll reads table through r (a source's sluice.TableReader) into
// memory: the table description fn was given, which must be the same one
// for every call, and the rows in the order they came.
func ReadAll(t *testing.T, r sluice.TableReader, table string) (*sluice.Table, []sluice.Row) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var tab *sluice.Table
	var rows []sluice.Row
	err := r.ReadTable(ctx, table, func(tt *sluice.Table, row sluice.Row) error {
		if tab != nil && tt != tab {
			t.Errorf("ReadTable(%s): the table description changed at row %d", table, len(rows))
		}
		tab = tt
		if row == nil { // the description before the rows
			return nil
		}
		rows = append(rows, row)
		return nil
	})
	if err != nil {
		t.Fatalf("ReadTable(%s): %v", table, err)
	}
	return tab, rows
}

// SameTable fails the test unless read describes the table as streamed
// (a streamed event's table) does: names, key, and every column's name,
// type and attributes.
func SameTable(t *testing.T, read, streamed *sluice.Table) {
	t.Helper()
	if read.DB != streamed.DB || read.Schema != streamed.Schema || read.Name != streamed.Name || !reflect.DeepEqual(read.Key, streamed.Key) {
		t.Fatalf("read table %s.%s.%s key %v, streamed %s.%s.%s key %v",
			read.DB, read.Schema, read.Name, read.Key, streamed.DB, streamed.Schema, streamed.Name, streamed.Key)
	}
	if len(read.Columns) != len(streamed.Columns) {
		t.Fatalf("read %d columns, streamed %d", len(read.Columns), len(streamed.Columns))
	}
	for i := range read.Columns {
		if !reflect.DeepEqual(read.Columns[i], streamed.Columns[i]) {
			t.Errorf("column %d: read %+v, streamed %+v", i, read.Columns[i], streamed.Columns[i])
		}
	}
}

// SameRow fails the test unless every value of the read row equals the
// streamed one (sluice.Value.Equal); what names the row in messages.
func SameRow(t *testing.T, tab *sluice.Table, what string, read, streamed sluice.Row) {
	t.Helper()
	if len(read) != len(streamed) {
		t.Fatalf("%s: read %d values, streamed %d", what, len(read), len(streamed))
	}
	for i := range read {
		if !read[i].Equal(streamed[i]) {
			t.Errorf("%s column %s: read %+v, streamed %+v", what, tab.Columns[i].Name, read[i], streamed[i])
		}
	}
}
