package ctlog_test

import (
	"context"

	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stellaops/stellad/internal/ctlog"
)

// BenchmarkAddPreChain measures AddPreChain end to end (parse, issuer check, Tessera sequencing
// and integration with fsync, SCT signature) with a file-less in-memory key, for one caller
// at a time (the CA's case: each cosign certificate request waits for its SCT) and for 16
// concurrent callers, with the default Tessera batch age and with 1 ms. It reports p50/p99
// latency and throughput.
func BenchmarkAddPreChain(b *testing.B) {
	for _, bc := range []struct {
		name    string
		callers int
		age     time.Duration
	}{
		{"serial/age=default", 1, 0},
		{"serial/age=1ms", 1, time.Millisecond},
		{"16callers/age=default", 16, 0},
		{"16callers/age=1ms", 16, time.Millisecond},
	} {
		callers := bc.callers
		b.Run(bc.name, func(b *testing.B) {
			l, err := ctlog.New(context.Background(), ctlog.Config{Dir: b.TempDir(), Origin: "localhost/ct", Signer: newKey(b), BatchMaxAge: bc.age})
			if err != nil {
				b.Fatal(err)
			}
			defer closeLog(b, l)
			ca := newCA(b, "bench CA")
			// Precertificates are made up front so that only the log is timed.
			pres := make([][]byte, b.N)
			pub := newKey(b).Public()
			for i := range pres {
				pres[i] = ca.issue(b, leafTemplate(int64(i+1)), pub, poison())
			}
			lat := make([]time.Duration, b.N)
			var next sync.Mutex
			n := 0
			b.ResetTimer()
			var wg sync.WaitGroup
			for range callers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						next.Lock()
						i := n
						n++
						next.Unlock()
						if i >= b.N {
							return
						}
						t0 := time.Now()
						if _, err := l.AddPreChain(context.Background(), [][]byte{pres[i], ca.cert.Raw}); err != nil {
							b.Error(err)
							return
						}
						lat[i] = time.Since(t0)
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}
