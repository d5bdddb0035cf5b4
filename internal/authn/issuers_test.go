package authn_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/stellaops/stellad/internal/authn"
	"github.com/stellaops/stellad/internal/authn/authntest"
)

// bearer authenticates a certificate-bound token of auth (no DPoP proof, so
// the same token may be presented any number of times).
func bearer(t testing.TB, a *authn.Authenticator, leaf *x509.Certificate, tok string) error {
	t.Helper()
	r := httptest.NewRequest("POST", "https://signer.example/x", nil)
	r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf}}
	r.Header.Set("Authorization", "Bearer "+tok)
	_, err := a.Authenticate(r, authn.Requirement{Audience: authn.AudienceSigner, Scope: authn.ScopeSign})
	return err
}

// TestSetIssuers: a token of an Authority added by SetIssuers passes after
// the swap and not before; a token of a key rotated away is refused even
// though it was cached; an issuer removed is refused; a bad list changes
// nothing.
func TestSetIssuers(t *testing.T) {
	f := newFixture(t)
	_, leaf := newPKI(t).client(t, "c")
	x5t := authntest.CertThumbprint(leaf)
	x := authntest.NewAuthority(t, "https://authority-x.example")
	x.Now = f.clock.Now
	next := authntest.NewAuthority(t, issuerURL) // the rotated key of the configured issuer
	next.Now = f.clock.Now
	mine := f.auth.Token(t, authntest.Claims{X5T: x5t})
	xTok := x.Token(t, authntest.Claims{X5T: x5t})
	nextTok := next.Token(t, authntest.Claims{X5T: x5t})

	if err := bearer(t, f.a, leaf, xTok); !errors.Is(err, &authn.Error{Code: authn.CodeWrongIssuer}) {
		t.Fatalf("before SetIssuers, X's token: %v, want %s", err, authn.CodeWrongIssuer)
	}
	if err := bearer(t, f.a, leaf, mine); err != nil { // now cached
		t.Fatalf("configured issuer: %v", err)
	}

	// Add X; the configured issuer's JWKS is unchanged.
	changed, err := f.a.SetIssuers([]authn.Issuer{{URL: issuerURL, JWKS: f.auth.JWKS()}, {URL: x.URL, JWKS: x.JWKS()}})
	if err != nil || !slices.Equal(changed, []string{x.URL}) {
		t.Fatalf("adding X: changed %q, %v", changed, err)
	}
	for name, tok := range map[string]string{"X": xTok, "configured": mine} {
		if err := bearer(t, f.a, leaf, tok); err != nil {
			t.Fatalf("after adding X, %s token: %v", name, err)
		}
	}
	if got := f.a.Issuers(); !slices.Equal(got, []string{x.URL, issuerURL}) {
		t.Fatalf("Issuers() = %q", got)
	}

	// A bad list is refused as a whole and changes nothing.
	for name, bad := range map[string][]authn.Issuer{
		"empty":        nil,
		"bad JWKS":     {{URL: issuerURL, JWKS: next.JWKS()}, {URL: x.URL, JWKS: []byte(`{"keys":[]}`)}},
		"issuer twice": {{URL: x.URL, JWKS: x.JWKS()}, {URL: x.URL, JWKS: x.JWKS()}},
		"no URL":       {{JWKS: x.JWKS()}},
	} {
		if _, err := f.a.SetIssuers(bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := bearer(t, f.a, leaf, mine); err != nil {
		t.Fatalf("after refused lists: %v", err)
	}

	// Rotate the configured issuer to next's key and drop X.
	changed, err = f.a.SetIssuers([]authn.Issuer{{URL: issuerURL, JWKS: next.JWKS()}})
	if err != nil || !slices.Equal(changed, []string{x.URL, issuerURL}) {
		t.Fatalf("rotating: changed %q, %v", changed, err)
	}
	if err := bearer(t, f.a, leaf, nextTok); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	if err := bearer(t, f.a, leaf, mine); !errors.Is(err, &authn.Error{Code: authn.CodeUnknownKID}) {
		t.Fatalf("cached token of the key rotated away: %v, want %s", err, authn.CodeUnknownKID)
	}
	if err := bearer(t, f.a, leaf, xTok); !errors.Is(err, &authn.Error{Code: authn.CodeWrongIssuer}) {
		t.Fatalf("cached token of the removed issuer: %v, want %s", err, authn.CodeWrongIssuer)
	}
}

// TestSetIssuersConcurrent swaps between two sets while requests run (run
// with -race): every answer is either success or the refusal the set in
// force at that moment explains, never anything else.
func TestSetIssuersConcurrent(t *testing.T) {
	f := newFixture(t)
	_, leaf := newPKI(t).client(t, "c")
	x5t := authntest.CertThumbprint(leaf)
	x := authntest.NewAuthority(t, "https://authority-x.example")
	x.Now = f.clock.Now
	toks := []string{f.auth.Token(t, authntest.Claims{X5T: x5t}), x.Token(t, authntest.Claims{X5T: x5t})}
	sets := [][]authn.Issuer{
		{{URL: issuerURL, JWKS: f.auth.JWKS()}},
		{{URL: issuerURL, JWKS: f.auth.JWKS()}, {URL: x.URL, JWKS: x.JWKS()}},
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 8)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				err := bearer(t, f.a, leaf, toks[i%2])
				if i%2 == 0 && err != nil {
					errs <- err // the configured issuer is in both sets
					return
				}
				if err != nil && !errors.Is(err, &authn.Error{Code: authn.CodeWrongIssuer}) {
					errs <- err
					return
				}
			}
		}()
	}
	for i := 0; i < 200; i++ {
		if _, err := f.a.SetIssuers(sets[i%2]); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// The last set (index 1) holds X.
	if err := bearer(t, f.a, leaf, toks[1]); err != nil {
		t.Fatalf("X after the last swap: %v", err)
	}
}
