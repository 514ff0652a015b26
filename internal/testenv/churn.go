package testenv

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Churn writes to the PostgreSQL table (id int primary key, v bigint)
// at dsn, as a busy application would, until stop is set: it updates
// rows of the keys 1 … keys (v = v + 1, so versions only grow), deletes
// some of them and inserts new keys with v = 1000000, above any version
// an updated row reaches. It sends the number of writes on the channel
// it returns once it stopped (0 when it could not connect, which fails
// the test).
func Churn(t testing.TB, dsn, table string, keys int, stop *atomic.Bool) <-chan int {
	done := make(chan int, 1)
	go func() {
		ctx := context.Background()
		db, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("churn: %v", err)
			done <- 0
			return
		}
		defer db.Close(ctx)
		i := 0
		for ; !stop.Load(); i++ {
			id := (i*7919)%keys + 1
			switch i % 10 {
			case 0:
				db.Exec(ctx, "DELETE FROM "+table+" WHERE id = $1", id)
			case 1:
				db.Exec(ctx, "INSERT INTO "+table+" (id, v) VALUES ($1, 1000000) ON CONFLICT (id) DO UPDATE SET v = "+table+".v + 1", keys+i)
			default:
				db.Exec(ctx, "UPDATE "+table+" SET v = v + 1 WHERE id = $1", id)
			}
			time.Sleep(100 * time.Microsecond) // a busy application, not a flood the stream can never catch up with
		}
		done <- i
	}()
	return done
}

// TableState returns the rows of the PostgreSQL table (id, v) as
// id → v, for SameState.
func TableState(t testing.TB, db *pgx.Conn, table string) map[int64]int64 {
	t.Helper()
	rows, err := db.Query(context.Background(), "SELECT id, v FROM "+table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]int64{}
	for rows.Next() {
		var id, v int64
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		out[id] = v
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
