package codec

import (
	"strings"
	"testing"
)

// hstore is written as Debezium writes it: a JSON object in the order of
// a java.util.HashMap (expected orders printed by Java 25).
func TestAppendHstore(t *testing.T) {
	for in, want := range map[string]string{
		`"k1"=>"v1", "k 2"=>NULL`: `"{\"k1\":\"v1\",\"k 2\":null}"`,
		``:                        `"{}"`,
		`"a\"b"=>"c\\d"`:          `"{\"a\\\"b\":\"c\\\\d\"}"`,
		`"😀"=>"ü"`:                `"{\"\uD83D\uDE00\":\"ü\"}"`,
		`not hstore`:              `"not hstore"`,
	} {
		if got := string(appendHstore(nil, []byte(in), true)); got != want {
			t.Errorf("%s: got %s want %s", in, got, want)
		}
	}
	if got := string(appendHstore(nil, []byte(`"k1"=>"v1", "k 2"=>NULL`), false)); got != `{"k1":"v1","k 2":null}` {
		t.Errorf("map mode: %s", got)
	}
	for keys, want := range map[string]string{
		"k1|k 2":                         "k1|k 2",
		"a|b|c|d|e|f|g|h|i|j|k|l|m|n":    "a|b|c|d|e|f|g|h|i|j|k|l|m|n",
		"ü|😀|x|key with \"quote\"|Aa|BB": "Aa|BB|😀|x|key with \"quote\"|ü",
		"public.rid_default|public.composite|public.rid_full|io.debezium.connector.postgresql.LogicalDecodingMessageMonitor$LogicalDecodingMessageId@1": "public.composite|public.rid_default|io.debezium.connector.postgresql.LogicalDecodingMessageMonitor$LogicalDecodingMessageId@1|public.rid_full",
		"dbz.rid|dbz.composite|dbz.unsigned_key": "dbz.composite|dbz.rid|dbz.unsigned_key",
	} {
		var pairs []hstorePair
		names := strings.Split(keys, "|")
		for _, k := range names {
			pairs = append(pairs, hstorePair{key: []byte(k)})
		}
		var got []string
		for _, i := range javaHashMapOrder(pairs) {
			got = append(got, names[i])
		}
		if g := strings.Join(got, "|"); g != want {
			t.Errorf("%s: order %s, Java %s", keys, g, want)
		}
	}
	for s, want := range map[string]int32{"": 0, "a": 97, "sluice-tx": 1405382978, "😀": 1772899, "ü": 252} {
		if got := javaStringHash([]byte(s)); got != want {
			t.Errorf("hash %q: %d, Java %d", s, got, want)
		}
	}
}
