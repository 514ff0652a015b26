package eventtest

import (
	"reflect"
	"sync"
	"testing"

	"github.com/sluice-cdc/sluice"
)

func TestKeyRowAndDelete(t *testing.T) {
	got := Delete(OrdersWide, Int(7))
	want := sluice.Row{Int(7), Missing, Missing, Missing}
	if got.Op != sluice.OpDelete || got.Table != OrdersWide || !reflect.DeepEqual(got.Before, want) || got.After != nil {
		t.Errorf("Delete = %+v, want the key row %v as before image", got, want)
	}
	pair := &sluice.Table{Columns: make([]sluice.Column, 3), Key: []int{2, 0}}
	if got, want := KeyRow(pair, Int(1), Int(2)), (sluice.Row{Int(2), Missing, Int(1)}); !reflect.DeepEqual(got, want) {
		t.Errorf("KeyRow = %v, want %v (key values in the order of Table.Key)", got, want)
	}
}

func TestTxClock(t *testing.T) {
	var c TxClock
	first := c.Tx(Insert(Orders, Int(1), Text("a")), Truncate(Orders))
	second := c.Tx(Message("audit", "x"))
	if first[0].Pos.TxLSN != first[1].Pos.TxLSN || first[1].Pos.LSN <= first[0].Pos.LSN || first[1].TxOrder != 2 {
		t.Errorf("one transaction: %+v %+v", first[0].Pos, first[1].Pos)
	}
	if second[0].Pos.TxLSN <= first[0].Pos.TxLSN || second[0].TxID == first[0].TxID || second[0].TxOrder != 1 {
		t.Errorf("the next transaction: %+v after %+v", second[0].Pos, first[0].Pos)
	}
	if first[0].CommitTime != CommitTime {
		t.Errorf("commit time %v", first[0].CommitTime)
	}

	// Concurrent use hands out distinct positions.
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[uint64]bool{}
	for range 8 {
		wg.Go(func() {
			pos := c.Tx(Insert(Orders, Int(1), Text("a")))[0].Pos.TxLSN
			mu.Lock()
			defer mu.Unlock()
			if seen[pos] {
				t.Errorf("position %x handed out twice", pos)
			}
			seen[pos] = true
		})
	}
	wg.Wait()
}
