package attest

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"sync/atomic"
	"testing"
)

// BenchmarkSign measures the whole use case (statement, DSSE signature with a
// file key, log append with its signed checkpoint and proof, the one insert
// of the complete row, bundle) with 64 concurrent callers, next to the raw ECDSA P-256
// signing rate of the same key in the same run: report the ratio.
func BenchmarkSign(b *testing.B) {
	b.Run("raw-ecdsa", func(b *testing.B) {
		key := mustKey(b)
		digest := sha256.Sum256([]byte("baseline"))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := ecdsa.SignASN1(rand.Reader, key, digest[:]); err != nil {
					b.Error(err)
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sign/s")
	})
	b.Run("attest-64-callers", func(b *testing.B) {
		f := newFixture(b, b.TempDir(), mustKey(b), mustKey(b))
		ctx := context.Background()
		var n atomic.Int64
		b.SetParallelism(32) // 32 x GOMAXPROCS(2) = 64 callers
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := n.Add(1)
				if _, err := f.svc.Sign(ctx, Call{}, SignRequest{Subjects: subject(fmt.Sprint(i)), PredicateType: predicateType}); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "attestations/s")
	})
}
