package keys_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"path/filepath"
	"testing"

	"github.com/stellaops/stellad/internal/keys"
)

// BenchmarkSign measures signing one SHA-256 digest from parallel goroutines
// (RunParallel: GOMAXPROCS of them, scaled with -cpu): file keys, SoftHSM2
// through crypto11, and crypto/ecdsa directly as the same-run baseline.
func BenchmarkSign(b *testing.B) {
	digest := sha256.Sum256([]byte("benchmark"))
	run := func(b *testing.B, s crypto.Signer) {
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	b.Run("raw-ecdsa", func(b *testing.B) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		run(b, k)
	})
	b.Run("file", func(b *testing.B) {
		o := keys.NewOpener(keys.Config{})
		defer o.Close()
		k, err := o.Generate(context.Background(), "file:"+filepath.Join(b.TempDir(), "k.pem"))
		if err != nil {
			b.Fatal(err)
		}
		run(b, k)
	})
	b.Run("softhsm", func(b *testing.B) {
		benchSoftHSM(b)
		k := softhsmKey(b)
		run(b, k)
	})
}
