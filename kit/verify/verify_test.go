package verify_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"

	"github.com/stellaops/stellad/kit/verify"
	"github.com/stellaops/stellad/kit/verify/verifytest"
)

func newFixture(t testing.TB) *verifytest.Fixture {
	t.Helper()
	f, err := verifytest.New(verifytest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func goodOptions(f *verifytest.Fixture) verify.Options {
	sum := sha256.Sum256(f.Artifact)
	return verify.Options{TrustedRoot: f.TrustedRoot, Key: &f.Signer.PublicKey, ArtifactDigest: sum[:]}
}

func TestVerifyAccepts(t *testing.T) {
	f := newFixture(t)
	opts := goodOptions(f)
	opts.PredicateType = "https://slsa.dev/provenance/v1"
	res, err := verify.Verify(f.Bundle(), opts)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if res.PredicateType != "https://slsa.dev/provenance/v1" || res.LogIndex != 5 || res.TreeSize != 11 ||
		res.LogOrigin != "log.stellad.test" || len(res.Subjects) != 1 || res.Subjects[0].Name != "artifact.txt" {
		t.Errorf("result = %+v", res)
	}
	if len(res.KeyID) != 64 || len(res.LogID) != 64 {
		t.Errorf("key id %q, log id %q: want hex SHA-256", res.KeyID, res.LogID)
	}

	// The artifact as a reader gives the same answer.
	opts.ArtifactDigest = nil
	opts.Artifact = bytes.NewReader(f.Artifact)
	if _, err := verify.Verify(f.Bundle(), opts); err != nil {
		t.Fatalf("Verify with Artifact reader: %v", err)
	}
}

func TestVerifyRejects(t *testing.T) {
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherSum := sha256.Sum256([]byte("another artifact"))
	tests := []struct {
		name    string
		mutate  func(f *verifytest.Fixture, o *verify.Options) []byte
		wantErr error
		wantMsg string
	}{
		{"not json", func(f *verifytest.Fixture, o *verify.Options) []byte { return []byte("{") }, verify.ErrInvalidInput, "parsing bundle"},
		{"empty", func(f *verifytest.Fixture, o *verify.Options) []byte { return nil }, verify.ErrInvalidInput, "empty"},
		{"not a bundle", func(f *verifytest.Fixture, o *verify.Options) []byte { return []byte(`{"a":1}`) }, verify.ErrInvalidInput, "parsing bundle"},
		{"no trusted root", func(f *verifytest.Fixture, o *verify.Options) []byte { o.TrustedRoot = nil; return f.Bundle() }, verify.ErrInvalidInput, "trusted root"},
		{"bad trusted root", func(f *verifytest.Fixture, o *verify.Options) []byte { o.TrustedRoot = []byte("[]"); return f.Bundle() }, verify.ErrInvalidInput, "trusted root"},
		{"no key", func(f *verifytest.Fixture, o *verify.Options) []byte { o.Key = nil; return f.Bundle() }, verify.ErrKeyRequired, "no certificate"},
		{"no artifact", func(f *verifytest.Fixture, o *verify.Options) []byte { o.ArtifactDigest = nil; return f.Bundle() }, verify.ErrInvalidInput, "no artifact"},
		{"short digest", func(f *verifytest.Fixture, o *verify.Options) []byte { o.ArtifactDigest = []byte{1}; return f.Bundle() }, verify.ErrInvalidInput, "artifact digest"},
		{"wrong key", func(f *verifytest.Fixture, o *verify.Options) []byte { o.Key = &other.PublicKey; return f.Bundle() }, verify.ErrVerification, "envelope signature does not verify"},
		{"other artifact", func(f *verifytest.Fixture, o *verify.Options) []byte {
			o.ArtifactDigest = otherSum[:]
			return f.Bundle()
		}, verify.ErrVerification, "is not a subject"},
		{"other predicate type", func(f *verifytest.Fixture, o *verify.Options) []byte {
			o.PredicateType = "https://spdx.dev/Document"
			return f.Bundle()
		}, verify.ErrVerification, "predicate type"},
		{"untrusted log", func(f *verifytest.Fixture, o *verify.Options) []byte {
			tr, err := verifytest.TrustedRoot(f.BaseURL, &other.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			o.TrustedRoot = tr
			return f.Bundle()
		}, verify.ErrVerification, "no log entry is from a log of the trusted root"},
		{"origin differs from baseUrl host", func(f *verifytest.Fixture, o *verify.Options) []byte {
			tr, err := verifytest.TrustedRoot("https://elsewhere.test:8443/api", &f.LogKey.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			o.TrustedRoot = tr
			return f.Bundle()
		}, verify.ErrVerification, "checkpoint origin"},
		{"checkpoint by another key", func(f *verifytest.Fixture, o *verify.Options) []byte {
			cp, err := verifytest.SignCheckpoint(other, f.Origin, f.TreeSize, f.RootHash, nil)
			if err != nil {
				t.Fatal(err)
			}
			f.Checkpoint = cp
			return f.Bundle()
		}, verify.ErrVerification, "checkpoint is not signed"},
		{"checkpoint for another size", func(f *verifytest.Fixture, o *verify.Options) []byte {
			cp, err := verifytest.SignCheckpoint(f.LogKey, f.Origin, f.TreeSize+1, f.RootHash, nil)
			if err != nil {
				t.Fatal(err)
			}
			f.Checkpoint = cp
			return f.Bundle()
		}, verify.ErrVerification, "tree size"},
		{"body of another signature", func(f *verifytest.Fixture, o *verify.Options) []byte {
			sum := sha256.Sum256(verifytest.PAE(verifytest.PayloadType, f.Statement))
			sig, _ := ecdsa.SignASN1(rand.Reader, f.Signer, sum[:])
			body, err := verifytest.HashedRekordBody(sum[:], sig, &f.Signer.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			f.Body = body
			return f.Bundle()
		}, verify.ErrVerification, "logged signature is not the envelope's"},
		{"two signatures", func(f *verifytest.Fixture, o *verify.Options) []byte {
			var m map[string]any
			if err := json.Unmarshal(f.Bundle(), &m); err != nil {
				t.Fatal(err)
			}
			env := m["dsseEnvelope"].(map[string]any)
			sigs := env["signatures"].([]any)
			env["signatures"] = append(sigs, sigs[0])
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}, verify.ErrVerification, "2 signatures"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			opts := goodOptions(f)
			b := tt.mutate(f, &opts)
			_, err := verify.Verify(b, opts)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify error = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Verify error %q does not name %q", err, tt.wantMsg)
			}
		})
	}
}

// TestVerifyRejectsEveryFlip flips each byte (one at a time) of the envelope
// payload and signature, the log entry body, the inclusion proof and the
// checkpoint, and expects ErrVerification every time.
func TestVerifyRejectsEveryFlip(t *testing.T) {
	f := newFixture(t)
	opts := goodOptions(f)
	if _, err := verify.Verify(f.Bundle(), opts); err != nil {
		t.Fatalf("untampered bundle: %v", err)
	}
	flipAll := func(t *testing.T, name string, b []byte) {
		t.Helper()
		for i := range b {
			b[i] ^= 0x01
			_, err := verify.Verify(f.Bundle(), opts)
			b[i] ^= 0x01
			if !errors.Is(err, verify.ErrVerification) {
				t.Fatalf("%s byte %d flipped: error = %v, want ErrVerification", name, i, err)
			}
		}
	}
	flipAll(t, "payload", f.Statement)
	flipAll(t, "signature", f.Signature)
	flipAll(t, "body", f.Body)
	flipAll(t, "root hash", f.RootHash)
	for j, h := range f.Hashes {
		flipAll(t, "proof hash "+string(rune('0'+j)), h)
	}

	// Checkpoint: every byte of the note text, and every byte of the decoded
	// signature (base64 may ignore a flipped padding bit of its last character).
	orig := f.Checkpoint
	text, sigLine, _ := strings.Cut(orig, "\n\n")
	tb := []byte(text)
	for i := range tb {
		tb[i] ^= 0x01
		f.Checkpoint = string(tb) + "\n\n" + sigLine
		_, err := verify.Verify(f.Bundle(), opts)
		tb[i] ^= 0x01
		if !errors.Is(err, verify.ErrVerification) {
			t.Fatalf("checkpoint text byte %d flipped: error = %v", i, err)
		}
	}
	prefix, enc, _ := strings.Cut(strings.TrimSuffix(sigLine, "\n"), " "+f.Origin+" ")
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		t.Fatal(err)
	}
	for i := range raw {
		raw[i] ^= 0x01
		f.Checkpoint = text + "\n\n" + prefix + " " + f.Origin + " " + base64.StdEncoding.EncodeToString(raw) + "\n"
		_, err := verify.Verify(f.Bundle(), opts)
		raw[i] ^= 0x01
		if !errors.Is(err, verify.ErrVerification) {
			t.Fatalf("checkpoint signature byte %d flipped: error = %v", i, err)
		}
	}
	f.Checkpoint = orig

	// Removing or adding a proof hash fails too.
	saved := f.Hashes
	f.Hashes = saved[:len(saved)-1]
	if _, err := verify.Verify(f.Bundle(), opts); !errors.Is(err, verify.ErrVerification) {
		t.Fatalf("short proof: error = %v", err)
	}
	f.Hashes = append(append([][]byte{}, saved...), make([]byte, 32))
	if _, err := verify.Verify(f.Bundle(), opts); !errors.Is(err, verify.ErrVerification) {
		t.Fatalf("long proof: error = %v", err)
	}
}

// TestCosignAgrees runs stock cosign on the fixture when the binary is present:
// the fixture is a real bundle, not one only this package accepts.
func TestCosignAgrees(t *testing.T) {
	cosign, err := exec.LookPath("cosign")
	if err != nil {
		if _, serr := os.Stat("/root/go/bin/cosign"); serr != nil {
			t.Skip("cosign not installed")
		}
		cosign = "/root/go/bin/cosign"
	}
	if testing.Short() {
		t.Skip("cosign run skipped in -short mode")
	}
	f := newFixture(t)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	art := write("artifact.txt", f.Artifact)
	key := write("signer.pub", f.PublicKeyPEM())
	tr := write("trusted_root.json", f.TrustedRoot)
	run := func(bundle []byte) (string, error) {
		b := write("bundle.json", bundle)
		cmd := exec.Command(cosign, "verify-blob-attestation", "--bundle", b, "--key", key, "--trusted-root", tr,
			"--type", "https://slsa.dev/provenance/v1", art)
		cmd.Env = append(os.Environ(), "HOME="+dir)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run(f.Bundle()); err != nil {
		t.Fatalf("cosign refuses the fixture: %v\n%s", err, out)
	}
	f.Hashes[0][0] ^= 1
	if out, err := run(f.Bundle()); err == nil {
		t.Fatalf("cosign accepts a tampered bundle:\n%s", out)
	}
}

func BenchmarkVerify(b *testing.B) {
	f := newFixture(b)
	opts := goodOptions(f)
	bundle := f.Bundle()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := verify.Verify(bundle, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func TestVerifyCheckpointAndInclusion(t *testing.T) {
	f := newFixture(t)
	cp, err := verify.VerifyCheckpoint(f.TrustedRoot, f.Checkpoint)
	if err != nil {
		t.Fatalf("VerifyCheckpoint: %v", err)
	}
	if cp.Origin != f.Origin || cp.Size != f.TreeSize || !bytes.Equal(cp.RootHash, f.RootHash) {
		t.Fatalf("checkpoint = %+v", cp)
	}
	leaf := verify.LeafHash(f.Body)
	if err := verify.VerifyInclusion(cp, f.LeafIndex, leaf, f.Hashes); err != nil {
		t.Fatalf("VerifyInclusion: %v", err)
	}
	if err := verify.VerifyInclusion(cp, f.LeafIndex+1, leaf, f.Hashes); !errors.Is(err, verify.ErrVerification) {
		t.Fatalf("wrong index: %v", err)
	}
	other, err := verifytest.New(verifytest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify.VerifyCheckpoint(other.TrustedRoot, f.Checkpoint); !errors.Is(err, verify.ErrVerification) {
		t.Fatalf("checkpoint of another log key: %v", err)
	}
	otherHost, err := verifytest.TrustedRoot("https://other.test", &f.LogKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify.VerifyCheckpoint(otherHost, f.Checkpoint); !errors.Is(err, verify.ErrVerification) || !strings.Contains(err.Error(), "origin") {
		t.Fatalf("checkpoint of another origin: %v", err)
	}
	if _, err := verify.VerifyCheckpoint([]byte("x"), f.Checkpoint); !errors.Is(err, verify.ErrInvalidInput) {
		t.Fatalf("bad trusted root: %v", err)
	}
}

func TestVerifyConsistency(t *testing.T) {
	tree := testonly.New(rfc6962.DefaultHasher)
	for i := 0; i < 20; i++ {
		tree.AppendData([]byte{byte(i)})
	}
	cp := &verify.Checkpoint{Size: 20, RootHash: tree.Hash()}
	hashes, err := tree.ConsistencyProof(7, 20)
	if err != nil {
		t.Fatal(err)
	}
	if err := verify.VerifyConsistency(cp, 7, tree.HashAt(7), hashes); err != nil {
		t.Fatalf("VerifyConsistency: %v", err)
	}
	if err := verify.VerifyConsistency(cp, 7, tree.HashAt(8), hashes); !errors.Is(err, verify.ErrVerification) {
		t.Fatalf("wrong old root: %v", err)
	}
}
