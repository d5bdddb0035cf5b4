package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/stellaops/stellad/internal/keys/pkcs11/softhsmtest"
	"github.com/stellaops/stellad/kit"
)

// runKit runs stellactl in-process (run's path: newApp, interspersed,
// report), with the kit command group added if main.go does not register it
// yet.
func runKit(t *testing.T, args ...string) result {
	t.Helper()
	return runKitB(t, args...)
}

func runKitB(t testing.TB, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	app := newApp(&out, &errb)
	if findCommand(app.Commands, "kit") == nil {
		kc := kitCommand()
		setUsageHandlers(kc)
		app.Commands = append(app.Commands, kc)
	}
	err := app.RunContext(context.Background(), interspersed(app, append([]string{"stellactl"}, args...)))
	code := report(err, &errb)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// ed25519KeyFiles writes a deterministic Ed25519 kit key as PKCS#8 PEM
// (mode 0600) and its public key PEM, and returns both paths.
func ed25519KeyFiles(t testing.TB, dir, name string, seed byte) (priv, pub string) {
	t.Helper()
	k := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	priv = filepath.Join(dir, name+".key")
	if err := os.WriteFile(priv, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	pubPEM, err := publicKeyPEM(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	pub = filepath.Join(dir, name+".pub")
	if err := os.WriteFile(pub, pubPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

// witnessFixture is a log key and two witnesses, and checkpoints they sign.
type witnessFixture struct {
	log      note.Signer
	logVKey  string
	w1, w2   note.Signer
	v1, v2   string
	checkpnt string // body
}

func newWitnessFixture(t *testing.T) *witnessFixture {
	t.Helper()
	gen := func(name string, seed byte) (string, string) {
		skey, vkey, err := note.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{seed}, 64)), name)
		if err != nil {
			t.Fatal(err)
		}
		return skey, vkey
	}
	f := &witnessFixture{}
	lskey, lvkey := gen("log.example", 1)
	var err error
	if f.log, err = note.NewSigner(lskey); err != nil {
		t.Fatal(err)
	}
	f.logVKey = lvkey
	s1, v1 := gen("witness1.example", 2)
	s2, v2 := gen("witness2.example", 3)
	if f.w1, err = fnote.NewSignerForCosignatureV1(s1); err != nil {
		t.Fatal(err)
	}
	if f.w2, err = fnote.NewSignerForCosignatureV1(s2); err != nil {
		t.Fatal(err)
	}
	f.v1, f.v2 = v1, v2
	h := sha256.Sum256([]byte("tree"))
	f.checkpnt = fmt.Sprintf("log.example\n42\n%s\n", base64.StdEncoding.EncodeToString(h[:]))
	return f
}

func (f *witnessFixture) sign(t *testing.T, cosigners ...note.Signer) []byte {
	t.Helper()
	b, err := note.Sign(&note.Note{Text: f.checkpnt}, append([]note.Signer{f.log}, cosigners...)...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// policy needs k of the two witnesses.
func (f *witnessFixture) policy(k int) []byte {
	return []byte(fmt.Sprintf("log %s\nwitness w1 %s\nwitness w2 %s\ngroup both %d w1 w2\nquorum both\n", f.logVKey, f.v1, f.v2, k))
}

// kitTree writes a --from directory with a file in every root; the
// checkpoint carries the given cosignatures and the kit's policy needs
// policyK of the two witnesses.
func kitTree(t *testing.T, wf *witnessFixture, policyK int, cosigners ...note.Signer) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string][]byte{
		"trust/trusted_root.json":            []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1","marker":"ROOT-ONE"}`),
		"trust/witness-policy":               wf.policy(policyK),
		"trust/keys/scanner.pem":             []byte("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n"),
		"checkpoints/log.example/checkpoint": wf.sign(t, cosigners...),
		"attestations/a.sigstore.json":       []byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`),
		"entitlements/licence.jwt":           []byte("eyJ.eyJ.sig"),
		"tiles/log.example/tile/0/000":       bytes.Repeat([]byte{7}, 32),
	}
	for p, b := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func readBytes(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestKitBuildDeterministic(t *testing.T) {
	wf := newWitnessFixture(t)
	from := kitTree(t, wf, 2, wf.w1, wf.w2)
	keys := t.TempDir()
	k1, p1 := ed25519KeyFiles(t, keys, "k1", 1)
	k2, p2 := ed25519KeyFiles(t, keys, "k2", 2)
	out := t.TempDir()
	build := func(name string, extra ...string) []byte {
		t.Helper()
		args := append([]string{"kit", "build", "--from", from, "-o", filepath.Join(out, name), "--key-file", k1, "--key-file", k2,
			"--source", "build.example", "--sequence", "7"}, extra...)
		runKit(t, args...).expect(t, 0)
		return readBytes(t, filepath.Join(out, name))
	}
	a, b := build("a.kit"), build("b.kit")
	if !bytes.Equal(a, b) {
		t.Fatal("two builds from the same inputs differ")
	}
	if c := build("c.kit", "--mtime", "2026-11-25T00:00:00Z"); bytes.Equal(a, c) {
		t.Error("--mtime did not change the kit")
	}
	// The kit is what the format says: the package verifies it.
	k, err := kit.Verify(bytes.NewReader(a), kit.VerifyOptions{Keys: []crypto.PublicKey{pubKey(t, p1), pubKey(t, p2)}, Threshold: 2})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"trust/trusted_root.json":            kit.MediaTypeTrustedRoot,
		"trust/witness-policy":               kit.MediaTypeWitnessPolicy,
		"trust/keys/scanner.pem":             kit.MediaTypePublicKey,
		"checkpoints/log.example/checkpoint": kit.MediaTypeCheckpoint,
		"attestations/a.sigstore.json":       kit.MediaTypeBundle,
		"entitlements/licence.jwt":           kit.MediaTypeLicence,
		"tiles/log.example/tile/0/000":       kit.MediaTypeTile,
	}
	m := k.Manifest
	if len(m.Files) != len(want) || m.Source != "build.example" || m.Sequence != 7 || m.Kind != kit.KindBuild {
		t.Fatalf("manifest %+v", m)
	}
	for _, f := range m.Files {
		if want[f.Path] != f.MediaType {
			t.Errorf("%s: media type %s, want %s", f.Path, f.MediaType, want[f.Path])
		}
	}
	if _, err := os.Stat(filepath.Join(out, "a.kit")); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(out, ".*tmp*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func pubKey(t *testing.T, p string) crypto.PublicKey {
	t.Helper()
	k, err := parsePublicKeyPEM(p, readBytes(t, p))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestKitBuildURIKeys signs with a file: key and a SoftHSM2 key (both ECDSA
// P-256, opened by internal/keys) and an Ed25519 --key-file; verify needs
// all three.
func TestKitBuildURIKeys(t *testing.T) {
	wf := newWitnessFixture(t)
	from := kitTree(t, wf, 2, wf.w1, wf.w2)
	dir := t.TempDir()
	tk := softhsmtest.NewToken(t, "kit")
	fileURI := "file:" + filepath.Join(dir, "file.key")
	hsmURI := tk.URI("kitkey")
	runKit(t, "key", "generate", "--uri", fileURI, "--public-out", filepath.Join(dir, "file.pub")).expect(t, 0)
	runKit(t, "key", "generate", "--uri", hsmURI, "--public-out", filepath.Join(dir, "hsm.pub")).expect(t, 0)
	ed, edPub := ed25519KeyFiles(t, dir, "ed", 9)
	out := filepath.Join(dir, "k.kit")
	r := runKit(t, "kit", "build", "--from", from, "-o", out, "--key", fileURI, "--key", hsmURI, "--key-file", ed, "--source", "s")
	r.expect(t, 0)
	for _, s := range []string{"signed by:", "file:", "pkcs11:", ed} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("build output lacks %q:\n%s", s, r.stdout)
		}
	}
	runKit(t, "kit", "verify", out, "--kit-key", filepath.Join(dir, "file.pub"), "--kit-key", filepath.Join(dir, "hsm.pub"),
		"--kit-key", edPub, "--threshold", "3").expect(t, 0)
}

// builtKit builds a kit signed by the Ed25519 key k1 from a fresh tree and
// returns its path and the keys' paths.
type builtKit struct {
	path                 string
	k1, k1pub, k2, k2pub string
	wf                   *witnessFixture
}

func buildKit(t *testing.T, policyK int, cosigners func(*witnessFixture) []note.Signer, signers ...string) builtKit {
	t.Helper()
	wf := newWitnessFixture(t)
	from := kitTree(t, wf, policyK, cosigners(wf)...)
	dir := t.TempDir()
	b := builtKit{path: filepath.Join(dir, "k.kit"), wf: wf}
	b.k1, b.k1pub = ed25519KeyFiles(t, dir, "k1", 1)
	b.k2, b.k2pub = ed25519KeyFiles(t, dir, "k2", 2)
	args := []string{"kit", "build", "--from", from, "-o", b.path, "--source", "build.example", "--sequence", "3"}
	for _, s := range signers {
		switch s {
		case "k1":
			args = append(args, "--key-file", b.k1)
		case "k2":
			args = append(args, "--key-file", b.k2)
		}
	}
	runKit(t, args...).expect(t, 0)
	return b
}

func bothWitnesses(wf *witnessFixture) []note.Signer { return []note.Signer{wf.w1, wf.w2} }

func TestKitVerifyOK(t *testing.T) {
	b := buildKit(t, 2, bothWitnesses, "k1", "k2")
	r := runKit(t, "kit", "verify", b.path, "--kit-key", b.k1pub, "--kit-key", b.k2pub, "--threshold", "2")
	r.expect(t, 0)
	for _, s := range []string{"Verified OK", "source: build.example", "sequence: 3", "files: 7",
		"trust/", "3 files", "witness policy: trust/witness-policy", "checkpoint checkpoints/log.example/checkpoint: origin log.example, size 42",
		"cosigned by: w1, w2", "witness policy met"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("output lacks %q:\n%s", s, r.stdout)
		}
	}
	// One of two trusted keys suffices with the default threshold.
	runKit(t, "kit", "verify", b.path, "--kit-key", b.k2pub).expect(t, 0)
}

// rewriteKit decompresses a kit, applies edit to the tar stream and
// compresses it again with the fixed gzip header, so that only what edit
// changed differs.
func rewriteKit(t *testing.T, src, dst string, edit func([]byte) []byte) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(readBytes(t, src)))
	if err != nil {
		t.Fatal(err)
	}
	tarBytes, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.OS = 255
	zw.Write(edit(tarBytes))
	zw.Close()
	if err := os.WriteFile(dst, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestKitVerifyRefuses(t *testing.T) {
	b := buildKit(t, 2, bothWitnesses, "k1")
	dir := t.TempDir()
	orig := readBytes(t, b.path)

	crc := bytes.Clone(orig)
	crc[len(crc)-6] ^= 0x01 // the CRC-32 in the gzip trailer
	crcKit := writeFile(t, dir, "crc.kit", crc)

	contentKit := filepath.Join(dir, "content.kit")
	rewriteKit(t, b.path, contentKit, func(tb []byte) []byte {
		i := bytes.Index(tb, []byte("ROOT-ONE"))
		if i < 0 {
			t.Fatal("marker not found")
		}
		tb[i+5] = '0' // ROOT-0NE: one content byte
		return tb
	})
	notKit := writeFile(t, dir, "not.kit", []byte("this is not a kit\n"))
	badPolicy := writeFile(t, dir, "bad.policy", []byte("quorum nobody\n"))

	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"gzip trailer byte", []string{crcKit, "--kit-key", b.k1pub}, 1, []string{"verification failed", "malformed kit"}},
		{"one content byte", []string{contentKit, "--kit-key", b.k1pub}, 1, []string{"trust/trusted_root.json", "size or digest mismatch"}},
		{"unknown key", []string{b.path, "--kit-key", b.k2pub}, 1, []string{"manifest signature not verified"}},
		{"k of n not met", []string{b.path, "--kit-key", b.k1pub, "--kit-key", b.k2pub, "--threshold", "2"}, 1, []string{"manifest signature not verified"}},
		{"not a kit", []string{notKit, "--kit-key", b.k1pub}, 1, []string{"not a kit"}},
		{"no such file", []string{filepath.Join(dir, "missing.kit"), "--kit-key", b.k1pub}, 2, []string{"missing.kit"}},
		{"threshold above keys", []string{b.path, "--kit-key", b.k1pub, "--threshold", "2"}, 2, []string{"--threshold"}},
		{"threshold zero", []string{b.path, "--kit-key", b.k1pub, "--threshold", "0"}, 2, []string{"--threshold"}},
		{"same key twice", []string{b.path, "--kit-key", b.k1pub, "--kit-key", b.k1pub}, 2, []string{"same key"}},
		{"no kit key", []string{b.path}, 2, []string{"--kit-key"}},
		{"no kit argument", []string{"--kit-key", b.k1pub}, 2, []string{"KIT"}},
		{"key file not PEM", []string{b.path, "--kit-key", notKit}, 2, []string{"--kit-key"}},
		{"bad policy flag", []string{b.path, "--kit-key", b.k1pub, "--witness-policy", badPolicy}, 2, []string{"--witness-policy", "line 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runKit(t, append([]string{"kit", "verify"}, tt.args...)...)
			r.expect(t, tt.code, tt.want...)
			if tt.code != 0 && strings.Contains(r.stdout, "Verified OK") {
				t.Errorf("refused kit printed Verified OK:\n%s", r.stdout)
			}
		})
	}
}

func TestKitVerifyWitnessPolicy(t *testing.T) {
	onlyW1 := func(wf *witnessFixture) []note.Signer { return []note.Signer{wf.w1} }
	b := buildKit(t, 2, onlyW1, "k1")

	// The kit's own policy wants both witnesses: refused, naming the file.
	r := runKit(t, "kit", "verify", b.path, "--kit-key", b.k1pub)
	r.expect(t, 1, "checkpoints/log.example/checkpoint", "quorum not satisfied", "group both needs 2")
	if !strings.Contains(r.stdout, "REFUSED") || !strings.Contains(r.stdout, "size 42") || !strings.Contains(r.stdout, "cosigned by: w1\n") || strings.Contains(r.stdout, "Verified OK") {
		t.Errorf("output:\n%s", r.stdout)
	}

	// --witness-policy replaces the kit's: one of two is enough.
	pol := writeFile(t, t.TempDir(), "p", b.wf.policy(1))
	r = runKit(t, "kit", "verify", b.path, "--kit-key", b.k1pub, "--witness-policy", pol, "--json")
	r.expect(t, 0)
	var res kitVerifyResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatal(err)
	}
	if !res.OK || res.WitnessPolicy != pol || len(res.Checkpoints) != 1 {
		t.Fatalf("result %+v", res)
	}
	cp := res.Checkpoints[0]
	if !cp.CoveredByPolicy || cp.PolicyMet == nil || !*cp.PolicyMet || len(cp.Cosigners) != 1 || cp.Cosigners[0].Witness != "w1" ||
		cp.Cosigners[0].KeyName != "witness1.example" || cp.Size != 42 {
		t.Errorf("checkpoint %+v", cp)
	}

	// A policy that does not list the checkpoint's log reports it unchecked.
	other := newWitnessFixture(t)
	_, ovkey, err := note.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{5}, 64)), "other.example")
	if err != nil {
		t.Fatal(err)
	}
	other.logVKey = ovkey
	pol2 := writeFile(t, t.TempDir(), "p2", other.policy(2))
	r = runKit(t, "kit", "verify", b.path, "--kit-key", b.k1pub, "--witness-policy", pol2)
	r.expect(t, 0)
	for _, s := range []string{"origin not covered by the witness policy", "not checked: log.example+", "Verified OK"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("output lacks %q:\n%s", s, r.stdout)
		}
	}
}

func TestKitJSON(t *testing.T) {
	wf := newWitnessFixture(t)
	from := kitTree(t, wf, 2, wf.w1, wf.w2)
	dir := t.TempDir()
	k1, p1 := ed25519KeyFiles(t, dir, "k1", 1)
	out := filepath.Join(dir, "k.kit")
	r := runKit(t, "kit", "build", "--from", from, "-o", out, "--key-file", k1, "--source", "s", "--json")
	r.expect(t, 0)
	var build map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &build); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	kb := readBytes(t, out)
	sum := sha256.Sum256(kb)
	manifest := build["manifest"].(map[string]any)
	if build["output"] != out || build["sha256"] != fmt.Sprintf("%x", sum) || build["size"] != float64(len(kb)) ||
		manifest["source"] != "s" || manifest["files"] != float64(7) || len(manifest["roots"].([]any)) != 5 ||
		len(build["signers"].([]any)) != 1 {
		t.Errorf("build JSON %s", r.stdout)
	}
	root0 := manifest["roots"].([]any)[0].(map[string]any)
	if root0["root"] != "trust" || root0["files"] != float64(3) {
		t.Errorf("roots[0] %v", root0)
	}

	r = runKit(t, "kit", "verify", out, "--kit-key", p1, "--json")
	r.expect(t, 0)
	var ver map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &ver); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	vm := ver["manifest"].(map[string]any)
	if ver["ok"] != true || ver["sha256"] != build["sha256"] || vm["sha256"] != manifest["sha256"] || ver["threshold"] != float64(1) ||
		ver["witnessPolicy"] != "trust/witness-policy" || len(ver["checkpoints"].([]any)) != 1 {
		t.Errorf("verify JSON %s", r.stdout)
	}
	for _, k := range []string{"ok", "kit", "sha256", "manifest", "threshold", "trustedKeys", "signers", "witnessPolicy", "checkpoints"} {
		if _, ok := ver[k]; !ok {
			t.Errorf("verify JSON lacks %q", k)
		}
	}

	// A refusal in JSON: ok false and the problem, and exit 1.
	_, p2 := ed25519KeyFiles(t, dir, "k2", 2)
	r = runKit(t, "kit", "verify", out, "--kit-key", p2, "--json")
	r.expect(t, 1)
	var bad kitVerifyResult
	if err := json.Unmarshal([]byte(r.stdout), &bad); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if bad.OK || bad.Error == nil || bad.Error.Kind != "signature" || bad.Error.File != kit.SignaturePath || bad.Manifest != nil || len(bad.Signers) != 0 || len(bad.TrustedKeys) != 1 {
		t.Errorf("refusal JSON %s", r.stdout)
	}
}

func TestKitBuildRefuses(t *testing.T) {
	wf := newWitnessFixture(t)
	keys := t.TempDir()
	k1, _ := ed25519KeyFiles(t, keys, "k1", 1)
	tests := []struct {
		name  string
		setup func(t *testing.T, from string)
		args  []string // after --from and -o
		want  []string
	}{
		{"symlink", func(t *testing.T, from string) {
			os.Symlink("/etc/passwd", filepath.Join(from, "trust", "passwd"))
		}, []string{"--key-file", k1}, []string{"trust/passwd: symbolic link"}},
		{"symlinked root", func(t *testing.T, from string) {
			os.RemoveAll(filepath.Join(from, "tiles"))
			os.Symlink(filepath.Join(from, "trust"), filepath.Join(from, "tiles"))
		}, []string{"--key-file", k1}, []string{"tiles: symbolic link"}},
		{"file outside the roots", func(t *testing.T, from string) {
			writeFile(t, from, "README", []byte("x"))
		}, []string{"--key-file", k1}, []string{"README: outside the kit roots"}},
		{"directory outside the roots", func(t *testing.T, from string) {
			os.MkdirAll(filepath.Join(from, "other"), 0o755)
			writeFile(t, filepath.Join(from, "other"), "x", []byte("x"))
		}, []string{"--key-file", k1}, []string{"other: outside the kit roots"}},
		{"path a kit cannot hold", func(t *testing.T, from string) {
			writeFile(t, filepath.Join(from, "trust"), "a b.json", []byte("x"))
		}, []string{"--key-file", k1}, []string{"trust/a b.json: cannot be a kit path"}},
		{"fifo", func(t *testing.T, from string) {
			if err := syscall.Mkfifo(filepath.Join(from, "attestations", "pipe"), 0o644); err != nil {
				t.Skip(err)
			}
		}, []string{"--key-file", k1}, []string{"attestations/pipe: not a regular file"}},
		{"case collision", func(t *testing.T, from string) {
			writeFile(t, filepath.Join(from, "trust"), "Trusted_Root.json", []byte("x"))
		}, []string{"--key-file", k1}, []string{"trust/"}},
		{"no key", nil, nil, []string{"--key or --key-file"}},
		{"same key twice", nil, []string{"--key-file", k1, "--key-file", k1}, []string{"same key"}},
		{"key path as URI", nil, []string{"--key", k1}, []string{"not a file: or pkcs11: URI"}},
		{"missing file key", nil, []string{"--key", "file:" + filepath.Join(keys, "none.key")}, []string{"none.key"}},
		{"bad kind", nil, []string{"--key-file", k1, "--kind", "Build!"}, []string{"--kind"}},
		{"bad mtime", nil, []string{"--key-file", k1, "--mtime", "yesterday"}, []string{"--mtime"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from := kitTree(t, wf, 2, wf.w1)
			if tt.setup != nil {
				tt.setup(t, from)
			}
			out := filepath.Join(t.TempDir(), "k.kit")
			r := runKit(t, append([]string{"kit", "build", "--from", from, "-o", out, "--source", "s"}, tt.args...)...)
			r.expect(t, 2, tt.want...)
			if _, err := os.Stat(out); err == nil {
				t.Error("a refused build wrote the kit")
			}
			if left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*")); len(left) > 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
	t.Run("output inside from", func(t *testing.T) {
		from := kitTree(t, wf, 2, wf.w1)
		runKit(t, "kit", "build", "--from", from, "-o", filepath.Join(from, "k.kit"), "--key-file", k1, "--source", "s").
			expect(t, 2, "inside --from")
	})
	t.Run("usage", func(t *testing.T) {
		runKit(t, "kit").expect(t, 2, "needs a subcommand")
		runKit(t, "kit", "build", "-o", "x", "--key-file", k1).expect(t, 2, "--from")
	})
}

func TestKitMediaType(t *testing.T) {
	tests := []struct{ path, want string }{
		{"trust/trusted_root.json", kit.MediaTypeTrustedRoot},
		{"trust/sigstore/trusted-root.json", kit.MediaTypeTrustedRoot},
		{"trust/signing_config.v0.2.json", kit.MediaTypeSigningConfig},
		{"trust/authority.jwks", kit.MediaTypeJWKS},
		{"trust/authority-jwks.json", kit.MediaTypeJWKS},
		{"trust/authorities.json", kit.MediaTypeJWKS},
		{"trust/scanner-keys/trivy.pem", kit.MediaTypePublicKey},
		{"trust/kit-keys/a.pem", kit.MediaTypePublicKey},
		{"trust/scanner.pub", kit.MediaTypePublicKey},
		{"trust/witness-policy", kit.MediaTypeWitnessPolicy},
		{"trust/rekor.policy", kit.MediaTypeWitnessPolicy},
		{"trust/revocations.json", kit.MediaTypeRevocations},
		{"trust/other.json", "application/octet-stream"},
		{"checkpoints/rekor.sigstore.dev/checkpoint", kit.MediaTypeCheckpoint},
		{"checkpoints/a/17.checkpoint", kit.MediaTypeCheckpoint},
		{"checkpoints/a/17.cosig", kit.MediaTypeCosignature},
		{"checkpoints/a/consistency-10-17.json", kit.MediaTypeConsistencyProof},
		{"checkpoints/a/readme", "application/octet-stream"},
		{"tiles/a/tile/0/x001/002", kit.MediaTypeTile},
		{"tiles/a/tile/entries/000.p/5", kit.MediaTypeTile},
		{"attestations/x.sigstore.json", kit.MediaTypeBundle},
		{"attestations/x.bundle", kit.MediaTypeBundle},
		{"attestations/x.bin", "application/octet-stream"},
		{"entitlements/licence.jwt", kit.MediaTypeLicence},
		{"entitlements/acme.license", kit.MediaTypeLicence},
		{"entitlements/audit-head.json", kit.MediaTypeAuditHead},
	}
	for _, tt := range tests {
		if got := kitMediaType(tt.path); got != tt.want {
			t.Errorf("kitMediaType(%q) = %s, want %s", tt.path, got, tt.want)
		}
	}
}

// BenchmarkKitBuildVerify builds a kit of 256 files of 64 KiB (16 MiB) with
// an Ed25519 --key-file, and verifies it, through the command as run.
func BenchmarkKitBuildVerify(b *testing.B) {
	from := b.TempDir()
	for i := 0; i < 256; i++ {
		d := filepath.Join(from, "tiles", "log.example", "tile", "0", fmt.Sprintf("x%03d", i/16))
		if err := os.MkdirAll(d, 0o755); err != nil {
			b.Fatal(err)
		}
		data := bytes.Repeat([]byte{byte(i), byte(i >> 3), 0x5a, 0xc3}, 16<<10)
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("%03d", i%16)), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	dir := b.TempDir()
	k1, p1 := ed25519KeyFiles(b, dir, "k1", 1)
	out := filepath.Join(dir, "k.kit")
	b.Run("build", func(b *testing.B) {
		b.SetBytes(256 << 16)
		for i := 0; i < b.N; i++ {
			if r := runKitB(b, "kit", "build", "--from", from, "-o", out, "--key-file", k1, "--source", "s"); r.code != 0 {
				b.Fatal(r.stderr)
			}
		}
	})
	b.Run("verify", func(b *testing.B) {
		b.SetBytes(256 << 16)
		for i := 0; i < b.N; i++ {
			if r := runKitB(b, "kit", "verify", out, "--kit-key", p1); r.code != 0 {
				b.Fatal(r.stderr)
			}
		}
	})
}
