package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stellaops/stellad/internal/apitype"
	"github.com/stellaops/stellad/internal/authn/authntest"
	"github.com/stellaops/stellad/internal/policy"
)

// scannerLayout writes an OCI image layout holding one scanner image and a
// cosign classic signature of it by key, as `cosign save` would, and
// returns the directory and the image's digest.
func scannerLayout(t *testing.T, key *ecdsa.PrivateKey, name string) (dir, digest string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "layout")
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		t.Fatal(err)
	}
	blob := func(mediaType string, data []byte) policy.Descriptor {
		sum := sha256.Sum256(data)
		writeFile(t, filepath.Join(dir, "blobs", "sha256", hex.EncodeToString(sum[:])), data)
		return policy.Descriptor{MediaType: mediaType, Digest: "sha256:" + hex.EncodeToString(sum[:]), Size: int64(len(data))}
	}
	mustJSON := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	manifest := func(cfg policy.Descriptor, layers ...policy.Descriptor) policy.Descriptor {
		return blob(policy.MediaTypeImageManifest, mustJSON(map[string]any{"schemaVersion": 2, "mediaType": policy.MediaTypeImageManifest, "config": cfg, "layers": layers}))
	}
	cfg := blob("application/vnd.oci.image.config.v1+json", mustJSON(map[string]any{"architecture": "amd64", "os": "linux", "config": map[string]any{"Labels": map[string]string{"name": name}}}))
	img := manifest(cfg, blob("application/vnd.oci.image.layer.v1.tar+gzip", []byte("the scanner "+name)))
	payload := fmt.Appendf(nil, `{"critical":{"identity":{"docker-reference":"registry.example/%s"},"image":{"docker-manifest-digest":%q},"type":"cosign container image signature"},"optional":null}`, name, img.Digest)
	sum := sha256.Sum256(payload)
	sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	layer := blob(policy.MediaTypeSimpleSigning, payload)
	layer.Annotations = map[string]string{policy.AnnotationCosignSignature: base64.StdEncoding.EncodeToString(sig)}
	sigManifest := manifest(blob("application/vnd.oci.image.config.v1+json", []byte("{}")), layer)
	img.Annotations = map[string]string{policy.AnnotationRefName: "registry.example/" + name + ":1"}
	sigManifest.Annotations = map[string]string{policy.AnnotationRefName: "registry.example/" + name + ":sha256-" + strings.TrimPrefix(img.Digest, "sha256:") + ".sig"}
	writeFile(t, filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`))
	writeFile(t, filepath.Join(dir, "index.json"), mustJSON(map[string]any{"schemaVersion": 2, "mediaType": policy.MediaTypeImageIndex, "manifests": []policy.Descriptor{img, sigManifest}}))
	return dir, img.Digest
}

// kitTenant is development mode's tenant, licensed on every --dev daemon.
const kitTenant = "default"

// authoritiesJSON is trust/authorities.json naming each Authority.
func authoritiesJSON(t *testing.T, as ...*authntest.Authority) []byte {
	t.Helper()
	var list []map[string]any
	for _, a := range as {
		list = append(list, map[string]any{"issuer": a.URL, "jwks": json.RawMessage(a.JWKS())})
	}
	b, err := json.Marshal(map[string]any{"authorities": list})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestKitInstallsTrust: appliance B, sealed, learns an Authority and a
// scanner release key only through a verified kit built with `stellactl
// kit build`. Before the kit, a token of Authority X is refused (401
// auth_wrong_issuer) and a layout signed by the scanner key cannot be
// imported, so an SBOM naming that scanner is refused (403
// scanner_untrusted). After `kit import`, without a restart, the same kind
// of token signs, the layout imports and the SBOM is signed. After a
// restart all of it still holds. A later kit rotates X's keys: a token of
// the old key is then refused (auth_unknown_kid), one of the new key
// accepted. A kit with a bad JWKS is refused, naming the file, and changes
// nothing.
func TestKitInstallsTrust(t *testing.T) {
	work := t.TempDir()
	k1 := newKitKey(t, work, "kit-1", 31)
	b := startKitDaemon(t, "appliance-b", 1, k1)
	bctl := func(args ...string) (string, string, int) {
		return ctl(t, "", nil, append([]string{"--admin-socket", b.adminSocket()}, args...)...)
	}
	tr := newTrust(t, t.TempDir()) // Authority X (testIssuer); B is not told about it
	signURL := b.url + "/api/v1/signer/sign/dsse"
	sign := func(c *caller, predicateType, scanner string) response {
		return send(t, c.client(t), newRequest(t, http.MethodPost, signURL, signBody(t, "", predicateType, scanner)))
	}
	alice := tr.newCaller(t, kitTenant, "signer.sign", "signer")
	if r := sign(alice, testPredicateType, ""); r.status != http.StatusUnauthorized || r.errorCode() != "auth_wrong_issuer" {
		t.Fatalf("before the kit, X's token: %s, want 401 auth_wrong_issuer", r)
	}
	scannerKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	layout, scanner := scannerLayout(t, scannerKey, "scanner")
	if _, errs, code := bctl("scanner", "import", layout); code == 0 || !strings.Contains(errs, "no release keys") {
		t.Fatalf("before the kit, scanner import: exit %d: %s", code, errs)
	}
	// B's own development caller is authenticated but the scanner is not trusted.
	dev := &http.Client{Transport: withCredentials(t, b, nil)}
	sbom := func(hc *http.Client, scanner string) response {
		return send(t, hc, newRequest(t, http.MethodPost, signURL, signBody(t, "", sbomPredicateType, scanner)))
	}
	if r := sbom(dev, scanner); r.status != http.StatusForbidden || r.errorCode() != "scanner_untrusted" {
		t.Fatalf("before the kit, SBOM: %s, want 403 scanner_untrusted", r)
	}

	// The connected side builds the kit; B imports it.
	files := map[string][]byte{
		"trust/authorities.json":         authoritiesJSON(t, tr.auth),
		"trust/scanner-keys/scanner.pem": publicPEM(t, scannerKey.Public()),
	}
	kitPath := buildKit(t, filepath.Join(work, "trust-1.kit"), "connected.example", 1, files, k1)
	out, errs, code := bctl("kit", "import", "--json", kitPath)
	if code != 0 {
		t.Fatalf("kit import: exit %d: %s", code, errs)
	}
	var res apitype.KitImport
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Installed, []string{"authorities", "scanner_keys"}) {
		t.Fatalf("kit import installed %q, want authorities and scanner_keys", res.Installed)
	}

	// No restart: X's tokens sign, the layout imports, the SBOM is signed.
	if r := sign(alice, testPredicateType, ""); r.status != http.StatusCreated {
		t.Fatalf("after the kit, X's token: %s", r)
	}
	if out := mustCtl(t, "", nil, "--admin-socket", b.adminSocket(), "scanner", "import", layout); !strings.Contains(out, scanner) {
		t.Fatalf("after the kit, scanner import: %s", out)
	}
	for name, hc := range map[string]*http.Client{"dev": dev, "X": alice.client(t)} {
		if r := sbom(hc, scanner); r.status != http.StatusCreated {
			t.Fatalf("after the kit, SBOM by the %s caller: %s", name, r)
		}
	}

	// After a restart, both still hold: a fresh token of X signs and a new
	// release signed by the kit's scanner key imports.
	b.stop()
	b.start()
	bob := tr.newCaller(t, kitTenant, "signer.sign", "signer")
	if r := sign(bob, testPredicateType, ""); r.status != http.StatusCreated {
		t.Fatalf("after a restart, X's token: %s", r)
	}
	layout2, scanner2 := scannerLayout(t, scannerKey, "scanner-2")
	if out := mustCtl(t, "", nil, "--admin-socket", b.adminSocket(), "scanner", "import", layout2); !strings.Contains(out, scanner2) {
		t.Fatalf("after a restart, scanner import: %s", out)
	}

	// A bad JWKS refuses the whole kit, naming the file; nothing changes.
	bad := map[string][]byte{
		"trust/authorities.json":      []byte(`{"authorities":[{"issuer":"https://other.example","jwks":{"keys":[]}}]}`),
		"trust/scanner-keys/more.pem": publicPEM(t, tr.vendor.Public()),
	}
	before := mustCtl(t, "", nil, "--admin-socket", b.adminSocket(), "kit", "status", "--json")
	_, errs, code = bctl("kit", "import", buildKit(t, filepath.Join(work, "bad.kit"), "connected.example", 2, bad, k1))
	if code != 1 || !strings.Contains(errs, "kit_refused") || !strings.Contains(errs, "trust/authorities.json") {
		t.Fatalf("bad JWKS: exit %d: %s", code, errs)
	}
	if after := mustCtl(t, "", nil, "--admin-socket", b.adminSocket(), "kit", "status", "--json"); after != before {
		t.Fatalf("kit status changed by a refused kit:\n%s\n%s", before, after)
	}

	// X rotates its keys; the next kit carries the new JWKS. The old key's
	// tokens stop at once (bob's token was cached), the new key's work.
	rotated := authntest.NewAuthority(t, testIssuer)
	next := &trust{auth: rotated}
	carol := next.newCaller(t, kitTenant, "signer.sign", "signer")
	if r := sign(carol, testPredicateType, ""); r.status != http.StatusUnauthorized || r.errorCode() != "auth_unknown_kid" {
		t.Fatalf("before the rotation kit, the new key's token: %s", r)
	}
	kit2 := buildKit(t, filepath.Join(work, "trust-2.kit"), "connected.example", 3, map[string][]byte{"trust/authorities.json": authoritiesJSON(t, rotated)}, k1)
	if _, errs, code := bctl("kit", "import", kit2); code != 0 {
		t.Fatalf("rotation kit: exit %d: %s", code, errs)
	}
	if r := sign(carol, testPredicateType, ""); r.status != http.StatusCreated {
		t.Fatalf("after the rotation kit, the new key's token: %s", r)
	}
	if r := sign(bob, testPredicateType, ""); r.status != http.StatusUnauthorized || r.errorCode() != "auth_unknown_kid" {
		t.Fatalf("after the rotation kit, the old key's token: %s, want 401 auth_unknown_kid", r)
	}
}
