package source

import "fmt"

// AllTables is the value of a source's `tables` key that captures every
// table (the default when the key is left out).
const AllTables = "all"

// CheckTables checks a source's `tables` key: left out (nil) or `all`
// means every table; an empty list is an error rather than a silent
// "every table", and `all` does not mix with names.
func CheckTables(path string, tables []string) []error {
	if tables == nil {
		return nil
	}
	if len(tables) == 0 {
		return []error{fmt.Errorf("%s.tables: empty: list at least one table, or write `tables: all` for every table", path)}
	}
	for i, t := range tables {
		if t == AllTables && len(tables) > 1 {
			return []error{fmt.Errorf("%s.tables[%d]: `all` cannot be combined with table names", path, i)}
		}
	}
	return nil
}

// Listed returns the tables named by a checked `tables` value, or nil for
// every table.
func Listed(tables []string) []string {
	if len(tables) == 0 || len(tables) == 1 && tables[0] == AllTables {
		return nil
	}
	return tables
}
