package elasticsearch

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice/sink"
)

var _ sink.DeprecatedTransformer = (*Sink)(nil)

// DeprecatedTransforms implements sink.DeprecatedTransformer: the former
// columns option (Config.Columns) is the columns transform now, one entry
// per table in name order, so the sink has a single way to shape rows and
// every sink can do the same. Each entry includes the listed columns plus
// the table's key columns (include_key), because the option took the
// document id from the key whether it was listed or not, while the
// transform refuses an include list that drops the key. It logs the
// replacement once: pipeline.Build calls it once, at start.
func (s *Sink) DeprecatedTransforms() []sink.DeprecatedTransform {
	if len(s.cfg.Columns) == 0 {
		return nil
	}
	var out []sink.DeprecatedTransform
	var yaml strings.Builder
	yaml.WriteString("transforms:  # at the end of the sink's transforms\n")
	for _, table := range slices.Sorted(maps.Keys(s.cfg.Columns)) {
		include := make([]any, len(s.cfg.Columns[table]))
		for i, c := range s.cfg.Columns[table] {
			include[i] = c
		}
		pattern := globQuote(table)
		out = append(out, sink.DeprecatedTransform{
			Key: "columns." + table,
			Entry: map[string]any{"type": "columns", "tables": []any{pattern}, "include": include,
				"include_key": true},
		})
		yaml.WriteString("  - {type: columns, tables: [")
		yaml.WriteString(strconv.Quote(pattern))
		yaml.WriteString("], include: [")
		for i, c := range s.cfg.Columns[table] {
			if i > 0 {
				yaml.WriteString(", ")
			}
			yaml.WriteString(strconv.Quote(c))
		}
		yaml.WriteString("], include_key: true}\n")
	}
	s.log.Warn("the elasticsearch sink's columns option is deprecated: it runs as the columns transform; replace it with these entries",
		zap.String("key", sink.JoinKey(s.path, "columns")), zap.String("replacement", yaml.String()))
	return out
}

// globQuote escapes the characters a transform's tables glob
// (path.Match) would read as a pattern, so a table named as the database
// spells it matches itself only, as the old option's exact lookup did.
func globQuote(name string) string {
	if !strings.ContainsAny(name, `*?[\`) {
		return name
	}
	var b strings.Builder
	for _, r := range name {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
