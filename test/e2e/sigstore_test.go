package e2e

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/stellad/internal/authn/authntest"
)

// The Sigstore tests drive stock cosign v3.1.3 against a running stellad:
// cosign writes to the appliance's Rekor v2 write API with the signing config
// stellactl exports, and verifies offline with the trusted root it exports.

// cosignRun runs cosign with a throw-away HOME (no TUF cache, no network) in
// dir and returns its exit code and combined output.
func cosignRun(t *testing.T, dir string, env []string, args ...string) (int, string) {
	t.Helper()
	home := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, requireCosign(t), args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "HOME="+home, "TUF_ROOT="+filepath.Join(home, "tuf"), "SIGSTORE_NO_CACHE=true", "COSIGN_PASSWORD="), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("running cosign %v: %v", args, err)
		}
		return ee.ExitCode(), string(out)
	}
	return 0, string(out)
}

// sigstoreFiles exports the daemon's signing config and trusted root into dir.
func sigstoreFiles(t *testing.T, d *daemon, dir string) (signingConfig, trustedRoot string) {
	t.Helper()
	signingConfig, trustedRoot = filepath.Join(dir, "signing_config.json"), filepath.Join(dir, "trusted_root.json")
	mustCtl(t, d.url, nil, "signing-config", "export", "-o", signingConfig)
	mustCtl(t, d.url, nil, "trust-root", "export", "-o", trustedRoot)
	return signingConfig, trustedRoot
}

// TestCosignLogsToAppliance is Done-when (a) of the private Sigstore issue:
// cosign attest-blob with a key logs into stellad through the Rekor v2 write
// API, and cosign verify-blob-attestation of the bundle succeeds offline; it
// fails for another artifact.
func TestCosignLogsToAppliance(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, filepath.Join(dir, "data"), nil)
	sc, tr := sigstoreFiles(t, d, dir)
	if code, out := cosignRun(t, dir, nil, "generate-key-pair"); code != 0 {
		t.Fatalf("cosign generate-key-pair: %d %s", code, out)
	}
	writeFile(t, filepath.Join(dir, "artifact.txt"), []byte("an artifact built in the sealed network\n"))
	writeFile(t, filepath.Join(dir, "other.txt"), []byte("something else\n"))
	writeFile(t, filepath.Join(dir, "predicate.json"), []byte(`{"scanner":"e2e","findings":0}`))
	const predicateType = "https://stellaops.dev/attestations/e2e/v1"

	code, out := cosignRun(t, dir, nil, "attest-blob", "--key", "cosign.key", "--signing-config", sc, "--trusted-root", tr,
		"--bundle", "artifact.bundle", "--predicate", "predicate.json", "--type", predicateType, "--yes", "artifact.txt")
	if code != 0 {
		t.Fatalf("cosign attest-blob: exit %d\n%s", code, out)
	}
	var b struct {
		VerificationMaterial struct {
			TlogEntries []struct {
				LogIndex    string `json:"logIndex"`
				KindVersion struct{ Kind, Version string }
			} `json:"tlogEntries"`
		} `json:"verificationMaterial"`
	}
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(dir, "artifact.bundle"))), &b); err != nil {
		t.Fatal(err)
	}
	if es := b.VerificationMaterial.TlogEntries; len(es) != 1 || es[0].KindVersion.Kind != "hashedrekord" || es[0].KindVersion.Version != "0.0.2" {
		t.Fatalf("bundle's log entries: %+v", es)
	}
	code, out = cosignRun(t, dir, nil, "verify-blob-attestation", "--bundle", "artifact.bundle", "--key", "cosign.pub",
		"--trusted-root", tr, "--type", predicateType, "artifact.txt")
	if code != 0 || !strings.Contains(out, "Verified OK") {
		t.Fatalf("cosign verify-blob-attestation: exit %d\n%s", code, out)
	}
	code, out = cosignRun(t, dir, nil, "verify-blob-attestation", "--bundle", "artifact.bundle", "--key", "cosign.pub",
		"--trusted-root", tr, "--type", predicateType, "other.txt")
	if code == 0 {
		t.Fatalf("cosign verified the bundle against another artifact:\n%s", out)
	}
	// The write is audited as the open writer of development mode.
	rows := auditRows(t, d, "--all-tenants")
	found := false
	for _, r := range rows {
		if r.Action == "log.write" && r.Decision == "allow" && strings.HasPrefix(r.Principal, "source:127.0.0.1") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no allow row for the log write among %d audit rows", len(rows))
	}
}

// hashedRekordRequest is a Rekor v2 create-entry request for a fresh
// artifact, signed with k (sig overrides the signature when set).
func hashedRekordRequest(t *testing.T, k *ecdsa.PrivateKey, artifact []byte, sig []byte) []byte {
	t.Helper()
	d := sha256.Sum256(artifact)
	if sig == nil {
		var err error
		if sig, err = k.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
			t.Fatal(err)
		}
	}
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.StdEncoding.EncodeToString
	return []byte(fmt.Sprintf(`{"hashedRekordRequestV002":{"digest":%q,"signature":{"content":%q,"verifier":{"publicKey":{"rawBytes":%q},"keyDetails":"PKIX_ECDSA_P256_SHA_256"}}}}`,
		enc(d[:]), enc(sig), enc(der)))
}

// TestLogWriteAPI checks the write API's own promises: an identical request
// is answered with the entry logged before (no second leaf), a signature
// that does not verify is refused with 400 naming it, and a listener in
// token mode refuses writers without an access token.
func TestLogWriteAPI(t *testing.T) {
	dir := t.TempDir()
	// No audit anchors during the test: every leaf is one of its writes.
	d := startDaemon(t, filepath.Join(dir, "data"), nil, "--audit-anchor-interval", "1h")
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	write := func(body []byte) (response, uint64) {
		t.Helper()
		r := send(t, nil, newRequest(t, http.MethodPost, d.url+"/api/v2/log/entries", body))
		var e struct {
			LogIndex string `json:"logIndex"`
		}
		if r.status != http.StatusCreated {
			return r, 0
		}
		if err := json.Unmarshal(r.body, &e); err != nil {
			t.Fatalf("write answer %s: %v", r, err)
		}
		i, err := strconv.ParseUint(e.LogIndex, 10, 64)
		if err != nil {
			t.Fatalf("write answer %s: logIndex: %v", r, err)
		}
		return r, i
	}
	req := hashedRekordRequest(t, k, []byte("artifact one"), nil)
	first, i1 := write(req)
	if first.status != http.StatusCreated {
		t.Fatalf("first write: %s", first)
	}
	again, i2 := write(req)
	if again.status != http.StatusCreated || again.header.Get("Stellad-Existing-Entry") != "true" || i2 != i1 {
		t.Fatalf("identical write: %s (existing header %q), index %d, first %d", again, again.header.Get("Stellad-Existing-Entry"), i2, i1)
	}
	bad, _ := write(hashedRekordRequest(t, k, []byte("artifact two"), []byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01}))
	if bad.status != http.StatusBadRequest || !strings.Contains(string(bad.body), "signature does not verify") {
		t.Fatalf("bad signature: %s", bad)
	}
	if r, _ := write([]byte(`{"dsseRequestV002":{}}`)); r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "dsseRequestV002") {
		t.Fatalf("dsse request: %s", r)
	}
	// Neither the duplicate nor the refusals took a leaf: the next write is the next index.
	if r, i3 := write(hashedRekordRequest(t, k, []byte("artifact three"), nil)); r.status != http.StatusCreated || i3 != i1+1 {
		t.Fatalf("next write: %s at index %d, want %d", r, i3, i1+1)
	}

	tokenOnly := startDaemon(t, filepath.Join(dir, "data2"), nil, "--log-write", "token")
	r := send(t, nil, newRequest(t, http.MethodPost, tokenOnly.url+"/api/v2/log/entries", req))
	if r.status != http.StatusUnauthorized || r.errorCode() != "auth_missing" {
		t.Fatalf("anonymous write in token mode: %s", r)
	}
}

// TestCosignKeyless is Done-when (b) of the private Sigstore issue: cosign
// gets a certificate from the appliance's CA with an identity token from the
// site's Authority, a timestamp from its TSA and an entry in its log, and
// cosign verify-blob-attestation with --certificate-identity and
// --certificate-oidc-issuer succeeds offline without --insecure-ignore-sct;
// another identity or issuer fails, and so does a token the CA must not
// accept.
func TestCosignKeyless(t *testing.T) {
	dir := t.TempDir()
	tr := newTrust(t, dir)
	d := startDaemon(t, filepath.Join(dir, "data"), nil, tr.flags()...)
	sc, root := sigstoreFiles(t, d, dir)
	writeFile(t, filepath.Join(dir, "artifact.txt"), []byte("a release built in the sealed network\n"))
	writeFile(t, filepath.Join(dir, "predicate.json"), []byte(`{"builder":"e2e"}`))
	const predicateType = "https://slsa.dev/provenance/v1"
	const identity = "release-bot@builds.example"
	idToken := func(name string, c authntest.Claims) string {
		return writeFile(t, filepath.Join(dir, name), []byte(tr.auth.Token(t, c)))
	}
	good := idToken("id-token", authntest.Claims{Typ: "JWT", Alg: authntest.RS256, Audience: []string{"sigstore"}, Subject: "bot-42",
		ClientID: authntest.Omit, Scope: authntest.Omit, Extra: map[string]any{"email": identity, "email_verified": true}})

	code, out := cosignRun(t, dir, nil, "attest-blob", "--signing-config", sc, "--trusted-root", root, "--identity-token", good,
		"--bundle", "keyless.bundle", "--predicate", "predicate.json", "--type", predicateType, "--yes", "artifact.txt")
	if code != 0 {
		t.Fatalf("cosign attest-blob (keyless): exit %d\n%s", code, out)
	}
	var b struct {
		VerificationMaterial struct {
			Certificate               *struct{ RawBytes string } `json:"certificate"`
			TlogEntries               []json.RawMessage          `json:"tlogEntries"`
			TimestampVerificationData struct {
				RFC3161Timestamps []json.RawMessage `json:"rfc3161Timestamps"`
			} `json:"timestampVerificationData"`
		} `json:"verificationMaterial"`
	}
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(dir, "keyless.bundle"))), &b); err != nil {
		t.Fatal(err)
	}
	vm := b.VerificationMaterial
	if vm.Certificate == nil || len(vm.TlogEntries) != 1 || len(vm.TimestampVerificationData.RFC3161Timestamps) != 1 {
		t.Fatalf("keyless bundle lacks a certificate, a log entry or a timestamp: %s", readFile(t, filepath.Join(dir, "keyless.bundle")))
	}
	verify := func(identity, issuer string) (int, string) {
		return cosignRun(t, dir, nil, "verify-blob-attestation", "--bundle", "keyless.bundle", "--trusted-root", root,
			"--certificate-identity", identity, "--certificate-oidc-issuer", issuer, "--type", predicateType, "artifact.txt")
	}
	if code, out := verify(identity, testIssuer); code != 0 || !strings.Contains(out, "Verified OK") {
		t.Fatalf("cosign verify-blob-attestation (keyless): exit %d\n%s", code, out)
	}
	m := send(t, nil, newRequest(t, http.MethodGet, d.url+"/metrics", nil))
	if !strings.Contains(string(m.body), `stellad_timestamps_total{outcome="granted"} 1`) ||
		!strings.Contains(string(m.body), `stellad_decisions_total{action="cert.issue",decision="allow",reason=""} 1`) {
		t.Errorf("/metrics does not count the timestamp and the certificate:\n%s", m.body)
	}
	if code, out := verify("someone-else@builds.example", testIssuer); code == 0 {
		t.Fatalf("cosign accepted another identity:\n%s", out)
	}
	if code, out := verify(identity, "https://other-authority.example"); code == 0 {
		t.Fatalf("cosign accepted another issuer:\n%s", out)
	}

	// The CA refuses tokens that are not identity tokens for it (cosign
	// itself refuses an email that is not verified before it asks).
	for name, tc := range map[string]struct {
		claims authntest.Claims
		want   string
	}{
		"wrong-aud":  {authntest.Claims{Typ: "JWT", Alg: authntest.RS256, Audience: []string{"signer"}, ClientID: authntest.Omit, Scope: authntest.Omit}, "auth_wrong_audience"},
		"access":     {authntest.Claims{Alg: authntest.RS256, Audience: []string{"sigstore"}}, "auth_malformed"},
		"unverified": {authntest.Claims{Typ: "JWT", Alg: authntest.RS256, Audience: []string{"sigstore"}, ClientID: authntest.Omit, Scope: authntest.Omit, Extra: map[string]any{"email": identity}}, "not verified"},
	} {
		code, out := cosignRun(t, dir, nil, "attest-blob", "--signing-config", sc, "--trusted-root", root, "--identity-token", idToken(name, tc.claims),
			"--bundle", name+".bundle", "--predicate", "predicate.json", "--type", predicateType, "--yes", "artifact.txt")
		if code == 0 || !strings.Contains(out, tc.want) {
			t.Errorf("token %s: cosign exit %d, want a refusal naming %q\n%s", name, code, tc.want, out)
		}
	}
	// Every issuance and refusal is audited under the token's identity.
	issued := 0
	for _, r := range auditRows(t, d, "--all-tenants") {
		if r.Action == "cert.issue" && r.Decision == "allow" && r.Principal == identity && r.Issuer == testIssuer {
			issued++
		}
	}
	if issued != 1 {
		t.Fatalf("%d audited issuances for %s, want 1", issued, identity)
	}
}

// TestSigstoreRotation rotates the CA, CT log and TSA keys of a daemon
// between two keyless signatures: the trusted root then lists the retired
// authorities with the time they were replaced, never rewritten, so the
// bundle made before the rotation still verifies with the new trusted root,
// and so does one made after. A restart without a change leaves the trusted
// root byte-identical.
func TestSigstoreRotation(t *testing.T) {
	dir := t.TempDir()
	tr := newTrust(t, dir)
	data := filepath.Join(dir, "data")
	d := startDaemon(t, data, nil, tr.flags()...)
	writeFile(t, filepath.Join(dir, "artifact.txt"), []byte("before and after a rotation\n"))
	writeFile(t, filepath.Join(dir, "predicate.json"), []byte(`{"rotation":true}`))
	const identity = "rotation-bot@builds.example"
	token := writeFile(t, filepath.Join(dir, "id-token"), []byte(tr.auth.Token(t, authntest.Claims{Typ: "JWT", Alg: authntest.RS256,
		Audience: []string{"sigstore"}, ClientID: authntest.Omit, Scope: authntest.Omit, ExpiresAt: time.Now().Add(time.Hour),
		Extra: map[string]any{"email": identity, "email_verified": true}})))
	sign := func(name string) {
		t.Helper()
		sub := filepath.Join(dir, name)
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		sc, root := sigstoreFiles(t, d, sub)
		code, out := cosignRun(t, dir, nil, "attest-blob", "--signing-config", sc, "--trusted-root", root, "--identity-token", token,
			"--bundle", filepath.Join(sub, "bundle.json"), "--predicate", "predicate.json", "--type", testPredicateType, "--yes", "artifact.txt")
		if code != 0 {
			t.Fatalf("cosign attest-blob (%s): exit %d\n%s", name, code, out)
		}
	}
	verify := func(bundle, root string) {
		t.Helper()
		code, out := cosignRun(t, dir, nil, "verify-blob-attestation", "--bundle", bundle, "--trusted-root", root,
			"--certificate-identity", identity, "--certificate-oidc-issuer", testIssuer, "--type", testPredicateType, "artifact.txt")
		if code != 0 || !strings.Contains(out, "Verified OK") {
			t.Fatalf("cosign verify-blob-attestation %s with %s: exit %d\n%s", bundle, root, code, out)
		}
	}
	sign("before")

	d.stop()
	for _, f := range []string{"keys/ca.pem", "sigstore/ca.pem", "keys/ct.pem", "keys/tsa.pem", "keys/tsa-root.pem", "sigstore/tsa-chain.pem"} {
		if err := os.Remove(filepath.Join(data, f)); err != nil {
			t.Fatal(err)
		}
	}
	d.start() // development mode makes new keys and certificates
	sign("after")
	root := filepath.Join(dir, "after", "trusted_root.json")
	var got struct {
		CertificateAuthorities []struct{ ValidFor struct{ Start, End string } } `json:"certificateAuthorities"`
		Ctlogs                 []struct {
			PublicKey struct{ ValidFor struct{ Start, End string } } `json:"publicKey"`
		} `json:"ctlogs"`
		TimestampAuthorities []struct{ ValidFor struct{ Start, End string } } `json:"timestampAuthorities"`
	}
	if err := json.Unmarshal([]byte(readFile(t, root)), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.CertificateAuthorities) != 2 || got.CertificateAuthorities[0].ValidFor.End == "" || got.CertificateAuthorities[1].ValidFor.End != "" ||
		len(got.Ctlogs) != 2 || got.Ctlogs[0].PublicKey.ValidFor.End == "" ||
		len(got.TimestampAuthorities) != 2 || got.TimestampAuthorities[0].ValidFor.End == "" {
		t.Fatalf("the trusted root after the rotation does not list the retired authorities with an end:\n%s", readFile(t, root))
	}
	verify(filepath.Join(dir, "before", "bundle.json"), root)
	verify(filepath.Join(dir, "after", "bundle.json"), root)

	d.stop()
	d.start()
	again := filepath.Join(dir, "again.json")
	mustCtl(t, d.url, nil, "trust-root", "export", "-o", again)
	if readFile(t, again) != readFile(t, root) {
		t.Fatalf("a restart changed the trusted root:\n%s\n%s", readFile(t, root), readFile(t, again))
	}
}

// TestLogKeyRotation replaces the log's checkpoint key between two signatures:
// the daemon reopens its log (the checkpoint on disk is the old key's), the
// trusted root lists both keys (the old one with its end), and both bundles
// verify against it with stellactl and cosign; the retired key cannot come
// back (exit 2).
func TestLogKeyRotation(t *testing.T) {
	requireCosign(t)
	data := t.TempDir()
	d := startDaemon(t, data, nil)
	before := signOne(t, d, nil)
	d.stop()
	oldKey := readFile(t, filepath.Join(data, "keys", "log.pem"))
	if err := os.Remove(filepath.Join(data, "keys", "log.pem")); err != nil {
		t.Fatal(err)
	}
	d.start() // development mode makes a new log key
	after := signOne(t, d, nil)
	var root struct {
		Tlogs []struct {
			PublicKey struct{ ValidFor struct{ Start, End string } } `json:"publicKey"`
		} `json:"tlogs"`
	}
	if err := json.Unmarshal([]byte(readFile(t, after.trustedRoot)), &root); err != nil {
		t.Fatal(err)
	}
	if len(root.Tlogs) != 2 || root.Tlogs[0].PublicKey.ValidFor.End == "" || root.Tlogs[1].PublicKey.ValidFor.End != "" {
		t.Fatalf("the trusted root after the rotation:\n%s", readFile(t, after.trustedRoot))
	}
	for _, s := range []signed{before, after} {
		if out, errs, code := ctl(t, "", nil, "attest", "verify", "--bundle", s.bundle, "--trusted-root", after.trustedRoot,
			"--key", s.key, s.artifact); code != 0 {
			t.Fatalf("stellactl attest verify %s: exit %d\n%s%s", s.bundle, code, out, errs)
		}
		if code, out := cosignVerify(t, s.bundle, s.key, after.trustedRoot, testPredicateType, s.artifact); code != 0 {
			t.Fatalf("cosign verify-blob-attestation %s: exit %d\n%s", s.bundle, code, out)
		}
	}
	// Going back to the retired key is refused at start-up.
	d.stop()
	writeFile(t, filepath.Join(data, "keys", "log.pem"), []byte(oldKey))
	cmd := exec.Command(stelladBin, d.args...)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "retired") {
		t.Fatalf("stellad with a retired log key: %v\n%s", err, out)
	}
}
