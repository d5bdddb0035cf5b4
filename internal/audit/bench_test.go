package audit

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
)

// BenchmarkAppend measures Append on the signing hot path.
//   - in-tx: many Appends inside one open write transaction: the cost of
//     Append itself (hashing and one prepared INSERT guarded by the
//     remembered chain head), no fsync.
//   - commit/callers=N: N concurrent store.DB.Commit callers each appending
//     one row (group commit, one fsync per batch), the daemon's shape.
func BenchmarkAppend(b *testing.B) {
	b.Run("in-tx", func(b *testing.B) {
		db, tr, _ := openTrail(b)
		r := rec("a", 1)
		err := db.Tx(context.Background(), func(tx *sql.Tx) error {
			for b.Loop() {
				if err := tr.Append(tx, r); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	})
	for _, callers := range []int{1, 64} {
		b.Run(fmt.Sprintf("commit/callers=%d", callers), func(b *testing.B) {
			db, tr, _ := openTrail(b)
			ctx := context.Background()
			var n atomic.Int64
			b.SetParallelism((callers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := rec("a", int(n.Add(1)))
					if err := db.Commit(ctx, func(tx *sql.Tx) error { return tr.Append(tx, r) }); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkRowHash measures the canonical encoding and hash of one row.
func BenchmarkRowHash(b *testing.B) {
	r := sampleRow("req-123")
	for b.Loop() {
		r.Hash = r.ComputeHash()
	}
}

// BenchmarkVerify measures Verify per row on a 10,000-row trail.
func BenchmarkVerify(b *testing.B) {
	db, tr, _ := openTrail(b)
	r := rec("a", 1)
	if err := db.Tx(context.Background(), func(tx *sql.Tx) error {
		for range 10000 {
			if err := tr.Append(tx, r); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if res, err := tr.Verify(context.Background()); err != nil || !res.OK() {
			b.Fatal(err, res.Err())
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10000, "ns/row")
}
