// Package keystest is the conformance suite every key backend of
// internal/keys passes: run it from a backend's tests with Run. It uses real
// keys (files in t.TempDir(), SoftHSM2 tokens), never fakes.
package keystest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stellaops/stellad/internal/keys"
)

// Backend is what Run needs from a key backend.
type Backend struct {
	// Open opens the key a URI names, usually (*keys.Opener).Open.
	Open func(ctx context.Context, uri string) (keys.Key, error)
	// Generate creates a key at a URI, usually (*keys.Opener).Generate.
	Generate func(ctx context.Context, uri string) (keys.Key, error)
	// NewURI returns a URI at which no key exists yet, a different one on
	// every call.
	NewURI func(t *testing.T) string
	// Broken lists URIs that Open must refuse with a message naming the
	// culprit (wrong PIN, missing object, loose file mode...).
	Broken []Broken
}

// Broken is one URI that Open must refuse.
type Broken struct {
	// Name names the subtest.
	Name string
	// URI returns the URI to open; it may create files or tokens first.
	URI func(t *testing.T) string
	// Want lists substrings the error message must contain, such as the file
	// path or the token and object names.
	Want []string
	// WantErr, when set, must match the error with errors.Is.
	WantErr error
}

// Run runs the conformance suite against b: Public is ECDSA P-256, signatures
// are ASN.1 DER that ecdsa.VerifyASN1 accepts, signing is safe from 64
// goroutines, two generated keys differ, Generate then Open gives the same
// public key, Generate refuses an existing key, a missing key is ErrNotFound,
// URIs carry no pin-value, wrong digest sizes are refused, and each Broken URI
// fails with an error naming its culprit.
func Run(t *testing.T, b Backend) {
	t.Helper()
	ctx := context.Background()

	gen := func(t *testing.T) keys.Key {
		t.Helper()
		uri := b.NewURI(t)
		k, err := b.Generate(ctx, uri)
		if err != nil {
			t.Fatalf("Generate(%s): %v", redact(uri), err)
		}
		return k
	}

	t.Run("PublicIsP256", func(t *testing.T) {
		k := gen(t)
		pub, ok := k.Public().(*ecdsa.PublicKey)
		if !ok {
			t.Fatalf("Public() is %T; want *ecdsa.PublicKey", k.Public())
		}
		if pub.Curve != elliptic.P256() {
			t.Fatalf("curve %s; want P-256", pub.Curve.Params().Name)
		}
	})

	t.Run("SignVerifiesASN1", func(t *testing.T) {
		k := gen(t)
		pub := k.Public().(*ecdsa.PublicKey)
		for _, msg := range []string{"", "hello", strings.Repeat("x", 10000)} {
			d := sha256.Sum256([]byte(msg))
			sig, err := k.Sign(nil, d[:], crypto.SHA256)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if !ecdsa.VerifyASN1(pub, d[:], sig) {
				t.Fatalf("signature over %q does not verify as ASN.1 DER (%d bytes, first %x)", trim(msg), len(sig), sig[:min(len(sig), 4)])
			}
			d[0] ^= 1
			if ecdsa.VerifyASN1(pub, d[:], sig) {
				t.Fatal("signature verifies for a different digest")
			}
		}
	})

	t.Run("RefusesWrongDigestSize", func(t *testing.T) {
		k := gen(t)
		if _, err := k.Sign(nil, make([]byte, 20), crypto.SHA256); err == nil {
			t.Fatal("Sign accepted a 20-byte digest with crypto.SHA256")
		}
	})

	t.Run("Concurrent64", func(t *testing.T) {
		k := gen(t)
		pub := k.Public().(*ecdsa.PublicKey)
		const goroutines, each = 64, 20
		var wg sync.WaitGroup
		errs := make(chan error, goroutines)
		for g := range goroutines {
			wg.Go(func() {
				for i := range each {
					d := sha256.Sum256(fmt.Appendf(nil, "%d/%d", g, i))
					sig, err := k.Sign(nil, d[:], crypto.SHA256)
					if err != nil {
						errs <- err
						return
					}
					if !ecdsa.VerifyASN1(pub, d[:], sig) {
						errs <- fmt.Errorf("goroutine %d signature %d does not verify", g, i)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})

	t.Run("TwoKeysDiffer", func(t *testing.T) {
		k1, k2 := gen(t), gen(t)
		p1, p2 := k1.Public().(*ecdsa.PublicKey), k2.Public().(*ecdsa.PublicKey)
		if p1.Equal(p2) {
			t.Fatal("two generated keys have the same public key")
		}
		if k1.URI() == k2.URI() {
			t.Fatalf("two keys share the URI %s", k1.URI())
		}
		d := sha256.Sum256([]byte("m"))
		sig, err := k1.Sign(nil, d[:], crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if ecdsa.VerifyASN1(p2, d[:], sig) {
			t.Fatal("key 1's signature verifies under key 2")
		}
	})

	t.Run("GenerateThenOpen", func(t *testing.T) {
		uri := b.NewURI(t)
		k, err := b.Generate(ctx, uri)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range []string{uri, k.URI()} {
			o, err := b.Open(ctx, u)
			if err != nil {
				t.Fatalf("Open(%s): %v", redact(u), err)
			}
			if !o.Public().(*ecdsa.PublicKey).Equal(k.Public()) {
				t.Fatalf("Open(%s) gives a different public key than Generate", redact(u))
			}
			if o.URI() != k.URI() {
				t.Errorf("URI() after Open %q; after Generate %q", o.URI(), k.URI())
			}
			d := sha256.Sum256([]byte("round trip"))
			sig, err := o.Sign(nil, d[:], crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			if !ecdsa.VerifyASN1(k.Public().(*ecdsa.PublicKey), d[:], sig) {
				t.Fatal("reopened key's signature does not verify under the generated public key")
			}
		}
		if strings.Contains(k.URI(), "pin-value") {
			t.Fatalf("URI() %q contains a pin-value", k.URI())
		}
	})

	t.Run("GenerateRefusesExisting", func(t *testing.T) {
		uri := b.NewURI(t)
		k, err := b.Generate(ctx, uri)
		if err != nil {
			t.Fatal(err)
		}
		_, err = b.Generate(ctx, uri)
		if !errors.Is(err, keys.ErrExists) {
			t.Fatalf("second Generate(%s): %v; want ErrExists", redact(uri), err)
		}
		o, err := b.Open(ctx, uri)
		if err != nil {
			t.Fatal(err)
		}
		if !o.Public().(*ecdsa.PublicKey).Equal(k.Public()) {
			t.Fatal("the refused Generate replaced the key")
		}
	})

	t.Run("OpenMissing", func(t *testing.T) {
		uri := b.NewURI(t)
		_, err := b.Open(ctx, uri)
		if !errors.Is(err, keys.ErrNotFound) {
			t.Fatalf("Open(%s) of a key never generated: %v; want ErrNotFound", redact(uri), err)
		}
	})

	for _, bc := range b.Broken {
		t.Run("Broken/"+bc.Name, func(t *testing.T) {
			uri := bc.URI(t)
			k, err := b.Open(ctx, uri)
			if err == nil {
				t.Fatalf("Open(%s) = %s; want an error", redact(uri), k.URI())
			}
			for _, w := range bc.Want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
			if bc.WantErr != nil && !errors.Is(err, bc.WantErr) {
				t.Errorf("error %v; want errors.Is %v", err, bc.WantErr)
			}
		})
	}
}

func redact(uri string) string {
	if i := strings.Index(uri, "pin-value="); i >= 0 {
		return uri[:i] + "pin-value=REDACTED"
	}
	return uri
}

func trim(s string) string {
	if len(s) > 10 {
		return s[:10] + "..."
	}
	return s
}
