package testenv

import (
	"bytes"
	"fmt"
	"strings"
)

// RecordDiff is what differs between Debezium's record and sluice's
// record at the same place of a topic, after NormalizeKey/NormalizeValue.
type RecordDiff struct {
	Topic string
	// Want and Got index the records of the topic; -1 when the record
	// has no counterpart (Diffs then holds one "-record.<op>" or
	// "+record.<op>" entry).
	Want, Got int
	Op        string // RecordOp of the record (Debezium's when both exist)
	Key       string // the normalised key (Debezium's when both exist)
	// Diffs are the differences, with paths under "key", "value" and
	// "headers" ("value.source.lsn", "headers[__debezium.newkey].payload.id").
	Diffs []JSONDiff
	// WantValue and GotValue are the normalised values, for messages.
	WantValue, GotValue string
}

// normRecord is a record with its key and value normalised.
type normRecord struct {
	key, value *JSONNode
	op         string
	keyS       string
	ident      string // what makes two records of one kind "the same": the key, and a schema change's statement
	err        error
	r          Record
}

func normalize(r Record, mask []string) normRecord {
	n := normRecord{r: r}
	var err error
	if n.key, err = NormalizeKey(r.Topic, r.Key); err != nil {
		n.err = fmt.Errorf("key: %w", err)
		n.key = &JSONNode{Kind: '"', Raw: []byte(fmt.Sprintf("%q", r.Key))}
	}
	if n.value, err = NormalizeValue(r.Topic, r.Value); err != nil {
		n.err = fmt.Errorf("value: %w", err)
		n.value = &JSONNode{Kind: '"', Raw: []byte(fmt.Sprintf("%q", r.Value))}
	} else if len(mask) > 0 && n.value.Kind == '{' {
		root := envelope(n.value)
		for _, p := range mask {
			maskNode(root.At(p), false)
		}
	}
	n.op = RecordOp(n.value)
	n.keyS = n.key.String()
	n.ident = n.keyS
	if d := envelope(n.value).Get("ddl"); d != nil {
		n.ident += d.String()
	}
	return n
}

// CompareTopic compares the records sluice wrote to a topic (got) with
// Debezium's (want), in order. Records are paired by an alignment that
// keeps their order and pairs only records of the same kind (RecordOp),
// preferring pairs with equal keys, so that a record one side lacks shows
// as one missing or extra record instead of shifting every later pair
// (schema changes pair only with the same statement).
// Headers whose name starts with ignoreHeaderPrefix (sluice's own, such
// as sluice.event.id) are left out of the comparison, as the recording
// leaves out Debezium Server's own __debezium.context.* headers.
func CompareTopic(topic string, want, got []Record, ignoreHeaderPrefix string) []RecordDiff {
	return CompareTopicMasked(topic, want, got, ignoreHeaderPrefix, nil)
}

// CompareTopicMasked is CompareTopic with more value paths masked whole
// on both sides (paths relative to the envelope, as NormalizeValue's):
// values a transform adds that vary between runs, such as the unwrap
// transform's __lsn and __source_ts_ms.
func CompareTopicMasked(topic string, want, got []Record, ignoreHeaderPrefix string, mask []string) []RecordDiff {
	w := make([]normRecord, len(want))
	for i, r := range want {
		w[i] = normalize(r, mask)
	}
	g := make([]normRecord, len(got))
	for i, r := range got {
		g[i] = normalize(r, mask)
	}
	var out []RecordDiff
	for _, p := range align(w, g) {
		switch {
		case p[1] < 0:
			out = append(out, RecordDiff{Topic: topic, Want: p[0], Got: -1, Op: w[p[0]].op, Key: w[p[0]].keyS,
				Diffs: []JSONDiff{{Path: "-record." + w[p[0]].op, What: "missing", Want: w[p[0]].value.String()}}, WantValue: w[p[0]].value.String()})
		case p[0] < 0:
			out = append(out, RecordDiff{Topic: topic, Want: -1, Got: p[1], Op: g[p[1]].op, Key: g[p[1]].keyS,
				Diffs: []JSONDiff{{Path: "+record." + g[p[1]].op, What: "extra", Got: g[p[1]].value.String()}}, GotValue: g[p[1]].value.String()})
		default:
			a, b := w[p[0]], g[p[1]]
			var d []JSONDiff
			if b.err != nil {
				d = append(d, JSONDiff{Path: "record", What: "unparsable", Want: "JSON", Got: b.err.Error()})
			}
			d = append(d, DiffJSON("key", a.key, b.key)...)
			d = append(d, DiffJSON("value", a.value, b.value)...)
			d = append(d, diffHeaders(a.r.Headers, b.r.Headers, ignoreHeaderPrefix)...)
			if len(d) > 0 {
				out = append(out, RecordDiff{Topic: topic, Want: p[0], Got: p[1], Op: a.op, Key: a.keyS, Diffs: d,
					WantValue: a.value.String(), GotValue: b.value.String()})
			}
		}
	}
	return out
}

// align pairs the records of w and g: a longest common subsequence by
// kind, weighted to prefer equal keys. Unpaired records get -1 on the
// other side. The pairs come in order of both sides.
func align(w, g []normRecord) [][2]int {
	n, m := len(w), len(g)
	score := func(i, j int) int {
		if w[i].op != g[j].op {
			return -1
		}
		if w[i].ident == g[j].ident {
			return 2
		}
		if w[i].op == "ddl" {
			return -1 // schema changes pair only with the same statement
		}
		return 1
	}
	dp := make([][]int, n+1)
	for i := range dp {
		dp[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			best := max(dp[i+1][j], dp[i][j+1])
			if s := score(i, j); s > 0 {
				best = max(best, dp[i+1][j+1]+s)
			}
			dp[i][j] = best
		}
	}
	var out [][2]int
	i, j := 0, 0
	for i < n && j < m {
		switch s := score(i, j); {
		case s > 0 && dp[i][j] == dp[i+1][j+1]+s:
			out = append(out, [2]int{i, j})
			i++
			j++
		case dp[i][j] == dp[i+1][j]:
			out = append(out, [2]int{i, -1})
			i++
		default:
			out = append(out, [2]int{-1, j})
			j++
		}
	}
	for ; i < n; i++ {
		out = append(out, [2]int{i, -1})
	}
	for ; j < m; j++ {
		out = append(out, [2]int{-1, j})
	}
	return out
}

// diffHeaders compares the headers other than ignored ones: names in
// order, and values as JSON (the __debezium.oldkey/newkey headers hold a
// key in Connect's {"schema","payload"} form).
func diffHeaders(want, got []Header, ignore string) []JSONDiff {
	var g []Header
	for _, h := range got {
		if ignore == "" || !strings.HasPrefix(h.Key, ignore) {
			g = append(g, h)
		}
	}
	names := func(hs []Header) string {
		var s []string
		for _, h := range hs {
			s = append(s, h.Key)
		}
		return strings.Join(s, ",")
	}
	if names(want) != names(g) {
		return []JSONDiff{{Path: "headers", What: "value", Want: "[" + names(want) + "]", Got: "[" + names(g) + "]"}}
	}
	var out []JSONDiff
	for i, h := range want {
		path := "headers[" + h.Key + "]"
		if bytes.Equal(h.Value, g[i].Value) {
			continue
		}
		a, errA := ParseJSON(h.Value)
		b, errB := ParseJSON(g[i].Value)
		if errA != nil || errB != nil {
			out = append(out, JSONDiff{Path: path, What: "value", Want: string(h.Value), Got: string(g[i].Value)})
			continue
		}
		out = append(out, DiffJSON(path, a, b)...)
	}
	return out
}

// Known is a difference between sluice and Debezium that a comparison
// accepts for now. Every entry names a real difference, the package that
// owns it and why it is there; entries go away as the differences are
// fixed (a comparison reports entries that no longer match anything).
type Known struct {
	// Source, Mode, Topic and Path select the differences the entry
	// covers; each is a pattern in which * stands for any run of
	// characters ("" matches everything). Path is a RecordDiff path:
	// "value.after.c_2d", "value.source", "key", "+record.t",
	// "-topic" (a topic Debezium wrote and sluice did not), "+topic".
	Source, Mode, Topic, Path string
	// Owner is the package whose change removes the difference.
	Owner string
	// Why explains it.
	Why string
}

// Covers reports whether k covers a difference at path of topic in the
// run of source and mode.
func (k *Known) Covers(source, mode, topic, path string) bool {
	return Glob(k.Source, source) && Glob(k.Mode, mode) && Glob(k.Topic, topic) && Glob(k.Path, path)
}

// Glob matches s against pattern, where * matches any run of characters
// and everything else itself. The empty pattern matches everything.
func Glob(pattern, s string) bool {
	if pattern == "" || pattern == "*" {
		return true
	}
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

// Describe renders a record difference for a test failure: where it is,
// each differing path with both sides, and the two normalised values.
func (d RecordDiff) Describe(diffs []JSONDiff, full bool) string {
	var b strings.Builder
	switch {
	case d.Want < 0:
		fmt.Fprintf(&b, "%s: record %d (op %s, key %s) is only in sluice's output\n", d.Topic, d.Got, d.Op, d.Key)
	case d.Got < 0:
		fmt.Fprintf(&b, "%s: Debezium's record %d (op %s, key %s) is missing from sluice's output\n", d.Topic, d.Want, d.Op, d.Key)
	default:
		fmt.Fprintf(&b, "%s: Debezium's record %d and sluice's record %d (op %s, key %s) differ:\n", d.Topic, d.Want, d.Got, d.Op, d.Key)
	}
	for _, x := range diffs {
		fmt.Fprintf(&b, "    %s\n", x)
	}
	if full {
		if d.WantValue != "" {
			fmt.Fprintf(&b, "  debezium value: %s\n", clip(d.WantValue, 4000))
		}
		if d.GotValue != "" {
			fmt.Fprintf(&b, "  sluice value:   %s\n", clip(d.GotValue, 4000))
		}
	}
	return b.String()
}
