package dsse

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"
)

// BenchmarkSign measures Sign with a file ECDSA P-256 key over a typical
// statement; compare with BenchmarkRawECDSA for the cost of the envelope.
func BenchmarkSign(b *testing.B) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	stmt := testStatement(b)
	b.SetBytes(int64(len(stmt)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Sign(rand.Reader, PayloadTypeInToto, stmt, KeySigner{Signer: k}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawECDSA is the floor for BenchmarkSign: one ecdsa.SignASN1 on a
// 32-byte digest.
func BenchmarkRawECDSA(b *testing.B) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	d := sha256.Sum256([]byte("digest"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ecdsa.SignASN1(rand.Reader, k, d[:]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseMarshal measures decoding and re-encoding an envelope.
func BenchmarkParseMarshal(b *testing.B) {
	k := testECDSA(b, elliptic.P256(), "bench")
	e, _ := Sign(nil, PayloadTypeInToto, testStatement(b), KeySigner{Signer: k})
	raw, _ := e.Marshal()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		e, err := Parse(raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.Marshal(); err != nil {
			b.Fatal(err)
		}
	}
}
