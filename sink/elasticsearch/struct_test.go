package elasticsearch

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/eventtest"
)

// customerCol is a struct column as the join transform adds it: the
// looked-up customer row, with a nested struct.
var customerCol = &sluice.Column{Name: "customer", DBType: "shop.public.customers.Value", Type: sluice.TypeStruct, Optional: true, Fields: []sluice.Column{
	{Name: "id", DBType: "int4", Type: sluice.TypeInt32},
	{Name: "first_name", DBType: "text", Type: sluice.TypeText, Optional: true},
	{Name: "balance", DBType: "numeric", Type: sluice.TypeDecimal, Scale: 2, Length: 10, Optional: true},
	{Name: "since", DBType: "timestamptz", Type: sluice.TypeTimestampTZ, Scale: -1, Optional: true},
	{Name: "address", Type: sluice.TypeStruct, Optional: true, Fields: []sluice.Column{
		{Name: "city", DBType: "text", Type: sluice.TypeText, Optional: true},
	}},
}}

// customerElems is a customer struct's fields; city "" is NULL.
func customerElems(city string) []sluice.Value {
	c := sluice.Value{}
	if city != "" {
		c = eventtest.Text(city)
	}
	return []sluice.Value{eventtest.Int(7), eventtest.Text(`Ann "A"`), eventtest.Text("12.50"), eventtest.Int(1704164645123456),
		present(sluice.Value{Elems: []sluice.Value{c}})}
}

// ordersJoined is orders with the joined customer.
var ordersJoined = &sluice.Table{Schema: "public", Name: "orders", Columns: []sluice.Column{
	{Name: "id", DBType: "int4", Type: sluice.TypeInt32, Key: true},
	*customerCol,
}, Key: []int{0}}

// TestStructMapping: a struct column maps as an object of its fields'
// derived mappings, nested structs as nested objects.
func TestStructMapping(t *testing.T) {
	d := docEncoder{}
	want := `{"type":"object","properties":{"id":{"type":"integer"},` +
		`"first_name":{"type":"text","fields":{"keyword":{"type":"keyword","ignore_above":256}}},` +
		`"balance":{"type":"double","ignore_malformed":true},"since":{"type":"date","ignore_malformed":true},` +
		`"address":{"type":"object","properties":{"city":{"type":"text","fields":{"keyword":{"type":"keyword","ignore_above":256}}}}}}}`
	if got := d.fieldMapping(customerCol); got != want {
		t.Errorf("mapping\n got %s\nwant %s", got, want)
	}
	if m := d.appendMapping(nil, ordersJoined, nil); !json.Valid(m) {
		t.Errorf("mapping %s is not JSON", m)
	}
}

// TestStructDocument: the struct is one nested object of the document,
// null when the join found nothing.
func TestStructDocument(t *testing.T) {
	d := docEncoder{}
	for _, tc := range []struct {
		name string
		row  sluice.Row
		want string
	}{
		{"match", sluice.Row{eventtest.Int(1), present(sluice.Value{Elems: customerElems("Oslo")})},
			`{"id":1,"customer":{"id":7,"first_name":"Ann \"A\"","balance":"12.50","since":"2024-01-02T03:04:05.123456Z","address":{"city":"Oslo"}}}`},
		{"no match", sluice.Row{eventtest.Int(2), {Kind: sluice.KindNull}}, `{"id":2,"customer":null}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, unch := d.appendDoc(nil, ordersJoined, tc.row)
			if string(src) != tc.want || len(unch) != 0 {
				t.Errorf("doc %s, unchanged %v; want %s", src, unch, tc.want)
			}
		})
	}
}

// TestStructIntegration: the server takes the derived object mapping and
// the nested documents, and searches a field of the struct by its path.
func TestStructIntegration(t *testing.T) { eachBackend(t, testStructIntegration) }

func testStructIntegration(t *testing.T, b backend) {
	e := newBackendTest(t, b)
	clk := &eventtest.TxClock{}
	events := clk.Tx(
		eventtest.Insert(ordersJoined, eventtest.Int(1), present(sluice.Value{Elems: customerElems("Oslo")})),
		eventtest.Insert(ordersJoined, eventtest.Int(2), sluice.Value{Kind: sluice.KindNull}),
		eventtest.Insert(ordersJoined, eventtest.Int(3), present(sluice.Value{Elems: customerElems("")})),
	)
	s := e.sink(nil)
	writeAll(t, s, events)
	sameDocs(t, e.Docs(e.index("orders")), model(events))
	m := string(e.Must("GET", "/"+e.index("orders")+"/_mapping", nil))
	if !strings.Contains(m, `"since":{"type":"date","ignore_malformed":true}`) || !strings.Contains(m, `"address":{"properties":{"city":{"type":"text"`) {
		t.Errorf("mapping = %s", m)
	}
	e.Must("POST", "/"+e.index("orders")+"/_refresh", nil)
	res := e.Must("POST", "/"+e.index("orders")+"/_search", []byte(`{"query":{"term":{"customer.address.city.keyword":"Oslo"}}}`))
	var r struct {
		Hits struct {
			Hits []struct {
				ID string `json:"_id"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(res, &r); err != nil || len(r.Hits.Hits) != 1 || r.Hits.Hits[0].ID != "1" {
		t.Errorf("search customer.address.city = Oslo: %s (%v)", res, err)
	}
}
