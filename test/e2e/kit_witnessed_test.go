package e2e

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/stellad/kit/verify/verifytest"
)

// rekorOrigin is the origin of the stand-in for a public Rekor v2 shard.
const rekorOrigin = "log2025-1.rekor.sigstore.dev"

// kitKey is an Ed25519 kit signing key as files: the PKCS#8 private key for
// `kit build --key-file` and the public key for daemons and `--kit-key`.
type kitKey struct {
	priv, pub string
	key       ed25519.PrivateKey
}

func newKitKey(t *testing.T, dir, name string, seed byte) kitKey {
	t.Helper()
	k := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	priv := filepath.Join(dir, name+".pem")
	if err := os.WriteFile(priv, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return kitKey{priv: priv, pub: writeFile(t, filepath.Join(dir, name+".pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})), key: k}
}

// buildKit writes files (kit path -> content) into a directory and runs
// `stellactl kit build` on it, signed by keys.
func buildKit(t *testing.T, out, source string, seq int, files map[string][]byte, keys ...kitKey) string {
	t.Helper()
	dir := t.TempDir()
	for p, b := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, full, b)
	}
	args := []string{"kit", "build", "--from", dir, "-o", out, "--source", source, "--sequence", fmt.Sprint(seq)}
	for _, k := range keys {
		args = append(args, "--key-file", k.priv)
	}
	mustCtl(t, "", nil, args...)
	return out
}

// publicRekor is the stand-in for a public Rekor v2 shard: an RFC 6962 log
// under its own ECDSA key and origin, an attestation logged at index 300 and
// proven in the tree of size 350, and three Ed25519 witnesses of which the
// policy needs two.
type publicRekor struct {
	log       *verifytest.Log
	att       *verifytest.Fixture
	witnesses []*verifytest.Witness
	policy    []byte
	root      []byte
}

func newPublicRekor(t *testing.T, size uint64) *publicRekor {
	t.Helper()
	l, err := verifytest.NewLog("https://"+rekorOrigin, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.AppendFiller(300)
	att, err := l.Attest(verifytest.Config{Artifact: []byte("a release built on the connected side\n"), SubjectName: "release.tar"})
	if err != nil {
		t.Fatal(err)
	}
	l.AppendFiller(int(size) - 301)
	if err := l.Prove(att, 350); err != nil {
		t.Fatal(err)
	}
	p := &publicRekor{log: l, att: att}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i, n := range []string{"witness.one.example", "witness.two.example", "witness.three.example"} {
		p.witnesses = append(p.witnesses, verifytest.NewWitness(n, byte(i+1), now))
	}
	p.policy = verifytest.Policy(2, p.witnesses...)
	if p.root, err = l.TrustedRoot(); err != nil {
		t.Fatal(err)
	}
	return p
}

// kitFiles is the content of a kit carrying this log's trusted root, the
// witness policy, its checkpoint of size cosigned by ws, and (tiles) every
// tile of that tree.
func (p *publicRekor) kitFiles(t *testing.T, size uint64, tiles bool, ws ...*verifytest.Witness) map[string][]byte {
	t.Helper()
	cp, err := p.log.Checkpoint(size, ws...)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"trust/trusted_root.json":                    p.root,
		"trust/witness-policy":                       p.policy,
		"checkpoints/" + rekorOrigin + "/checkpoint": []byte(cp),
	}
	if tiles {
		for tp, b := range p.log.Tiles(size) {
			files["tiles/"+rekorOrigin+"/"+tp] = b
		}
	}
	return files
}

// writeAttestation writes a fixture's bundle, artifact and signer key.
func writeAttestation(t *testing.T, dir, name string, f *verifytest.Fixture) (bundle, artifact, key string) {
	t.Helper()
	return writeFile(t, filepath.Join(dir, name+".bundle.json"), f.Bundle()),
		writeFile(t, filepath.Join(dir, name+".artifact"), f.Artifact),
		writeFile(t, filepath.Join(dir, name+".pub"), f.PublicKeyPEM())
}

// startKitDaemon starts an appliance trusting the given kit public keys,
// with threshold k.
func startKitDaemon(t *testing.T, host string, k int, keys ...kitKey) *daemon {
	t.Helper()
	dir := t.TempDir()
	kk := filepath.Join(dir, "trust", "kit-keys")
	if err := os.MkdirAll(kk, 0o700); err != nil {
		t.Fatal(err)
	}
	for i, key := range keys {
		writeFile(t, filepath.Join(kk, fmt.Sprintf("kit-%d.pem", i)), []byte(readFile(t, key.pub)))
	}
	return startNamedDaemon(t, dir, host, "--kit-threshold", fmt.Sprint(k))
}

// TestAttestVerifyWitnessed: a bundle logged in a public Rekor v2 log (a
// stand-in with its own key and origin) is verified by `stellactl attest
// verify` against the witnessed checkpoint a kit mirrors: offline from the
// kit itself (--kit), and through appliance B after B imported that kit
// (--mirror, B's read-only mirror). Accepted when consistent and witnessed;
// under --witnessed require refused (exit 1, reason named) when the
// cosignatures are below the policy, when nothing mirrored covers the
// bundle's tree, and when the bundle comes from a fork; under warn the first
// two only warn, a fork is refused all the same.
func TestAttestVerifyWitnessed(t *testing.T) {
	work := t.TempDir()
	pub := newPublicRekor(t, 700)
	kk := newKitKey(t, work, "kit-key", 7)
	good := buildKit(t, filepath.Join(work, "rekor-700.kit"), "build.example", 1, pub.kitFiles(t, 700, true, pub.witnesses...), kk)
	// A kit whose checkpoint only one witness cosigned (the policy needs two).
	weak := buildKit(t, filepath.Join(work, "rekor-weak.kit"), "build.example", 2, pub.kitFiles(t, 700, true, pub.witnesses[0]), kk)
	trustedRoot := writeFile(t, filepath.Join(work, "trusted_root.json"), pub.root)
	policy := writeFile(t, filepath.Join(work, "witness-policy"), pub.policy)
	bundle, artifact, key := writeAttestation(t, work, "release", pub.att)

	// The fork: the same log key shows another history after entry 320, and
	// a bundle of that history (tree size 350).
	fork := pub.log.Fork(320)
	forkAtt, err := fork.Attest(verifytest.Config{Artifact: []byte("slipped in on a fork\n")})
	if err != nil {
		t.Fatal(err)
	}
	fork.AppendFiller(29)
	if err := fork.Prove(forkAtt, 350); err != nil {
		t.Fatal(err)
	}
	forkBundle, forkArtifact, forkKey := writeAttestation(t, work, "fork", forkAtt)

	// A bundle newer than the mirrored checkpoint: logged after the kit was built.
	newer := pub.log.Fork(700)
	newAtt, err := newer.Attest(verifytest.Config{Artifact: []byte("signed after the kit left\n")})
	if err != nil {
		t.Fatal(err)
	}
	newBundle, newArtifact, newKey := writeAttestation(t, work, "newer", newAtt)

	// B imports the good kit and refuses the weak one.
	b := startKitDaemon(t, "appliance-b", 1, kk)
	bctl := func(args ...string) (string, string, int) {
		return ctl(t, "", nil, append([]string{"--admin-socket", b.adminSocket()}, args...)...)
	}
	if _, errs, code := bctl("kit", "import", good); code != 0 {
		t.Fatalf("importing the Rekor kit: exit %d: %s", code, errs)
	}
	if _, errs, code := bctl("kit", "import", weak); code != 1 || !strings.Contains(errs, "witness policy not satisfied") {
		t.Errorf("kit with one cosignature: exit %d, want 1 naming the witness policy\n%s", code, errs)
	}
	mirror := b.url + "/api/v2/mirror/" + rekorOrigin

	kitArgs := func(kitPath string) []string { return []string{"--kit", kitPath, "--kit-key", kk.pub} }
	mirrorArgs := []string{"--mirror", mirror, "--trusted-root", trustedRoot, "--witness-policy", policy}
	type run struct {
		name       string
		bundle     []string // bundle, artifact, key
		material   []string
		mode       string
		wantCode   int
		wantStdout string
		wantStderr string
	}
	other := newKitKey(t, work, "other", 9)
	rel, fk, nw := []string{bundle, artifact, key}, []string{forkBundle, forkArtifact, forkKey}, []string{newBundle, newArtifact, newKey}
	runs := []run{
		{"kit, require: witnessed", rel, kitArgs(good), "require", 0, "witnessed: mirrored checkpoint of size 700 (tiles), cosigned by witness.one.example, witness.two.example, witness.three.example", ""},
		{"kit, default mode", rel, kitArgs(good), "", 0, "witnessed: mirrored checkpoint of size 700 (tiles)", ""},
		{"B's mirror, require: witnessed", rel, mirrorArgs, "require", 0, "witnessed: mirrored checkpoint of size 700 (tiles)", ""},
		{"below policy, require", rel, kitArgs(weak), "require", 1, "", "group all-witnesses needs 2"},
		{"below policy, warn", rel, kitArgs(weak), "warn", 0, "witnessed: NO", "warning:"},
		{"newer than the mirror, require", nw, kitArgs(good), "require", 1, "", "newer than the mirrored checkpoint of size 700"},
		{"newer than the mirror, warn", nw, kitArgs(good), "warn", 0, "Verified OK", "cannot be checked offline"},
		{"newer than B's mirror, require", nw, mirrorArgs, "require", 1, "", "newer than the mirrored checkpoint"},
		{"fork, require", fk, kitArgs(good), "require", 1, "", "split view"},
		{"fork, warn", fk, kitArgs(good), "warn", 1, "", "split view"},
		{"fork against B's mirror", fk, mirrorArgs, "warn", 1, "", "computed from the mirrored tiles fails"},
		{"no material, require", rel, []string{"--trusted-root", trustedRoot}, "require", 2, "", "--kit or --mirror"},
		{"kit signed by an untrusted key", rel, []string{"--kit", good, "--kit-key", other.pub}, "require", 1, "", "kit"},
	}
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			args := append([]string{"attest", "verify", "--bundle", r.bundle[0], "--key", r.bundle[2]}, r.material...)
			if r.mode != "" {
				args = append(args, "--witnessed", r.mode)
			}
			out, errs, code := ctl(t, "", nil, append(args, r.bundle[1])...)
			if code != r.wantCode || !strings.Contains(out, r.wantStdout) || !strings.Contains(errs, r.wantStderr) {
				t.Fatalf("exit %d, want %d with %q on stdout and %q on stderr\nstdout: %s\nstderr: %s", code, r.wantCode, r.wantStdout, r.wantStderr, out, errs)
			}
		})
	}
	// Without any mirrored material the bundle still verifies as before.
	mustCtl(t, "", nil, "attest", "verify", "--bundle", bundle, "--trusted-root", trustedRoot, "--key", key, artifact)
}
