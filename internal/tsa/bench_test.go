package tsa_test

import (
	"context"
	"crypto/elliptic"
	"math/big"
	"strings"
	"testing"

	"github.com/digitorus/timestamp"
)

// BenchmarkRespond measures one answer with an in-memory ECDSA key: the
// query cosign sends, one with certReq and a nonce, and a rejection.
func BenchmarkRespond(b *testing.B) {
	for _, c := range []elliptic.Curve{elliptic.P256(), elliptic.P384()} {
		f := newFixture(b, genECDSA(b, c), nil)
		cosign, err := timestamp.CreateRequest(strings.NewReader("sig"), nil)
		if err != nil {
			b.Fatal(err)
		}
		full, err := timestamp.CreateRequest(strings.NewReader("sig"), &timestamp.RequestOptions{Certificates: true, Nonce: big.NewInt(1 << 62)})
		if err != nil {
			b.Fatal(err)
		}
		for _, bc := range []struct {
			name  string
			query []byte
			fail  bool
		}{
			{"Cosign", cosign, false},
			{"CertNonce", full, false},
			{"Reject", cosign[:len(cosign)-1], true},
		} {
			b.Run(c.Params().Name+"/"+bc.name, func(b *testing.B) {
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					if _, err := f.tsa.Respond(ctx, bc.query); (err != nil) != bc.fail {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
