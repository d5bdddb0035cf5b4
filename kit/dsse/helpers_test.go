package dsse

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/sha512"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// testECDSA returns a fixed ECDSA key derived from label, so golden files
// are reproducible (signatures with a nil rand are RFC 6979 deterministic).
func testECDSA(tb testing.TB, curve elliptic.Curve, label string) *ecdsa.PrivateKey {
	tb.Helper()
	n := (curve.Params().BitSize + 7) / 8
	seed := sha512.Sum512([]byte(label))
	raw := make([]byte, n)
	copy(raw[n-min(n, 64):], seed[:])
	if n > 64 {
		raw[0] = 0
	}
	raw[0] &= 0x7f
	if curve == elliptic.P521() {
		raw[0] &= 0x00
		raw[1] |= 0x01
	}
	k, err := ecdsa.ParseRawPrivateKey(curve, raw)
	if err != nil {
		tb.Fatalf("ParseRawPrivateKey(%s): %v", label, err)
	}
	return k
}

func testEd25519(label string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte(label))
	return ed25519.NewKeyFromSeed(seed[:])
}

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create): %v", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from golden file\n got: %s\nwant: %s", name, got, want)
	}
}
