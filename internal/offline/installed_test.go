package offline

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/stellad/internal/authn/authntest"
	"github.com/stellaops/stellad/kit"
)

func pubPEM(t testing.TB, pub crypto.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func ecKey(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// authoritiesDoc is trust/authorities.json for the given Authorities.
func authoritiesDoc(t testing.TB, as ...*authntest.Authority) []byte {
	t.Helper()
	var list []map[string]any
	for _, a := range as {
		list = append(list, map[string]any{"issuer": a.URL, "jwks": json.RawMessage(a.JWKS())})
	}
	return mustJSON(t, map[string]any{"authorities": list})
}

func issuers(in Installed) []string {
	var out []string
	for _, a := range in.Authorities {
		out = append(out, a.Issuer)
	}
	return out
}

func keyNames(in Installed) []string {
	var out []string
	for _, k := range in.ScannerKeys {
		out = append(out, k.Name)
	}
	return out
}

func compactJSON(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestImportTrust: kits install Authorities (the newest kit's JWKS per
// issuer) and scanner release keys (accumulating; a revocation removes
// one); OnTrustChanged sees each committed state, and InstalledTrust reads
// the same after a restart of the Service.
func TestImportTrust(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	x := authntest.NewAuthority(t, "https://authority-x.example")
	xNext := authntest.NewAuthority(t, x.URL) // X after a key rotation
	y := authntest.NewAuthority(t, "https://authority-y.example")
	s1, s2 := ecKey(t, elliptic.P256()), ecKey(t, elliptic.P384())

	res, err := w.svc.Import(ctx, bytes.NewReader(buildKit(t, "build.example", 1, []kfile{
		{AuthoritiesPath, kit.MediaTypeJWKS, authoritiesDoc(t, x)},
		{"trust/scanner-keys/trivy.pem", kit.MediaTypePublicKey, pubPEM(t, s1.Public())},
	}, w.signers(0, 1)...)), "alice")
	if err != nil {
		t.Fatalf("first kit: %v", err)
	}
	if strings.Join(res.Installed, ",") != "authorities,scanner_keys" || !slices.Equal(res.Authorities, []string{x.URL}) || !slices.Equal(res.ScannerKeys, []string{"trivy"}) {
		t.Fatalf("first result %+v", res)
	}
	if len(w.trust) != 1 || !slices.Equal(issuers(w.trust[0]), []string{x.URL}) || !slices.Equal(keyNames(w.trust[0]), []string{"trivy"}) ||
		!bytes.Equal(w.trust[0].Authorities[0].JWKS, compactJSON(t, x.JWKS())) || w.trust[0].Authorities[0].Sequence != 1 {
		t.Fatalf("hook after the first kit: %+v", w.trust)
	}

	// Second kit: X rotates, Y appears, a second scanner key, and the
	// first one is revoked.
	revs := mustJSON(t, map[string]any{"revocations": []map[string]any{
		{"keyId": mustKeyID(t, s1.Public()), "reason": "scanner signing key leaked", "revokedAt": t0.Format(time.RFC3339)},
	}})
	res, err = w.svc.Import(ctx, bytes.NewReader(buildKit(t, "build.example", 2, []kfile{
		{AuthoritiesPath, kit.MediaTypeJWKS, authoritiesDoc(t, y, xNext)},
		{RevocationsPath, kit.MediaTypeRevocations, revs},
		{"trust/scanner-keys/grype.pem", kit.MediaTypePublicKey, pubPEM(t, s2.Public())},
	}, w.signers(1, 2)...)), "alice")
	if err != nil {
		t.Fatalf("second kit: %v", err)
	}
	if !slices.Equal(res.Authorities, []string{y.URL, x.URL}) || !slices.Equal(res.ScannerKeys, []string{"grype"}) {
		t.Fatalf("second result %+v", res)
	}
	got := w.trust[len(w.trust)-1]
	if len(w.trust) != 2 || !slices.Equal(issuers(got), []string{x.URL, y.URL}) || !bytes.Equal(got.Authorities[0].JWKS, compactJSON(t, xNext.JWKS())) ||
		!slices.Equal(keyNames(got), []string{"grype"}) || !slices.Equal(got.RevokedKeyIDs, []string{mustKeyID(t, s1.Public())}) {
		t.Fatalf("hook after the second kit: %+v", got)
	}

	// The same JWKS again (other whitespace) is not a change; a kit with
	// none of these files does not call the hook.
	res, err = w.svc.Import(ctx, bytes.NewReader(buildKit(t, "build.example", 3, []kfile{
		{AuthoritiesPath, kit.MediaTypeJWKS, []byte(`{ "authorities" : [ {"issuer":"` + y.URL + `", "jwks": ` + string(y.JWKS()) + `} ] }`)},
	}, w.signers(0, 1)...)), "alice")
	if err != nil || len(res.Authorities) != 0 || len(res.Installed) != 0 {
		t.Fatalf("same JWKS again: %+v, %v", res, err)
	}
	n := len(w.trust)
	if _, err := w.svc.Import(ctx, bytes.NewReader(buildKit(t, "build.example", 4, []kfile{{WitnessPolicyPath, kit.MediaTypeWitnessPolicy, w.policy()}}, w.signers(0, 1)...)), "alice"); err != nil {
		t.Fatal(err)
	}
	if len(w.trust) != n {
		t.Fatalf("hook called for a kit without Authorities, scanner keys or revocations")
	}

	// A revoked scanner key cannot come back.
	_, err = w.svc.Import(ctx, bytes.NewReader(buildKit(t, "build.example", 5, []kfile{
		{"trust/scanner-keys/trivy-again.pem", kit.MediaTypePublicKey, pubPEM(t, s1.Public())},
	}, w.signers(0, 1)...)), "alice")
	if !errors.Is(err, ErrRevoked) || !strings.Contains(err.Error(), "trust/scanner-keys/trivy-again.pem") {
		t.Fatalf("revoked scanner key: %v", err)
	}

	// Restart: the same state is read back from the database.
	w.open(t)
	in, err := InstalledTrust(ctx, w.db)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(issuers(in), []string{x.URL, y.URL}) || !slices.Equal(keyNames(in), []string{"grype"}) || in.Authorities[0].Sequence != 2 ||
		!bytes.Equal(in.Authorities[0].JWKS, compactJSON(t, xNext.JWKS())) {
		t.Fatalf("after restart: %+v", in)
	}
	if in2, err := w.svc.Installed(ctx); err != nil || len(in2.Authorities) != 2 {
		t.Fatalf("Service.Installed: %+v %v", in2, err)
	}
}

// TestImportTrustRefusals: a bad authorities file, JWKS or scanner key
// refuses the whole kit, naming the file, and changes nothing (the other
// files of the kit included); the hook is not called.
func TestImportTrustRefusals(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	x := authntest.NewAuthority(t, "https://authority-x.example")
	if _, err := w.svc.Import(ctx, bytes.NewReader(buildKit(t, "build.example", 1, []kfile{
		{AuthoritiesPath, kit.MediaTypeJWKS, authoritiesDoc(t, x)},
	}, w.signers(0, 1)...)), "alice"); err != nil {
		t.Fatal(err)
	}
	good := pubPEM(t, ecKey(t, elliptic.P256()).Public())
	p224 := pubPEM(t, ecKey(t, elliptic.P224()).Public())
	revoked := ecKey(t, elliptic.P256())
	revs := mustJSON(t, map[string]any{"revocations": []map[string]any{
		{"keyId": mustKeyID(t, revoked.Public()), "reason": "gone", "revokedAt": t0.Format(time.RFC3339)},
	}})
	jwks := string(x.JWKS())
	withPolicy := func(files ...kfile) []kfile {
		return append([]kfile{{WitnessPolicyPath, kit.MediaTypeWitnessPolicy, w.policy()}}, files...)
	}
	auth := func(doc string) kfile { return kfile{AuthoritiesPath, kit.MediaTypeJWKS, []byte(doc)} }
	sk := func(name string, data []byte) kfile {
		return kfile{"trust/scanner-keys/" + name, kit.MediaTypePublicKey, data}
	}
	tests := []struct {
		name    string
		files   []kfile
		want    error
		path    string
		mention string
	}{
		{"JWKS without keys", withPolicy(auth(`{"authorities":[{"issuer":"https://a.example","jwks":{"keys":[]}}]}`)), ErrContent, AuthoritiesPath, "no signing keys"},
		{"JWKS with a symmetric key", withPolicy(auth(`{"authorities":[{"issuer":"https://a.example","jwks":{"keys":[{"kty":"oct","kid":"k","k":"c2VjcmV0c2VjcmV0c2VjcmV0"}]}}]}`)), ErrContent, AuthoritiesPath, "not a public key"},
		{"jwks not an object", withPolicy(auth(`{"authorities":[{"issuer":"https://a.example","jwks":"https://a.example/jwks"}]}`)), ErrContent, AuthoritiesPath, "not a JSON object"},
		{"unknown member", withPolicy(auth(`{"authorities":[{"issuer":"https://a.example","jwks":` + jwks + `,"audience":"x"}]}`)), ErrContent, AuthoritiesPath, `unknown member "audience"`},
		{"member name of another case", withPolicy(auth(`{"Authorities":[{"issuer":"https://a.example","jwks":` + jwks + `}]}`)), ErrContent, AuthoritiesPath, `unknown member "Authorities"`},
		{"unknown top-level member", withPolicy(auth(`{"authorities":[],"version":2}`)), ErrContent, AuthoritiesPath, `unknown member "version"`},
		{"duplicate member", withPolicy(auth(`{"authorities":[{"issuer":"https://a.example","issuer":"https://b.example","jwks":` + jwks + `}]}`)), ErrContent, AuthoritiesPath, `duplicate member "issuer"`},
		{"issuer twice", withPolicy(auth(`{"authorities":[{"issuer":"https://a.example","jwks":` + jwks + `},{"issuer":"https://a.example","jwks":` + jwks + `}]}`)), ErrContent, AuthoritiesPath, "listed twice"},
		{"issuer not a URL", withPolicy(auth(`{"authorities":[{"issuer":"authority","jwks":` + jwks + `}]}`)), ErrContent, AuthoritiesPath, "not an absolute http(s) URL"},
		{"no jwks", withPolicy(auth(`{"authorities":[{"issuer":"https://a.example"}]}`)), ErrContent, AuthoritiesPath, "needs issuer and jwks"},
		{"empty list", withPolicy(auth(`{"authorities":[]}`)), ErrContent, AuthoritiesPath, "no \"authorities\""},
		{"trailing data", withPolicy(auth(`{"authorities":[{"issuer":"https://a.example","jwks":` + jwks + `}]} {}`)), ErrContent, AuthoritiesPath, "data after"},
		{"PEM garbage", withPolicy(sk("a.pem", []byte("not a key\n"))), ErrContent, "trust/scanner-keys/a.pem", "PEM block"},
		{"two PEM blocks", withPolicy(sk("a.pem", append(slices.Clone(good), good...))), ErrContent, "trust/scanner-keys/a.pem", "exactly one PEM block"},
		{"private key block", withPolicy(sk("a.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}}))), ErrContent, "trust/scanner-keys/a.pem", "want PUBLIC KEY"},
		{"P-224 key", withPolicy(sk("a.pem", p224)), ErrContent, "trust/scanner-keys/a.pem", "P-224"},
		{"nested path", withPolicy(sk("vendor/a.pem", good)), ErrContent, "trust/scanner-keys/vendor/a.pem", "NAME.pem"},
		{"not .pem", withPolicy(sk("a.pub", good)), ErrContent, "trust/scanner-keys/a.pub", "NAME.pem"},
		{"same key twice", withPolicy(sk("a.pem", good), sk("b.pem", good)), ErrContent, "trust/scanner-keys/b.pem", "same key as trust/scanner-keys/a.pem"},
		{"revoked in the same kit", withPolicy(kfile{RevocationsPath, kit.MediaTypeRevocations, revs}, sk("r.pem", pubPEM(t, revoked.Public()))), ErrRevoked, "trust/scanner-keys/r.pem", "revoked scanner release key"},
	}
	before := dump(t, w.db)
	calls := len(w.trust)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := buildKit(t, "build.example", uint64(2+i), tc.files, w.signers(0, 1)...)
			_, err := w.svc.Import(ctx, bytes.NewReader(k), "alice")
			if !errors.Is(err, ErrRefused) || !errors.Is(err, tc.want) {
				t.Fatalf("Import: %v, want %v", err, tc.want)
			}
			var re *RefusedError
			if !errors.As(err, &re) || re.Path != tc.path || !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("refusal %v: want path %s and %q", err, tc.path, tc.mention)
			}
			if after := dump(t, w.db); after != before {
				t.Fatalf("state changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
			if len(w.trust) != calls {
				t.Fatal("OnTrustChanged called for a refused kit")
			}
		})
	}
}

// TestImportTrustNotConfigured: without CheckJWKS and CheckReleaseKey a
// Service refuses kits that carry Authorities or scanner keys.
func TestImportTrustNotConfigured(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	svc, err := New(ctx, Config{DB: w.db, DataDir: w.dir, KitKeys: []crypto.PublicKey{w.kitKeys[0].Public()}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	x := authntest.NewAuthority(t, "https://authority-x.example")
	for i, f := range []kfile{
		{AuthoritiesPath, kit.MediaTypeJWKS, authoritiesDoc(t, x)},
		{"trust/scanner-keys/a.pem", kit.MediaTypePublicKey, pubPEM(t, ecKey(t, elliptic.P256()).Public())},
	} {
		_, err := svc.Import(ctx, bytes.NewReader(buildKit(t, "build.example", uint64(i+1), []kfile{f}, w.kitKeys[0])), "alice")
		if !errors.Is(err, ErrContent) || !strings.Contains(err.Error(), "does not install") {
			t.Errorf("%s: %v", f.path, err)
		}
	}
}
