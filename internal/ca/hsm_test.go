//go:build cgo

package ca_test

import (
	"context"
	"testing"
	"time"

	"github.com/stellaops/stellad/internal/ca"
	"github.com/stellaops/stellad/internal/keys"
	"github.com/stellaops/stellad/internal/keys/pkcs11/softhsmtest"
)

// TestSoftHSMKey runs the ceremony and issuance with the CA key inside a real
// SoftHSM2 token, opened through internal/keys as production does.
func TestSoftHSMKey(t *testing.T) {
	tok := softhsmtest.NewToken(t, "ca")
	opener := keys.NewOpener(keys.Config{})
	t.Cleanup(func() { _ = opener.Close() })
	ctx := context.Background()
	if _, err := opener.Generate(ctx, tok.URI("ca-key")); err != nil {
		t.Fatalf("generating the CA key in the token: %v", err)
	}
	// Open it again, as the daemon does at start.
	key, err := opener.Open(ctx, tok.URI("ca-key"))
	if err != nil {
		t.Fatal(err)
	}
	root, err := ca.NewRootCertificate(key, "stellad HSM CA", t0.Add(-time.Hour), 5*365*24*time.Hour, nil)
	if err != nil {
		t.Fatalf("root certificate: %v", err)
	}
	log := newFakeCT(t, fixedClock(t0))
	c, err := ca.New(ca.Config{Signer: key, Certificate: root, CT: log, CTPublicKey: log.public(), Now: fixedClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	tc := &testCA{CA: c, root: root, ct: log}
	for _, id := range []ca.Identity{
		{Subject: "alice@example.org", Email: true, Issuer: "https://authority.example.org"},
		{Subject: "svc-builder", Issuer: "https://authority.example.org"},
	} {
		pub := newP256(t).Public()
		chain, err := c.Issue(ctx, id, pub)
		if err != nil {
			t.Fatalf("Issue with the HSM key: %v", err)
		}
		checkLeaf(t, tc, chain, id, pub)
	}
}
