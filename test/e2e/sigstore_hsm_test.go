package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/stellad/internal/authn/authntest"
	"github.com/stellaops/stellad/internal/keys/pkcs11/softhsmtest"
)

// TestSigstoreCeremonyHSM runs the key ceremony of docs/runbooks/key-ceremony.md
// (steps 5-7) against a SoftHSM2 token: the CA, CT log, TSA and TSA root keys
// are generated in the token, `stellad sigstore init` certifies them, the
// daemon runs its CA, CT log and TSA on the token's keys, and stock cosign
// signs keyless and verifies offline. The ceremony never replaces a
// certificate.
func TestSigstoreCeremonyHSM(t *testing.T) {
	requireCosign(t)
	tok := softhsmtest.NewToken(t, "stellad-sigstore")
	dir := t.TempDir()
	uris := map[string]string{}
	for _, o := range []string{"ca", "ct-log", "tsa", "tsa-root"} {
		uris[o] = tok.URI(o)
		mustCtl(t, "", tok.Env, "key", "generate", "--uri", uris[o])
	}
	certs := filepath.Join(dir, "sigstore")
	if err := os.MkdirAll(certs, 0o755); err != nil {
		t.Fatal(err)
	}
	ceremony := func() (int, string) {
		cmd := exec.Command(stelladBin, "sigstore", "init", "--name", "Site 7", "--out-dir", certs,
			"--ca-key", uris["ca"], "--tsa-key", uris["tsa"], "--tsa-root-key", uris["tsa-root"])
		cmd.Env = append(os.Environ(), tok.Env...)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		} else if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}
	if code, out := ceremony(); code != 0 || !strings.Contains(out, "Site 7 CA") || !strings.Contains(out, "Site 7 TSA") {
		t.Fatalf("stellad sigstore init: exit %d\n%s", code, out)
	}
	caPEM := readFile(t, filepath.Join(certs, "ca.pem"))
	if code, out := ceremony(); code != 2 || !strings.Contains(out, "never replaces") {
		t.Fatalf("second ceremony: exit %d, want 2\n%s", code, out)
	}
	if readFile(t, filepath.Join(certs, "ca.pem")) != caPEM {
		t.Fatal("the second ceremony changed ca.pem")
	}

	tr := newTrust(t, dir)
	d := startDaemon(t, filepath.Join(dir, "data"), tok.Env, append(tr.flags(),
		"--ca-key", uris["ca"], "--ca-cert", filepath.Join(certs, "ca.pem"), "--ct-key", uris["ct-log"],
		"--tsa-key", uris["tsa"], "--tsa-chain", filepath.Join(certs, "tsa-chain.pem"))...)
	sc, root := sigstoreFiles(t, d, dir)
	if !strings.Contains(readFile(t, root), `"commonName":"Site 7 CA"`) {
		t.Fatalf("the trusted root does not list the ceremony's CA:\n%s", readFile(t, root))
	}
	writeFile(t, filepath.Join(dir, "artifact.txt"), []byte("signed with HSM-held Sigstore keys\n"))
	writeFile(t, filepath.Join(dir, "predicate.json"), []byte(`{"hsm":true}`))
	const identity = "hsm-bot@builds.example"
	token := writeFile(t, filepath.Join(dir, "id-token"), []byte(tr.auth.Token(t, authntest.Claims{Typ: "JWT", Alg: authntest.RS256,
		Audience: []string{"sigstore"}, ClientID: authntest.Omit, Scope: authntest.Omit,
		Extra: map[string]any{"email": identity, "email_verified": true}})))
	code, out := cosignRun(t, dir, nil, "attest-blob", "--signing-config", sc, "--trusted-root", root, "--identity-token", token,
		"--bundle", "hsm.bundle", "--predicate", "predicate.json", "--type", testPredicateType, "--yes", "artifact.txt")
	if code != 0 {
		t.Fatalf("cosign attest-blob (keyless, HSM keys): exit %d\n%s", code, out)
	}
	code, out = cosignRun(t, dir, nil, "verify-blob-attestation", "--bundle", "hsm.bundle", "--trusted-root", root,
		"--certificate-identity", identity, "--certificate-oidc-issuer", testIssuer, "--type", testPredicateType, "artifact.txt")
	if code != 0 || !strings.Contains(out, "Verified OK") {
		t.Fatalf("cosign verify-blob-attestation: exit %d\n%s", code, out)
	}
}
