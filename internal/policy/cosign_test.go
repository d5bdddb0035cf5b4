package policy

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// cosignPath finds the cosign binary on PATH or in $(go env GOPATH)/bin.
func cosignPath(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("cosign"); err == nil {
		return p
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err == nil {
		p := filepath.Join(string(bytes.TrimSpace(out)), "bin", "cosign")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("cosign not found on PATH nor in $(go env GOPATH)/bin")
	return ""
}

type cosignRunner struct {
	t    *testing.T
	bin  string
	dir  string
	home string
}

// run runs cosign offline in r.dir with a throw-away HOME and an empty
// password for the key pair.
func (r cosignRunner) run(args ...string) []byte {
	r.t.Helper()
	out, stderr, err := r.try(args...)
	if err != nil {
		r.t.Fatalf("cosign %v: %v\n%s", args, err, stderr)
	}
	return out
}

// try runs cosign like run and returns its error instead of failing.
func (r cosignRunner) try(args ...string) (stdout []byte, stderr string, err error) {
	cmd := exec.Command(r.bin, args...)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(), "HOME="+r.home, "COSIGN_PASSWORD=", "TUF_ROOT="+filepath.Join(r.home, "tuf"))
	var errBuf bytes.Buffer
	cmd.Stderr = &errBuf
	stdout, err = cmd.Output()
	return stdout, errBuf.String(), err
}

// TestCosignSignatures imports release signatures that cosign itself made,
// offline with a key pair it generated: a classic signature (sign-blob of
// the simple-signing payload, placed in the layout the way `cosign save`
// writes it), a messageSignature bundle (sign-blob of the image manifest)
// and a DSSE bundle (attest-blob of the image manifest with cosign's image
// signing predicate type), both attached as OCI 1.1 referrers. It then has
// cosign verify the classic layout (`cosign verify --local-image`), so the
// test's layout is the shape cosign reads and writes.
func TestCosignSignatures(t *testing.T) {
	bin := cosignPath(t)
	work := t.TempDir()
	r := cosignRunner{t: t, bin: bin, dir: work, home: filepath.Join(work, "home")}
	os.MkdirAll(r.home, 0o700)
	r.run("generate-key-pair")
	r.run("generate-key-pair", "--output-key-prefix", "other")
	// A signing config without log or TSA: sign offline.
	os.WriteFile(filepath.Join(work, "sc.json"), []byte(`{"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.2+json"}`), 0o644)
	pemBytes, err := os.ReadFile(filepath.Join(work, "cosign.pub"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(pemBytes)
	if blk == nil {
		t.Fatal("cosign.pub is not PEM")
	}
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}

	l := newTestLayout(t)
	classic, msg, att := l.image("classic"), l.image("message"), l.image("dsse")

	// Classic, as `cosign save` lays it out: kind annotations, no tags.
	payload := simpleSigning(classic.Digest)
	os.WriteFile(filepath.Join(work, "payload.json"), payload, 0o644)
	r.run("sign-blob", "--key", "cosign.key", "--signing-config", "sc.json", "--bundle", "classic.bundle", "--yes", "payload.json")
	var b struct {
		MessageSignature struct {
			Signature string `json:"signature"`
		} `json:"messageSignature"`
	}
	data, _ := os.ReadFile(filepath.Join(work, "classic.bundle"))
	if err := json.Unmarshal(data, &b); err != nil || b.MessageSignature.Signature == "" {
		t.Fatalf("cosign bundle %s: %v", data, err)
	}
	layer := l.blob(MediaTypeSimpleSigning, payload)
	layer.Annotations = map[string]string{AnnotationCosignSignature: b.MessageSignature.Signature}
	cfg := l.blob("application/vnd.oci.image.config.v1+json", emptyConfig)
	sigs := l.blob(MediaTypeImageManifest, mustJSON(t, testManifest{SchemaVersion: 2, MediaType: MediaTypeImageManifest, Config: cfg, Layers: []Descriptor{layer}}))
	img := classic
	img.Annotations = map[string]string{annotationKind: "dev.cosignproject.cosign/image"}
	sigs.Annotations = map[string]string{annotationKind: kindSigs}
	l.index = append(l.index, img, sigs)
	classicDir := l.write()

	// cosign reads this layout as a signed image.
	r.run("verify", "--local-image=true", "--key", "cosign.pub", "--insecure-ignore-tlog=true", "--offline=true", classicDir)
	if _, _, err := r.try("verify", "--local-image=true", "--key", "other.pub", "--insecure-ignore-tlog=true", "--offline=true", classicDir); err == nil {
		t.Fatal("cosign verified the layout with another key")
	}

	// Referrers, in a second layout holding all three.
	l.index = append(l.index, msg, att)
	os.WriteFile(filepath.Join(work, "message.manifest"), must(os.ReadFile(filepath.Join(l.dir, blobPath(msg.Digest)))), 0o644)
	os.WriteFile(filepath.Join(work, "dsse.manifest"), must(os.ReadFile(filepath.Join(l.dir, blobPath(att.Digest)))), 0o644)
	os.WriteFile(filepath.Join(work, "predicate.json"), []byte(`{}`), 0o644)
	r.run("sign-blob", "--key", "cosign.key", "--signing-config", "sc.json", "--bundle", "message.bundle", "--yes", "message.manifest")
	r.run("attest-blob", "--key", "cosign.key", "--signing-config", "sc.json", "--bundle", "dsse.bundle", "--yes",
		"--type", "https://sigstore.dev/cosign/sign/v1", "--predicate", "predicate.json", "dsse.manifest")
	l.referrer(msg, must(os.ReadFile(filepath.Join(work, "message.bundle"))))
	l.referrer(att, must(os.ReadFile(filepath.Join(work, "dsse.bundle"))))
	dir := l.write()

	c := newChecker(t, openDB(t), Config{ReleaseKeys: []crypto.PublicKey{pub}})
	res, err := c.ImportLayout(context.Background(), dir, "admin")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{classic.Digest, msg.Digest, att.Digest}
	slices.Sort(want)
	if !slices.Equal(res.Digests, want) {
		t.Fatalf("imported %v, want %v", res.Digests, want)
	}
	forms := map[string]string{}
	for _, rel := range res.Releases {
		forms[rel.Digest] = rel.Form
	}
	if forms[classic.Digest] != FormCosignClassic || forms[msg.Digest] != FormReferrerMessage || forms[att.Digest] != FormReferrerDSSE {
		t.Errorf("forms %v", forms)
	}
	for _, d := range want {
		if err := c.Check(context.Background(), "t", d); err != nil {
			t.Errorf("Check(%s) = %v", d, err)
		}
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
