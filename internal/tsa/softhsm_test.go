//go:build cgo

package tsa_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/digitorus/timestamp"

	"github.com/stellaops/stellad/internal/keys"
	"github.com/stellaops/stellad/internal/keys/pkcs11/softhsmtest"
	"github.com/stellaops/stellad/internal/tsa"
)

// hsmKeys generates a root and a TSA key in a fresh SoftHSM2 token.
func hsmKeys(t testing.TB) (root, leaf keys.Key) {
	t.Helper()
	tok := softhsmtest.NewToken(t, "tsa")
	o := keys.NewOpener(keys.Config{})
	t.Cleanup(func() { o.Close() })
	ctx := context.Background()
	root, err := o.Generate(ctx, tok.URI("tsa-root"))
	if err != nil {
		t.Fatalf("generating the root key: %v", err)
	}
	leaf, err = o.Generate(ctx, tok.URI("tsa-leaf"))
	if err != nil {
		t.Fatalf("generating the TSA key: %v", err)
	}
	return root, leaf
}

// TestSoftHSM runs the ceremony and answers queries with both keys in a
// SoftHSM2 token, reached only through crypto.Signer (and SignContext).
func TestSoftHSM(t *testing.T) {
	root, leaf := hsmKeys(t)
	chain, err := tsa.NewChain(root, leaf, "stellad HSM TSA", t0, 24*time.Hour, rand.Reader)
	if err != nil {
		t.Fatalf("NewChain with HSM keys: %v", err)
	}
	now := t0.Add(time.Minute)
	ts, err := tsa.New(tsa.Config{Signer: leaf, Chain: chain, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatalf("New with an HSM key: %v", err)
	}
	f := &fixture{tsa: ts, chain: chain, leaf: leaf, now: now, policy: tsa.DefaultPolicy}
	sig := []byte("a signature to timestamp")
	req, err := timestamp.CreateRequest(bytes.NewReader(sig), &timestamp.RequestOptions{Certificates: true})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ts.Respond(context.Background(), req)
	if err != nil {
		t.Fatalf("Respond with an HSM key: %v", err)
	}
	got := verify(t, f, resp, sig, nil)
	want := sha256.Sum256(sig)
	if !bytes.Equal(got.HashedMessage, want[:]) || !got.Time.Equal(now) {
		t.Errorf("token: digest %x, time %s", got.HashedMessage, got.Time)
	}

	// A done context stops Respond before the HSM is asked.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ts.Respond(ctx, req); !errors.Is(err, context.Canceled) {
		t.Errorf("Respond with a cancelled context: %v", err)
	}
}

// BenchmarkRespondSoftHSM measures one answer to cosign's query with the
// TSA key in SoftHSM2.
func BenchmarkRespondSoftHSM(b *testing.B) {
	root, leaf := hsmKeys(b)
	chain, err := tsa.NewChain(root, leaf, "stellad HSM TSA", t0, 24*time.Hour, rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	ts, err := tsa.New(tsa.Config{Signer: leaf, Chain: chain, Now: func() time.Time { return t0.Add(time.Minute) }})
	if err != nil {
		b.Fatal(err)
	}
	req, err := timestamp.CreateRequest(bytes.NewReader([]byte("sig")), nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ts.Respond(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
