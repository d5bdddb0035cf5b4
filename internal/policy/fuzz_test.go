package policy

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FuzzOpenLayout writes a layout whose index.json and one manifest blob are
// the fuzzer's bytes (the placeholders @DIGEST@ and @SIZE@ in the index are
// replaced by the manifest blob's digest and size, so that mutations reach
// the manifest decoder) and runs the whole import verification on it: no
// panic, and every failure wraps one of the package's sentinel errors.
func FuzzOpenLayout(f *testing.F) {
	h := strings.Repeat("0a", 32)
	cfg := `{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2}`
	index := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"@DIGEST@","size":@SIZE@,"annotations":{"org.opencontainers.image.ref.name":"sha256-` + h + `.sig"}}]}`
	f.Add([]byte(index), []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":`+cfg+`,"layers":[{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","digest":"sha256:`+h+`","size":10,"annotations":{"dev.cosignproject.cosign/signature":"MEUCIQ=="}}]}`))
	f.Add([]byte(strings.Replace(index, `"annotations":{"org.opencontainers.image.ref.name":"sha256-`+h+`.sig"}`, `"artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json"`, 1)),
		[]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json","config":`+cfg+`,"layers":[{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","digest":"sha256:`+h+`","size":3}],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:`+h+`","size":7}}`))
	f.Add([]byte(strings.Replace(index, "manifest.v1", "index.v1", 1)), []byte(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:`+h+`","size":1}]}`))
	f.Add([]byte(`{"schemaVersion":2,"manifests":[]}`), []byte(`{}`))
	f.Add([]byte(`{"schemaVersion":2,"manifests":[{"digest":"sha256:../../x","size":-1}]}`), []byte(`[`))
	f.Add([]byte(`{"schemaVersion":2,"schemaVersion":2}`), []byte(`null`))
	f.Add([]byte(`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[`), []byte{0xff, 0xfe})
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	rk, err := newReleaseKey(key.Public())
	if err != nil {
		f.Fatal(err)
	}
	// One layout directory per fuzzing process, rewritten in place: creating
	// and removing directories per input would dominate the run.
	dir := f.TempDir()
	fixed := map[string][]byte{
		"oci-layout":                     []byte(`{"imageLayoutVersion":"1.0.0"}`),
		blobPath(digestOf([]byte("{}"))): []byte("{}"),
		blobPath("sha256:" + h):          []byte("0123456789"),
	}
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		f.Fatal(err)
	}
	for name, data := range fixed {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, index, manifest []byte) {
		if len(index) > 1<<16 || len(manifest) > 1<<16 {
			return
		}
		digest := digestOf(manifest)
		index = bytes.ReplaceAll(index, []byte("@DIGEST@"), []byte(digest))
		index = bytes.ReplaceAll(index, []byte("@SIZE@"), []byte(strconv.Itoa(len(manifest))))
		if err := os.WriteFile(filepath.Join(dir, "index.json"), index, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, ok := fixed[blobPath(digest)]; !ok {
			p := filepath.Join(dir, blobPath(digest))
			if err := os.WriteFile(p, manifest, 0o644); err != nil {
				t.Fatal(err)
			}
			defer os.Remove(p)
		}
		l, err := OpenLayout(dir, Limits{MaxBlobSize: 1 << 16, MaxManifests: 64})
		if err != nil {
			checkSentinel(t, err)
			return
		}
		defer l.Close()
		if _, err := verifyLayout(context.Background(), l, []releaseKey{rk}); err != nil {
			checkSentinel(t, err)
		}
	})
}

func checkSentinel(t *testing.T, err error) {
	t.Helper()
	for _, s := range []error{ErrInvalidLayout, ErrSignature, ErrNoRelease} {
		if errors.Is(err, s) {
			return
		}
	}
	t.Fatalf("error wraps no sentinel: %v", err)
}

// FuzzSimpleSigning: the simple-signing decoder never panics and accepts
// only payloads that name a well-formed digest.
func FuzzSimpleSigning(f *testing.F) {
	d := "sha256:" + strings.Repeat("0a", 32)
	f.Add(simpleSigning(d))
	f.Add([]byte(`{"critical":{"identity":{"docker-reference":"r"},"image":{"docker-manifest-digest":"` + d + `"},"type":"cosign container image signature"},"optional":{"a":[1,2,{"b":null}]}}`))
	f.Add([]byte(`{"critical":{"image":{"docker-manifest-digest":"sha256:"}},"Critical":{}}`))
	f.Add([]byte(`{"critical":null}`))
	f.Add([]byte(`{"critical":{"identity":{"docker-reference":"r"},"image":{"docker-manifest-digest":"` + d + `"},"type":"cosign container image signature"}}` + " x"))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := parseSimpleSigning(data)
		if err == nil && !ValidDigest(got) {
			t.Fatalf("accepted digest %q", got)
		}
	})
}

// FuzzReleaseBundle: the Sigstore bundle decoder never panics and yields
// exactly one of an envelope and a message signature.
func FuzzReleaseBundle(f *testing.F) {
	k := newTestKeys(f)
	d := digestBytes("sha256:" + strings.Repeat("0a", 32))
	f.Add(messageBundle(d, signDigest(f, k.p256, d)))
	f.Add(dsseBundle(f, k.p256, "sha256:"+strings.Repeat("0a", 32)))
	f.Add([]byte(fmt.Sprintf(`{"mediaType":%q,"dsseEnvelope":{"payload":"","payloadType":"x","signatures":[]},"messageSignature":{}}`, MediaTypeBundle)))
	f.Add([]byte(fmt.Sprintf(`{"mediaType":%q,"messageSignature":{"messageDigest":{"algorithm":"SHA2_256","digest":"@@"},"signature":""}}`, mediaTypeBundleAlt)))
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.1+json"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := parseReleaseBundle(data)
		if err != nil {
			return
		}
		if (b.envelope == nil) == (b.signature == nil) {
			t.Fatalf("bundle with envelope %v and signature %x", b.envelope != nil, b.signature)
		}
	})
}
