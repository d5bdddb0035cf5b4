package authn

import (
	"testing"

	"github.com/stellaops/stellad/internal/authn/authntest"
)

// TestSetIssuersKeepsCache: tokens of an issuer whose JWKS is unchanged stay
// cached across SetIssuers; those of a changed issuer are dropped.
func TestSetIssuersKeepsCache(t *testing.T) {
	a, auth := fuzzAuthenticator(t)
	other := authntest.NewAuthority(t, "https://other.example")
	other.Now = auth.Now
	if _, err := a.SetIssuers([]Issuer{{URL: auth.URL, JWKS: auth.JWKS()}, {URL: other.URL, JWKS: other.JWKS()}}); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{auth.Token(t, authntest.Claims{X5T: "AAAA"}), other.Token(t, authntest.Claims{X5T: "AAAA"})} {
		if _, _, err := a.verifyToken(tok, fuzzNow); err != nil {
			t.Fatal(err)
		}
	}
	if n := a.tokens.len(); n != 2 {
		t.Fatalf("cached %d tokens, want 2", n)
	}
	// Same documents again: nothing changes, nothing is dropped.
	changed, err := a.SetIssuers([]Issuer{{URL: other.URL, JWKS: other.JWKS()}, {URL: auth.URL, JWKS: auth.JWKS()}})
	if err != nil || len(changed) != 0 || a.tokens.len() != 2 {
		t.Fatalf("same issuers: changed %q, %v, %d cached", changed, err, a.tokens.len())
	}
	// other rotates: its token goes, auth's stays.
	rotated := authntest.NewAuthority(t, other.URL)
	if _, err := a.SetIssuers([]Issuer{{URL: auth.URL, JWKS: auth.JWKS()}, {URL: other.URL, JWKS: rotated.JWKS()}}); err != nil {
		t.Fatal(err)
	}
	if n := a.tokens.len(); n != 1 {
		t.Fatalf("after rotating one issuer, %d cached tokens, want 1", n)
	}
}
