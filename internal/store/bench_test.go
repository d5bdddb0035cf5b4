package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
)

// BenchmarkTx: one caller, one write transaction (and one fsync) per row.
func BenchmarkTx(b *testing.B) {
	db := openTest(b, filepath.Join(b.TempDir(), "db"), testMigrations)
	ctx := context.Background()
	fn := insertItem("row")
	for b.Loop() {
		if err := db.Tx(ctx, fn); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCommit: callers concurrent Commit callers inserting one row each.
func BenchmarkCommit(b *testing.B) {
	for _, callers := range []int{1, 64} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			db := openTest(b, filepath.Join(b.TempDir(), "db"), testMigrations)
			ctx := context.Background()
			fn := insertItem("row")
			b.SetParallelism((callers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := db.Commit(ctx, fn); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			if n := db.commit.batches.Load(); n > 0 {
				b.ReportMetric(float64(db.commit.fns.Load())/float64(n), "fns/batch")
			}
		})
	}
}

// BenchmarkCASPut stores new 1 KiB objects.
//   - fresh: an empty store, so most Puts create their fan-out directories
//     and fsync them and their parents.
//   - dirs=present/syncdir=created: every fan-out directory exists (the steady
//     state of a full store); no directory is fsynced (the default).
//   - dirs=present/syncdir=always: the same, but the object's directory is
//     fsynced on every Put.
//   - existing: re-puts one stored object (read back and compared).
func BenchmarkCASPut(b *testing.B) {
	data := make([]byte, 1024)
	var seq atomic.Uint64
	put := func(b *testing.B, c *CAS) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			binary.BigEndian.PutUint64(data, seq.Add(1))
			if _, err := c.Put(data); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("fresh", func(b *testing.B) {
		c, _ := openTestCAS(b)
		put(b, c)
	})
	for _, always := range []bool{false, true} {
		b.Run(fmt.Sprintf("dirs=present/syncdir=%s", map[bool]string{false: "created", true: "always"}[always]), func(b *testing.B) {
			c, dir := openTestCAS(b)
			for i := range 256 {
				for j := range 256 {
					if err := os.MkdirAll(filepath.Join(dir, "sha256", fmt.Sprintf("%02x", i), fmt.Sprintf("%02x", j)), 0o700); err != nil {
						b.Fatal(err)
					}
				}
			}
			c.syncDirAlways = always
			put(b, c)
		})
	}
	b.Run("existing", func(b *testing.B) {
		c, _ := openTestCAS(b)
		if _, err := c.Put(data); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := c.Put(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkCASGet(b *testing.B) {
	c, _ := openTestCAS(b)
	data := make([]byte, 1024)
	d, err := c.Put(data)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := c.Get(d); err != nil {
			b.Fatal(err)
		}
	}
}
