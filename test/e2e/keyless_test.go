package e2e

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// devIdentity returns the sub and iss claims of d's development token: the
// identity a keyless signature made with it is certified for.
func devIdentity(t *testing.T, d *daemon) (sub, iss string) {
	t.Helper()
	tok := strings.TrimSpace(readFile(t, filepath.Join(d.dataDir, "dev", "token")))
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("development token is not a JWS: %d parts", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct{ Sub, Iss string }
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	if claims.Sub == "" || claims.Iss == "" {
		t.Fatalf("development token without sub or iss: %s", raw)
	}
	return claims.Sub, claims.Iss
}

// TestKeylessSignByAppliance is point 4 of the private Sigstore issue: the
// appliance signs with an ephemeral key certified by its own CA for the
// caller's identity (stellactl attest sign --keyless), and stock cosign
// verifies the bundle offline with --certificate-identity and
// --certificate-oidc-issuer (no key, no --insecure-ignore-sct); another
// identity or issuer fails; the bundle fetched again by uuid is the same
// bytes and verifies too; the log entry's verifier is the certificate; the
// audit row names the certificate.
func TestKeylessSignByAppliance(t *testing.T) {
	requireCosign(t)
	dir := t.TempDir()
	d := startDaemon(t, filepath.Join(dir, "data"), nil)
	sub, iss := devIdentity(t, d)
	artifact := writeFile(t, filepath.Join(dir, "artifact.bin"), []byte("a release signed keyless by the appliance\n"))
	other := writeFile(t, filepath.Join(dir, "other.bin"), []byte("something else\n"))
	pred := writeFile(t, filepath.Join(dir, "predicate.json"), []byte(`{"builder":"e2e keyless"}`))
	const predicateType = "https://slsa.dev/provenance/v1"
	bundlePath := filepath.Join(dir, "keyless.bundle")
	root := filepath.Join(dir, "trusted_root.json")

	// A key-signed entry first, so that the keyless entry's proof has hashes.
	mustCtl(t, d.url, nil, "attest", "sign", "--predicate-type", predicateType, "--predicate", pred, "--subject", other,
		"-o", filepath.Join(dir, "keyed.bundle"))
	out := mustCtl(t, d.url, nil, "attest", "sign", "--keyless", "--predicate-type", predicateType, "--predicate", pred,
		"--subject", artifact, "-o", bundlePath)
	m := regexp.MustCompile(`uuid: ([0-9a-f]{64})`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("stellactl printed no uuid:\n%s", out)
	}
	uuid := m[1]
	mustCtl(t, d.url, nil, "trust-root", "export", "-o", root)

	verify := func(bundle, identity, issuer, subject string) (int, string) {
		return cosignRun(t, dir, nil, "verify-blob-attestation", "--bundle", bundle, "--trusted-root", root,
			"--certificate-identity", identity, "--certificate-oidc-issuer", issuer, "--type", predicateType, subject)
	}
	if code, out := verify(bundlePath, sub, iss, artifact); code != 0 || !strings.Contains(out, "Verified OK") {
		t.Fatalf("cosign verify-blob-attestation of the keyless bundle: exit %d\n%s", code, out)
	}
	for name, args := range map[string][3]string{
		"another identity": {"someone-else", iss, artifact},
		"another issuer":   {sub, "https://other-authority.example", artifact},
		"another artifact": {sub, iss, other},
	} {
		if code, out := verify(bundlePath, args[0], args[1], args[2]); code == 0 {
			t.Errorf("%s: cosign accepted the keyless bundle:\n%s", name, out)
		} else {
			t.Logf("%s: refused as expected: %s", name, tail(strings.TrimSpace(out), 200))
		}
	}

	// What the bundle carries: the certificate, one timestamp, and a log
	// entry whose verifier is that certificate.
	var b struct {
		VerificationMaterial struct {
			Certificate struct {
				RawBytes []byte `json:"rawBytes"`
			} `json:"certificate"`
			TlogEntries []struct {
				CanonicalizedBody []byte `json:"canonicalizedBody"`
			} `json:"tlogEntries"`
			TimestampVerificationData struct {
				RFC3161Timestamps []struct {
					SignedTimestamp []byte `json:"signedTimestamp"`
				} `json:"rfc3161Timestamps"`
			} `json:"timestampVerificationData"`
		} `json:"verificationMaterial"`
	}
	issued, err := os.ReadFile(bundlePath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(issued, &b); err != nil {
		t.Fatal(err)
	}
	vm := b.VerificationMaterial
	if len(vm.Certificate.RawBytes) == 0 || len(vm.TlogEntries) != 1 || len(vm.TimestampVerificationData.RFC3161Timestamps) != 1 {
		t.Fatalf("keyless bundle lacks a certificate, a log entry or a timestamp: %s", issued)
	}
	var body struct {
		Spec struct {
			HashedRekordV002 struct {
				Signature struct {
					Verifier struct {
						X509Certificate *struct {
							RawBytes []byte `json:"rawBytes"`
						} `json:"x509Certificate"`
						PublicKey json.RawMessage `json:"publicKey"`
					} `json:"verifier"`
				} `json:"signature"`
			} `json:"hashedRekordV002"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(vm.TlogEntries[0].CanonicalizedBody, &body); err != nil {
		t.Fatal(err)
	}
	v := body.Spec.HashedRekordV002.Signature.Verifier
	if v.X509Certificate == nil || !bytes.Equal(v.X509Certificate.RawBytes, vm.Certificate.RawBytes) || v.PublicKey != nil {
		t.Fatalf("the log entry's verifier is not the bundle's certificate: %s", vm.TlogEntries[0].CanonicalizedBody)
	}
	cert, err := x509.ParseCertificate(vm.Certificate.RawBytes)
	if err != nil {
		t.Fatal(err)
	}

	// Fetched again by uuid: the same bytes, which verify too.
	fetched := filepath.Join(dir, "fetched.bundle")
	mustCtl(t, d.url, nil, "attest", "fetch", uuid, "-o", fetched)
	if got := readFile(t, fetched); got != string(issued) {
		t.Fatalf("the bundle fetched by uuid differs from the one issued:\n got: %s\nwant: %s", got, issued)
	}
	if code, out := verify(fetched, sub, iss, artifact); code != 0 {
		t.Fatalf("cosign verify-blob-attestation of the fetched bundle: exit %d\n%s", code, out)
	}

	// The audit row names the certificate as the key.
	found := false
	for _, r := range auditRows(t, d, "--all-tenants") {
		if r.Action == "sign" && r.Decision == "allow" && r.UUID == uuid {
			found = true
			if want := "keyless:" + cert.SerialNumber.Text(16); r.KeyURI != want {
				t.Errorf("audit row key uri %q, want %q", r.KeyURI, want)
			}
			if r.Issuer != iss || !strings.HasPrefix(r.Principal, sub) {
				t.Errorf("audit row principal %q issuer %q, want %s, %s", r.Principal, r.Issuer, sub, iss)
			}
		}
	}
	if !found {
		t.Fatalf("no allow row for keyless entry %s", uuid)
	}
}
