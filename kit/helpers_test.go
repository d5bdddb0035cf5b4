package kit

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"testing"

	"github.com/stellaops/stellad/kit/dsse"
)

// seededKey returns a deterministic Ed25519 key so tests never depend on
// randomness.
func seededKey(b byte) ed25519.PrivateKey {
	seed := bytes.Repeat([]byte{b}, ed25519.SeedSize)
	return ed25519.NewKeyFromSeed(seed)
}

func pub(k ed25519.PrivateKey) crypto.PublicKey { return k.Public() }

func testOptions() WriterOptions {
	return WriterOptions{Kind: KindBuild, CreatedBy: "stellactl test", Source: "connected.example", Sequence: 7}
}

type content struct {
	path, mediaType string
	data            []byte
}

func sampleFiles() []content {
	return []content{
		{"trust/trusted_root.json", MediaTypeTrustedRoot, []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`)},
		{"checkpoints/rekor.example/checkpoint", MediaTypeCheckpoint, []byte("rekor.example\n3\nAAAA\n\n— rekor.example x\n")},
		{"attestations/b1.sigstore.json", MediaTypeBundle, []byte(`{"bundle":1}`)},
		{"trust/witness-policy", MediaTypeWitnessPolicy, []byte("quorum none\n")},
		{"tiles/rekor.example/tile/0/000", MediaTypeTile, bytes.Repeat([]byte{0xab}, 96)},
		{"entitlements/licence.jwt", MediaTypeLicence, []byte("e30.e30.sig")},
		{"trust/empty", "application/octet-stream", nil},
	}
}

// buildKit writes a kit of files signed by signers.
func buildKit(t testing.TB, opts WriterOptions, files []content, signers ...crypto.Signer) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if err := w.Add(f.path, f.mediaType, f.data); err != nil {
			t.Fatalf("Add(%s): %v", f.path, err)
		}
	}
	if err := w.Close(signers...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// rawEntry is one tar entry of a hand-made archive.
type rawEntry struct {
	hdr  tar.Header
	data []byte
}

func reg(name string, data []byte) rawEntry {
	return rawEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(data)), Mode: 0o644}, data: data}
}

// signedHead returns the manifest and envelope entries for files, signed by
// signers, as a kit would start.
func signedHead(t testing.TB, files []File, signers ...crypto.Signer) []rawEntry {
	t.Helper()
	m := Manifest{KitVersion: Version, Kind: KindBuild, CreatedBy: "t", Source: "s", Files: files}
	mj, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var ks []dsse.KeySigner
	for _, s := range signers {
		ks = append(ks, dsse.KeySigner{Signer: s})
	}
	env, err := dsse.Sign(nil, PayloadType, mj, ks...)
	if err != nil {
		t.Fatal(err)
	}
	ej, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return []rawEntry{reg(ManifestPath, mj), reg(SignaturePath, ej)}
}

func fileFor(path string, data []byte) File {
	sum := sha256.Sum256(data)
	return File{Path: path, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data)), MediaType: "application/octet-stream"}
}

// craft writes entries as a tar stream in a kit-style gzip member, followed
// inside the gzip stream by extra bytes.
func craft(t testing.TB, entries []rawEntry, extra []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.OS = 255
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := e.hdr
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(extra); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", want)
	}
	if !errors.Is(err, want) {
		t.Fatalf("got %v, want %v", err, want)
	}
	var ke *Error
	if !errors.As(err, &ke) {
		t.Fatalf("error %v is not a *kit.Error", err)
	}
}

// countingReader counts what a reader consumed from its input.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func newGzip(b []byte) (*gzip.Reader, error) { return gzip.NewReader(bytes.NewReader(b)) }

func newTar(r io.Reader) *tar.Reader { return tar.NewReader(r) }
