package policy

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
)

// TestSetReleaseKeys: a layout signed by a key the checker does not trust
// is refused; after SetReleaseKeys adds the key the same layout imports and
// its digest is trusted; a bad list changes nothing; an empty list refuses
// every import again but keeps what was imported.
func TestSetReleaseKeys(t *testing.T) {
	ctx := context.Background()
	k := newTestKeys(t)
	l := newTestLayout(t)
	img := l.image("scanner")
	l.list(img, "registry.example/scanner:1")
	l.classic(k.other, img, img.Digest)
	dir := l.write()

	c := newChecker(t, openDB(t), Config{ReleaseKeys: []crypto.PublicKey{k.p256.Public()}})
	if _, err := c.ImportLayout(ctx, dir, "admin"); !errors.Is(err, ErrSignature) {
		t.Fatalf("before: %v, want ErrSignature", err)
	}
	small, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetReleaseKeys([]crypto.PublicKey{k.other.Public(), small.Public()}); err == nil || !strings.Contains(err.Error(), "release key 1") {
		t.Fatalf("P-224 key: %v", err)
	}
	if _, err := c.ImportLayout(ctx, dir, "admin"); !errors.Is(err, ErrSignature) {
		t.Fatalf("after a refused list: %v, want ErrSignature", err)
	}
	if err := c.SetReleaseKeys([]crypto.PublicKey{k.p256.Public(), k.other.Public(), k.other.Public()}); err != nil {
		t.Fatal(err)
	}
	wantIDs := []string{mustKeyID(t, k.p256.Public()), mustKeyID(t, k.other.Public())}
	if got := c.ReleaseKeyIDs(); !slices.Equal(got, wantIDs) {
		t.Fatalf("ReleaseKeyIDs = %q, want %q", got, wantIDs)
	}
	if _, err := c.ImportLayout(ctx, dir, "admin"); err != nil {
		t.Fatalf("after adding the key: %v", err)
	}
	if err := c.Check(ctx, "t1", img.Digest); err != nil {
		t.Fatalf("imported digest: %v", err)
	}
	if err := c.SetReleaseKeys(nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ImportLayout(ctx, dir, "admin"); err == nil || !strings.Contains(err.Error(), "no release keys") {
		t.Fatalf("with no keys: %v", err)
	}
	if err := c.Check(ctx, "t1", img.Digest); err != nil {
		t.Fatalf("imported digest after the keys went: %v", err)
	}
}

// TestSetReleaseKeysConcurrent swaps keys while imports run (for -race).
func TestSetReleaseKeysConcurrent(t *testing.T) {
	ctx := context.Background()
	k := newTestKeys(t)
	l := newTestLayout(t)
	img := l.image("scanner")
	l.classic(k.p256, img, img.Digest)
	dir := l.write()
	c := newChecker(t, openDB(t), Config{ReleaseKeys: []crypto.PublicKey{k.p256.Public()}})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 50; i++ {
			_, err := c.ImportLayout(ctx, dir, "admin")
			if err != nil && !errors.Is(err, ErrSignature) {
				t.Error(err)
				return
			}
		}
	}()
	for i := 0; i < 50; i++ {
		keys := []crypto.PublicKey{k.p256.Public()}
		if i%2 == 1 {
			keys = []crypto.PublicKey{k.ed.Public()}
		}
		if err := c.SetReleaseKeys(keys); err != nil {
			t.Fatal(err)
		}
		_ = c.ReleaseKeyIDs()
	}
	wg.Wait()
}

func mustKeyID(t *testing.T, pub crypto.PublicKey) string {
	t.Helper()
	id, err := KeyID(pub)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
