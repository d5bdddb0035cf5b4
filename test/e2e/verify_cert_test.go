package e2e

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/stellad/internal/authn/authntest"
)

// stellactl attest verify checks certificate (keyless) bundles offline with
// --certificate-identity and --certificate-oidc-issuer, as cosign does: here
// on bundles the appliance makes keyless and on bundles stock cosign makes
// keyless against the appliance.

// tamperEnvelope writes a copy of the bundle at path with one byte of its
// DSSE envelope's payload (field "payload") or signature ("sig") changed.
func tamperEnvelope(t *testing.T, path, field string) string {
	t.Helper()
	var b map[string]any
	if err := json.Unmarshal([]byte(readFile(t, path)), &b); err != nil {
		t.Fatal(err)
	}
	env := b["dsseEnvelope"].(map[string]any)
	holder := env
	if field == "sig" {
		holder = env["signatures"].([]any)[0].(map[string]any)
	}
	raw, err := base64.StdEncoding.DecodeString(holder[field].(string))
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/2] ^= 0x01
	holder[field] = base64.StdEncoding.EncodeToString(raw)
	out, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, strings.TrimSuffix(path, filepath.Ext(path))+"-tampered-"+field+".bundle", out)
}

// bundleCertificate returns the leaf certificate of a keyless bundle.
func bundleCertificate(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	var b struct {
		VerificationMaterial struct {
			Certificate struct {
				RawBytes []byte `json:"rawBytes"`
			} `json:"certificate"`
		} `json:"verificationMaterial"`
	}
	if err := json.Unmarshal([]byte(readFile(t, path)), &b); err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(b.VerificationMaterial.Certificate.RawBytes)
	if err != nil {
		t.Fatalf("%s: certificate: %v", path, err)
	}
	return c
}

// checkStellactlVerifiesKeyless runs stellactl attest verify on a keyless
// bundle offline (no daemon URL): it verifies for identity/issuer and the
// artifact, and exits 1 naming the check for another identity, another
// issuer, another artifact and a changed byte of the envelope.
func checkStellactlVerifiesKeyless(t *testing.T, bundle, root, identity, issuer, predicateType, artifact, other string) {
	t.Helper()
	verify := func(bundle, identity, issuer, subject string, extra ...string) (string, string, int) {
		args := append([]string{"attest", "verify", "--bundle", bundle, "--trusted-root", root,
			"--certificate-identity", identity, "--certificate-oidc-issuer", issuer, "--predicate-type", predicateType}, extra...)
		return ctl(t, "", nil, append(args, subject)...)
	}
	out, errs, code := verify(bundle, identity, issuer, artifact)
	if code != 0 || !strings.Contains(out, "Verified OK") || !strings.Contains(out, "identity: "+identity) || !strings.Contains(out, "issuer: "+issuer) {
		t.Fatalf("stellactl attest verify of %s: exit %d\nstdout: %s\nstderr: %s", bundle, code, out, errs)
	}
	cert := bundleCertificate(t, bundle)
	out, errs, code = verify(bundle, identity, issuer, artifact, "--json")
	var js struct {
		Identity, Issuer, CertificateSerial string
		LogIndex                            uint64
	}
	if err := json.Unmarshal([]byte(out), &js); code != 0 || err != nil {
		t.Fatalf("stellactl attest verify --json: exit %d, %v\nstdout: %s\nstderr: %s", code, err, out, errs)
	}
	if js.Identity != identity || js.Issuer != issuer || js.CertificateSerial != cert.SerialNumber.Text(16) {
		t.Fatalf("--json: %s; want identity %s, issuer %s, serial %s", out, identity, issuer, cert.SerialNumber.Text(16))
	}

	for _, tc := range []struct {
		name, bundle, identity, issuer, subject, want string
	}{
		{"another identity", bundle, "someone-else@builds.example", issuer, artifact, "identity:"},
		{"another issuer", bundle, identity, "https://other-authority.example", artifact, "issuer:"},
		{"another artifact", bundle, identity, issuer, other, "subject:"},
		{"changed payload byte", tamperEnvelope(t, bundle, "payload"), identity, issuer, artifact, "inclusion:"},
		{"changed signature byte", tamperEnvelope(t, bundle, "sig"), identity, issuer, artifact, "inclusion:"},
	} {
		out, errs, code := verify(tc.bundle, tc.identity, tc.issuer, tc.subject)
		if code != 1 || !strings.Contains(errs, tc.want) {
			t.Errorf("%s: exit %d, want 1 with %q\nstdout: %s\nstderr: %s", tc.name, code, tc.want, out, errs)
			continue
		}
		t.Logf("%s: refused as expected: %s", tc.name, tail(strings.TrimSpace(errs), 200))
	}
}

// TestStellactlVerifiesApplianceKeyless: a bundle the appliance signs keyless
// (stellactl attest sign --keyless) verifies with stellactl for the caller's
// identity and the development Authority's issuer; a key bundle given
// --certificate-identity is a usage error (exit 2), as is the keyless bundle
// given --key.
func TestStellactlVerifiesApplianceKeyless(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, filepath.Join(dir, "data"), nil)
	sub, iss := devIdentity(t, d)
	artifact := writeFile(t, filepath.Join(dir, "artifact.bin"), []byte("a release signed keyless by the appliance\n"))
	other := writeFile(t, filepath.Join(dir, "other.bin"), []byte("something else\n"))
	pred := writeFile(t, filepath.Join(dir, "predicate.json"), []byte(`{"builder":"e2e verify keyless"}`))
	const predicateType = "https://slsa.dev/provenance/v1"
	keyed, keyless := filepath.Join(dir, "keyed.bundle"), filepath.Join(dir, "keyless.bundle")
	root := filepath.Join(dir, "trusted_root.json")

	mustCtl(t, d.url, nil, "attest", "sign", "--predicate-type", predicateType, "--predicate", pred, "--subject", other, "-o", keyed)
	mustCtl(t, d.url, nil, "attest", "sign", "--keyless", "--predicate-type", predicateType, "--predicate", pred, "--subject", artifact, "-o", keyless)
	mustCtl(t, d.url, nil, "trust-root", "export", "-o", root)

	checkStellactlVerifiesKeyless(t, keyless, root, sub, iss, predicateType, artifact, other)

	out, errs, code := ctl(t, "", nil, "attest", "verify", "--bundle", keyed, "--trusted-root", root,
		"--certificate-identity", sub, "--certificate-oidc-issuer", iss, other)
	if code != 2 || !strings.Contains(errs, "--certificate-identity") {
		t.Fatalf("key bundle with --certificate-identity: exit %d, want 2 naming the flag\nstdout: %s\nstderr: %s", code, out, errs)
	}
	out, errs, code = ctl(t, "", nil, "attest", "verify", "--bundle", keyless, "--trusted-root", root, "--key", root, artifact)
	if code != 2 || !strings.Contains(errs, "--key") {
		t.Fatalf("keyless bundle with --key: exit %d, want 2 naming the flag\nstdout: %s\nstderr: %s", code, out, errs)
	}
}

// TestStellactlVerifiesCosignKeyless: a bundle stock cosign makes keyless
// against the appliance (certificate from its CA for an identity token of
// the site's Authority, timestamp from its TSA, entry in its log) verifies
// with stellactl for the token's email and issuer.
func TestStellactlVerifiesCosignKeyless(t *testing.T) {
	dir := t.TempDir()
	tr := newTrust(t, dir)
	d := startDaemon(t, filepath.Join(dir, "data"), nil, tr.flags()...)
	sc, root := sigstoreFiles(t, d, dir)
	artifact := writeFile(t, filepath.Join(dir, "artifact.txt"), []byte("a release built in the sealed network\n"))
	other := writeFile(t, filepath.Join(dir, "other.txt"), []byte("something else\n"))
	writeFile(t, filepath.Join(dir, "predicate.json"), []byte(`{"builder":"e2e"}`))
	const predicateType = "https://slsa.dev/provenance/v1"
	const identity = "release-bot@builds.example"
	token := writeFile(t, filepath.Join(dir, "id-token"), []byte(tr.auth.Token(t, authntest.Claims{Typ: "JWT", Alg: authntest.RS256,
		Audience: []string{"sigstore"}, Subject: "bot-42", ClientID: authntest.Omit, Scope: authntest.Omit,
		Extra: map[string]any{"email": identity, "email_verified": true}})))

	code, out := cosignRun(t, dir, nil, "attest-blob", "--signing-config", sc, "--trusted-root", root, "--identity-token", token,
		"--bundle", "keyless.bundle", "--predicate", "predicate.json", "--type", predicateType, "--yes", "artifact.txt")
	if code != 0 {
		t.Fatalf("cosign attest-blob (keyless): exit %d\n%s", code, out)
	}
	checkStellactlVerifiesKeyless(t, filepath.Join(dir, "keyless.bundle"), root, identity, testIssuer, predicateType, artifact, other)
}
