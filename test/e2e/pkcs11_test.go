package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/stellad/internal/keys/pkcs11/softhsmtest"
)

// TestPKCS11EndToEnd runs the whole path with both keys inside a SoftHSM2
// token: the ceremony (stellactl key generate in the token), the daemon signing
// and checkpointing through PKCS#11, and offline verification by stellactl and
// cosign.
func TestPKCS11EndToEnd(t *testing.T) {
	requireCosign(t)
	tok := softhsmtest.NewToken(t, "stellad-e2e")
	signingURI := tok.URI("dsse-signing")
	logURI := tok.URI("log-checkpoint")
	dir := t.TempDir()
	for _, uri := range []string{signingURI, logURI} {
		out := mustCtl(t, "", tok.Env, "key", "generate", "--uri", uri)
		if !strings.Contains(out, "pkcs11:") {
			t.Errorf("key generate printed no key URI: %q", out)
		}
	}
	// Generating again refuses to replace the key.
	if _, errs, code := ctl(t, "", tok.Env, "key", "generate", "--uri", signingURI); code != 2 {
		t.Errorf("second key generate: exit %d, want 2\n%s", code, errs)
	}
	listed := mustCtl(t, "", tok.Env, "key", "list", "--uri", tok.TokenURI())
	for _, obj := range []string{"dsse-signing", "log-checkpoint"} {
		if !strings.Contains(listed, obj) {
			t.Errorf("key list of the token does not show %s:\n%s", obj, listed)
		}
	}

	d := startDaemon(t, filepath.Join(dir, "data"), tok.Env, "--signing-key", signingURI, "--log-key", logURI)
	s := signOne(t, d, nil)
	if out, errs, code := ctl(t, "", nil, "attest", "verify", "--bundle", s.bundle, "--trusted-root", s.trustedRoot,
		"--key", s.key, s.artifact); code != 0 {
		t.Fatalf("stellactl attest verify: exit %d\n%s%s", code, out, errs)
	}
	if code, out := cosignVerify(t, s.bundle, s.key, s.trustedRoot, testPredicateType, s.artifact); code != 0 {
		t.Fatalf("cosign verify-blob-attestation: exit %d\n%s", code, out)
	}
	// The public key the daemon reports is the one in the token.
	mustCtl(t, "", tok.Env, "key", "public", "--uri", signingURI, "-o", filepath.Join(dir, "local.pub"))
	if a, b := readFile(t, filepath.Join(dir, "local.pub")), readFile(t, s.key); a != b {
		t.Errorf("the daemon's signing key differs from the token's:\n%s\n%s", a, b)
	}
	if _, errs, code := ctl(t, "", nil, "attest", "verify", "--bundle", s.bundle, "--trusted-root", s.trustedRoot,
		"--key", s.key, s.other); code != 1 {
		t.Errorf("verify against another artifact: exit %d, want 1\n%s", code, errs)
	}
}
