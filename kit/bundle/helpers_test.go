package bundle

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/sha512"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// testP256 returns a fixed ECDSA P-256 key derived from label.
func testP256(tb testing.TB, label string) *ecdsa.PrivateKey {
	tb.Helper()
	seed := sha512.Sum512([]byte(label))
	seed[0] &= 0x7f
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), seed[:32])
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func testEd25519(label string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte(label))
	return ed25519.NewKeyFromSeed(seed[:])
}

// detSigner makes ECDSA signatures deterministic (RFC 6979) whatever rand
// the caller passes, so golden files are stable.
type detSigner struct{ k *ecdsa.PrivateKey }

func (d detSigner) Public() crypto.PublicKey { return d.k.Public() }
func (d detSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return d.k.Sign(nil, digest, opts)
}

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
