package policy

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stellaops/stellad/internal/store"
	"github.com/stellaops/stellad/internal/store/storetest"
	"github.com/stellaops/stellad/kit/dsse"
)

// testLayout writes an OCI image layout in a temporary directory, the way a
// registry tool (cosign save, oras, skopeo) would.
type testLayout struct {
	t     testing.TB
	dir   string
	index []Descriptor
}

func newTestLayout(t testing.TB) *testLayout {
	t.Helper()
	l := &testLayout{t: t, dir: filepath.Join(t.TempDir(), "layout")}
	if err := os.MkdirAll(filepath.Join(l.dir, "blobs", "sha256"), 0o755); err != nil {
		t.Fatal(err)
	}
	l.writeFile("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	return l
}

func (l *testLayout) writeFile(name string, data []byte) {
	l.t.Helper()
	if err := os.WriteFile(filepath.Join(l.dir, name), data, 0o644); err != nil {
		l.t.Fatal(err)
	}
}

func digestOf(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// blob stores data and returns its descriptor.
func (l *testLayout) blob(mediaType string, data []byte) Descriptor {
	l.t.Helper()
	d := Descriptor{MediaType: mediaType, Digest: digestOf(data), Size: int64(len(data))}
	l.writeFile(blobPath(d.Digest), data)
	return d
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type testManifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	ArtifactType  string            `json:"artifactType,omitempty"`
	Config        Descriptor        `json:"config"`
	Layers        []Descriptor      `json:"layers"`
	Subject       *Descriptor       `json:"subject,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

type testIndex struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Manifests     []Descriptor `json:"manifests"`
}

// emptyConfig is the OCI empty descriptor's content (manifest.md).
var emptyConfig = []byte("{}")

// image writes a small scanner image (config, one layer, manifest) named by
// name and returns its manifest descriptor, not listed in index.json.
func (l *testLayout) image(name string) Descriptor {
	l.t.Helper()
	cfg := l.blob("application/vnd.oci.image.config.v1+json", mustJSON(l.t, map[string]any{"architecture": "amd64", "os": "linux", "config": map[string]any{"Labels": map[string]string{"name": name}}}))
	layer := l.blob("application/vnd.oci.image.layer.v1.tar+gzip", []byte("layer of "+name))
	return l.blob(MediaTypeImageManifest, mustJSON(l.t, testManifest{SchemaVersion: 2, MediaType: MediaTypeImageManifest, Config: cfg, Layers: []Descriptor{layer}}))
}

// list adds d to index.json with the given ref name (none when "").
func (l *testLayout) list(d Descriptor, ref string) {
	if ref != "" {
		d.Annotations = map[string]string{AnnotationRefName: ref}
	}
	l.index = append(l.index, d)
}

// write writes index.json and returns the layout directory.
func (l *testLayout) write() string {
	l.t.Helper()
	l.writeFile("index.json", mustJSON(l.t, testIndex{SchemaVersion: 2, MediaType: MediaTypeImageIndex, Manifests: l.index}))
	return l.dir
}

func sigTag(digest string) string {
	return "sha256-" + digest[len("sha256:"):] + ".sig"
}

// simpleSigning is the payload cosign signs for an image.
func simpleSigning(digest string) []byte {
	return fmt.Appendf(nil, `{"critical":{"identity":{"docker-reference":"registry.example/scanner"},"image":{"docker-manifest-digest":%q},"type":"cosign container image signature"},"optional":null}`, digest)
}

// signMessage signs msg as cosign does for key-based signatures: ECDSA and
// RSA PKCS #1 v1.5 over SHA-256 (SHA-384 for P-384), Ed25519 over msg.
func signMessage(t testing.TB, s crypto.Signer, msg []byte) []byte {
	t.Helper()
	sig, err := dsse.SignPAE(rand.Reader, s, msg) // signs any bytes the same way
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// pssSigner signs with RSA-PSS instead of PKCS #1 v1.5.
type pssSigner struct{ *rsa.PrivateKey }

func (p pssSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return rsa.SignPSS(rand.Reader, p.PrivateKey, opts.HashFunc(), digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
}

// signDigest signs a SHA-256 digest (for messageSignature bundles).
func signDigest(t testing.TB, s crypto.Signer, digest []byte) []byte {
	t.Helper()
	sig, err := s.Sign(rand.Reader, digest, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// classic adds a cosign classic signature of image by s, tagged for tagFor.
func (l *testLayout) classic(s crypto.Signer, image Descriptor, tagFor string) Descriptor {
	l.t.Helper()
	payload := simpleSigning(image.Digest)
	layer := l.blob(MediaTypeSimpleSigning, payload)
	layer.Annotations = map[string]string{AnnotationCosignSignature: base64.StdEncoding.EncodeToString(signMessage(l.t, s, payload))}
	cfg := l.blob("application/vnd.oci.image.config.v1+json", emptyConfig)
	m := l.blob(MediaTypeImageManifest, mustJSON(l.t, testManifest{SchemaVersion: 2, MediaType: MediaTypeImageManifest, Config: cfg, Layers: []Descriptor{layer}}))
	l.list(m, "registry.example/scanner:"+sigTag(tagFor))
	return m
}

// referrer adds an OCI 1.1 referrer of subject holding bundle.
func (l *testLayout) referrer(subject Descriptor, bundle []byte) Descriptor {
	l.t.Helper()
	layer := l.blob(MediaTypeBundle, bundle)
	cfg := l.blob("application/vnd.oci.empty.v1+json", emptyConfig)
	sub := subject
	sub.Annotations = nil
	m := l.blob(MediaTypeImageManifest, mustJSON(l.t, testManifest{
		SchemaVersion: 2, MediaType: MediaTypeImageManifest, ArtifactType: MediaTypeBundle,
		Config: cfg, Layers: []Descriptor{layer}, Subject: &sub,
		Annotations: map[string]string{"dev.sigstore.bundle.content": "dsse-envelope"},
	}))
	l.list(m, "")
	return m
}

// messageBundle is a Sigstore bundle with a messageSignature over the
// manifest whose SHA-256 is digest.
func messageBundle(digest, sig []byte) []byte {
	return fmt.Appendf(nil, `{"mediaType":%q,"verificationMaterial":{"publicKey":{"hint":"x"}},"messageSignature":{"messageDigest":{"algorithm":"SHA2_256","digest":%q},"signature":%q}}`,
		MediaTypeBundle, base64.StdEncoding.EncodeToString(digest), base64.StdEncoding.EncodeToString(sig))
}

// dsseBundle is a Sigstore bundle with a DSSE envelope signed by s over an
// in-toto statement naming subjectDigest, as cosign v3 signs images.
func dsseBundle(t testing.TB, s crypto.Signer, subjectDigest string) []byte {
	t.Helper()
	st, err := dsse.NewStatement([]dsse.ResourceDescriptor{{Name: "registry.example/scanner", Digest: map[string]string{"sha256": subjectDigest[len("sha256:"):]}}},
		"https://sigstore.dev/cosign/sign/v1", json.RawMessage(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	env, err := dsse.Sign(rand.Reader, dsse.PayloadTypeInToto, st, dsse.KeySigner{Signer: s})
	if err != nil {
		t.Fatal(err)
	}
	envJSON, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Appendf(nil, `{"mediaType":%q,"verificationMaterial":{"publicKey":{"hint":"x"}},"dsseEnvelope":%s}`, MediaTypeBundle, envJSON)
}

func digestBytes(digest string) []byte {
	b, _ := hex.DecodeString(digest[len("sha256:"):])
	return b
}

// testKeys are one key of every supported kind.
type testKeys struct {
	p256, p384 *ecdsa.PrivateKey
	ed         ed25519.PrivateKey
	rsa        *rsa.PrivateKey
	other      *ecdsa.PrivateKey // not trusted
}

func newTestKeys(t testing.TB) testKeys {
	t.Helper()
	var k testKeys
	var err error
	if k.p256, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if k.p384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if _, k.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if k.other, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	return k
}

func (k testKeys) trusted() []crypto.PublicKey {
	return []crypto.PublicKey{k.p256.Public(), k.p384.Public(), k.ed.Public(), k.rsa.Public()}
}

// fakeClock is a settable clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

var testStart = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func newChecker(t testing.TB, db *store.DB, cfg Config) *Checker {
	t.Helper()
	cfg.DB = db
	if cfg.Now == nil {
		cfg.Now = (&fakeClock{t: testStart}).now
	}
	c, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func openDB(t testing.TB) *store.DB { return storetest.Open(t, Migrations()...) }

func countRows(t testing.TB, db *store.DB, table string) int {
	t.Helper()
	var n int
	if err := db.Read().QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
