package translog

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAppend measures Append with 64 concurrent callers (unless the name says otherwise),
// each waiting for its signed checkpoint and inclusion proof (closed loop, 300-byte leaves,
// Ed25519 note key, real Tessera POSIX log in a temp dir). It reports appends/s, latency percentiles and leaves per signed
// checkpoint, for this package's defaults and for Tessera's defaults (256 / 250 ms).
func BenchmarkAppend(b *testing.B) {
	configs := []struct {
		name     string
		callers  int
		size     uint
		age      time.Duration
		interval time.Duration
	}{
		{name: "defaults"},
		{name: "tessera-defaults-256-250ms", size: 256, age: 250 * time.Millisecond, interval: 10 * time.Second},
		{name: "defaults-1-caller", callers: 1},
		{name: "defaults-16-callers", callers: 16},
		{name: "defaults-256-callers", callers: 256},
		{name: "64-5ms", size: 64, age: 5 * time.Millisecond},
		{name: "64-5ms-1-caller", callers: 1, size: 64, age: 5 * time.Millisecond},
		{name: "64-5ms-16-callers", callers: 16, size: 64, age: 5 * time.Millisecond},
		{name: "64-20ms", size: 64, age: 20 * time.Millisecond},
		{name: "32-5ms", size: 32, age: 5 * time.Millisecond},
		{name: "256-10ms", size: 256, age: 10 * time.Millisecond},
	}
	for _, c := range configs {
		b.Run(c.name, func(b *testing.B) {
			callers := c.callers
			if callers == 0 {
				callers = 64
			}
			k := newTestKeys(b)
			cfg := Config{
				Dir: b.TempDir(), Origin: testOrigin, Signer: k.signer, Verifier: k.verifier,
				BatchMaxSize: c.size, BatchMaxAge: c.age, CheckpointInterval: c.interval,
			}
			l := openLog(b, cfg)
			defer closeLog(b, l)
			leaf := make([]byte, 300)
			var next atomic.Int64
			lat := make([][]time.Duration, callers)
			sizes := make(map[uint64]bool)
			var sizesMu sync.Mutex
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for w := range callers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						t0 := time.Now()
						p, err := l.Append(context.Background(), leaf)
						if err != nil {
							b.Error(err)
							return
						}
						lat[w] = append(lat[w], time.Since(t0))
						sizesMu.Lock()
						sizes[p.TreeSize] = true
						sizesMu.Unlock()
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			all := slices.Concat(lat...)
			slices.Sort(all)
			if len(all) == 0 {
				return
			}
			pct := func(p float64) float64 {
				return float64(all[min(len(all)-1, int(p*float64(len(all))))].Microseconds()) / 1000
			}
			b.ReportMetric(float64(len(all))/elapsed.Seconds(), "appends/s")
			b.ReportMetric(pct(0.50), "p50_ms")
			b.ReportMetric(pct(0.99), "p99_ms")
			b.ReportMetric(float64(len(all))/float64(len(sizes)), "leaves/checkpoint")
		})
	}
}
