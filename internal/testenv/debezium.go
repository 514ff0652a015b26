package testenv

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Record is one Kafka record with its exact key and value bytes, as
// internal/tools/topicdump writes it into testdata/golden/debezium (one
// JSON line per record) and as ReadTopics reads it back from a broker.
type Record struct {
	Topic   string
	Offset  int64
	Key     []byte   // nil: the record has no key
	Value   []byte   // nil: a tombstone
	Headers []Header // in record order
}

// Header is one record header.
type Header struct {
	Key   string
	Value []byte // nil: a header without value
}

// ReadRecorded reads one topicdump file (a .jsonl of a recorded topic).
func ReadRecorded(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Record
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for line := 1; sc.Scan(); line++ {
		r, err := parseRecordLine(sc.Bytes())
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		out = append(out, r)
	}
	return out, sc.Err()
}

func parseRecordLine(b []byte) (Record, error) {
	var l struct {
		Topic       string          `json:"topic"`
		Offset      int64           `json:"offset"`
		Key         *string         `json:"key"`
		Value       *string         `json:"value"`
		KeyBase64   *string         `json:"key_base64"`
		ValueBase64 *string         `json:"value_base64"`
		Headers     json.RawMessage `json:"headers"`
	}
	if err := json.Unmarshal(b, &l); err != nil {
		return Record{}, err
	}
	r := Record{Topic: l.Topic, Offset: l.Offset}
	var err error
	if r.Key, err = bytesOf(l.Key, l.KeyBase64); err != nil {
		return r, err
	}
	if r.Value, err = bytesOf(l.Value, l.ValueBase64); err != nil {
		return r, err
	}
	if len(l.Headers) > 0 {
		h, err := ParseJSON(l.Headers)
		if err != nil {
			return r, fmt.Errorf("headers: %w", err)
		}
		for i, k := range h.Keys {
			var v []byte
			if h.Vals[i].Kind == '"' {
				v = []byte(h.Vals[i].Str())
			}
			r.Headers = append(r.Headers, Header{Key: k, Value: v})
		}
	}
	return r, nil
}

func bytesOf(s, b64 *string) ([]byte, error) {
	switch {
	case s != nil:
		return []byte(*s), nil
	case b64 != nil:
		return base64.StdEncoding.DecodeString(*b64)
	}
	return nil, nil
}

// AppendRecordLine appends r in topicdump's line format (without the
// newline), so that a run's output can be diffed against a recording with
// ordinary tools.
func AppendRecordLine(dst []byte, r Record) []byte {
	str := func(b []byte) string {
		if b == nil {
			return "null"
		}
		s, _ := json.Marshal(string(b))
		return string(s)
	}
	dst = fmt.Appendf(dst, `{"topic":%s,"partition":0,"offset":%d,"key":%s,"value":%s,"headers":{`, str([]byte(r.Topic)), r.Offset, str(r.Key), str(r.Value))
	for i, h := range r.Headers {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = fmt.Appendf(dst, "%s:%s", str([]byte(h.Key)), str(h.Value))
	}
	return append(dst, "}}"...)
}

// ReadTopics reads every record of topics (comma-separated brokers) up to
// the end offsets the topics have when it is called, in offset order per
// topic (the topics are expected to have one partition).
func ReadTopics(t testing.TB, brokers string, topics []string) map[string][]Record {
	t.Helper()
	out := map[string][]Record{}
	if len(topics) == 0 {
		return out
	}
	seeds := strings.Split(brokers, ",")
	adm, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ends, err := kadm.NewClient(adm).ListEndOffsets(ctx, topics...)
	adm.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[int32]int64{}
	left := 0
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			t.Fatalf("end offset of %s/%d: %v", o.Topic, o.Partition, o.Err)
		}
		if o.Offset > 0 {
			if want[o.Topic] == nil {
				want[o.Topic] = map[int32]int64{}
			}
			want[o.Topic][o.Partition] = o.Offset
			left++
		}
	})
	if left == 0 {
		return out
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for left > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %v: %d partitions not read to their end: %v", topics, left, ctx.Err())
		}
		fs.EachError(func(topic string, p int32, err error) { t.Logf("fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			end := want[r.Topic][r.Partition]
			if r.Offset >= end {
				return
			}
			rec := Record{Topic: r.Topic, Offset: r.Offset, Key: r.Key, Value: r.Value}
			for _, h := range r.Headers {
				rec.Headers = append(rec.Headers, Header{Key: h.Key, Value: h.Value})
			}
			out[r.Topic] = append(out[r.Topic], rec)
			if r.Offset == end-1 {
				left--
			}
		})
	}
	for topic := range out {
		sort.SliceStable(out[topic], func(i, j int) bool { return out[topic][i].Offset < out[topic][j].Offset })
	}
	return out
}

// SQLStatements splits a fixture of testdata/debezium into statements by
// the rules its README states: a statement ends at a line ending in ';',
// lines starting with "--" are comments.
func SQLStatements(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	var cur []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "--") || (len(cur) == 0 && strings.TrimSpace(line) == "") {
			continue
		}
		cur = append(cur, line)
		if strings.HasSuffix(strings.TrimRight(line, " \t\r"), ";") {
			stmt := strings.TrimSuffix(strings.TrimSpace(strings.Join(cur, "\n")), ";")
			out = append(out, stmt)
			cur = nil
		}
	}
	if len(cur) > 0 {
		return nil, fmt.Errorf("%s: the last statement does not end in ';'", path)
	}
	return out, nil
}

// Debezium's output varies between two runs in the values below (checked
// by recording everything twice, testdata/golden/debezium/README.md), so
// the comparison masks them on both sides and nothing else. Masking keeps
// the JSON type: a number becomes #, a whole string "#", and a string
// masked by its digits keeps everything but the digit runs (each becomes
// #), so "[null,\"123\"]" and "[\"1\",\"2\"]" still differ. null is never
// masked: a value null on one side only is a difference.
//
// Paths are relative to the envelope (the payload when the record is in
// Kafka Connect's {"schema","payload"} form).
var (
	// maskWhole: processing and commit times, the connector's version,
	// and positions that are plain numbers.
	maskWhole = []string{
		"ts_ms", "ts_us", "ts_ns", // processing time (the envelope's; of schema change and transaction records too)
		"source.version",                               // 3.6.1.Final against sluice's own
		"source.ts_ms", "source.ts_us", "source.ts_ns", // commit time (snapshot time for op r)
		"source.lsn", "source.txId", "source.xmin", // PostgreSQL positions (xmin is always null here)
		"source.pos", // MariaDB binlog offset
	}
	// maskDigits: strings made of positions.
	maskDigits = []string{
		"source.sequence", // PostgreSQL ["<last commit LSN>","<LSN>"]
		"source.gtid",     // MariaDB domain-server-sequence
		"source.file",     // MariaDB binlog file name (its number)
		"transaction.id",  // "<txId>:<LSN>" (PostgreSQL) or the GTID (MariaDB)
	}
	// The transaction topic's BEGIN/END records: key and value id, the
	// time of the record.
	maskTxKey         = []string{"id"}
	maskTxValueWhole  = []string{"ts_ms"}
	maskTxValueDigits = []string{"id"}
	// messageIDHash is the Java identity hash Debezium 3.6.1 prints for a
	// logical message listed as a data collection in an END record.
	messageIDHash = regexp.MustCompile(`(LogicalDecodingMessageId@)[0-9a-f]+$`)
	digitRun      = regexp.MustCompile(`[0-9]+`)
)

// IsTransactionTopic reports whether topic is a transaction metadata topic
// ("<prefix>.transaction").
func IsTransactionTopic(topic string) bool { return strings.HasSuffix(topic, ".transaction") }

// NormalizeKey parses a record key and masks what varies between runs.
// A nil key is JSON null.
func NormalizeKey(topic string, b []byte) (*JSONNode, error) {
	n, err := parseOrNull(b)
	if err != nil || !IsTransactionTopic(topic) {
		return n, err
	}
	root := envelope(n)
	for _, p := range maskTxKey {
		maskNode(root.At(p), true)
	}
	return n, nil
}

// NormalizeValue parses a record value and masks what varies between
// runs. A tombstone is JSON null.
func NormalizeValue(topic string, b []byte) (*JSONNode, error) {
	n, err := parseOrNull(b)
	if err != nil || n.Kind != '{' {
		return n, err
	}
	root := envelope(n)
	if IsTransactionTopic(topic) {
		for _, p := range maskTxValueWhole {
			maskNode(root.At(p), false)
		}
		for _, p := range maskTxValueDigits {
			maskNode(root.At(p), true)
		}
		if dc := root.Get("data_collections"); dc != nil {
			for _, c := range dc.Vals {
				if v := c.Get("data_collection"); v != nil && v.Kind == '"' {
					v.Raw = messageIDHash.ReplaceAll(v.Raw[:len(v.Raw)-1], []byte("${1}#"))
					v.Raw = append(v.Raw, '"')
				}
			}
		}
		return n, nil
	}
	for _, p := range maskWhole {
		maskNode(root.At(p), false)
	}
	for _, p := range maskDigits {
		maskNode(root.At(p), true)
	}
	return n, nil
}

func parseOrNull(b []byte) (*JSONNode, error) {
	if b == nil {
		return &JSONNode{Kind: 'n', Raw: []byte("null")}, nil
	}
	return ParseJSON(b)
}

// envelope returns the payload of a {"schema","payload"} document, else n.
func envelope(n *JSONNode) *JSONNode {
	if n.Kind == '{' && len(n.Keys) == 2 && n.Keys[0] == "schema" && n.Keys[1] == "payload" && n.Vals[1].Kind == '{' {
		return n.Vals[1]
	}
	return n
}

func maskNode(n *JSONNode, digits bool) {
	if n == nil {
		return
	}
	switch {
	case n.Kind == '0':
		n.Raw = []byte("#")
	case n.Kind == '"' && digits:
		n.Raw = digitRun.ReplaceAll(n.Raw, []byte("#"))
	case n.Kind == '"':
		n.Raw = []byte(`"#"`)
	}
}

// RecordOp names what a record is, for aligning two runs' records: the
// envelope's op ("c", "u", "d", "r", "t", "m"), "tombstone", "ddl" (a
// schema change), the status of a transaction record ("BEGIN", "END"),
// or "?".
func RecordOp(value *JSONNode) string {
	if value == nil || value.Kind == 'n' {
		return "tombstone"
	}
	root := envelope(value)
	switch {
	case root.Get("op") != nil:
		return root.Get("op").Str()
	case root.Get("ddl") != nil:
		return "ddl"
	case root.Get("status") != nil:
		return root.Get("status").Str()
	}
	return "?"
}

// SortedFiles lists the .jsonl files of a recorded mode's directory by
// topic name.
func SortedFiles(dir string) ([]string, error) {
	m, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		return nil, err
	}
	sort.Strings(m)
	return m, nil
}

// ReadProperties reads a Java .properties file of key=value lines
// (comments and blank lines skipped; no continuation lines).
func ReadProperties(path string) ([][2]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out [][2]string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s: %q is not key=value", path, line)
		}
		out = append(out, [2]string{strings.TrimSpace(k), unescapeProperty(strings.TrimSpace(v))})
	}
	return out, nil
}

// unescapeProperty undoes a properties file's backslash escapes as
// java.util.Properties does (\\ is a backslash, \t a tab, \c other
// characters themselves), so that a regex written dbz\\.public reads
// dbz\.public.
func unescapeProperty(v string) string {
	if !strings.Contains(v, `\`) {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\\' && i+1 < len(v) {
			i++
			c = v[i]
			switch c {
			case 't':
				c = '\t'
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 'f':
				c = '\f'
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

// JSONLines renders records in topicdump's format, one per line.
func JSONLines(recs []Record) []byte {
	var b bytes.Buffer
	for _, r := range recs {
		b.Write(AppendRecordLine(nil, r))
		b.WriteByte('\n')
	}
	return b.Bytes()
}
