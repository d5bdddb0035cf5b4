package verify_test

import (
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/stellaops/stellad/kit/verify"
	"github.com/stellaops/stellad/kit/verify/verifytest"
)

// FuzzVerify feeds arbitrary bundle bytes to Verify: it must never panic, and
// every error must wrap ErrVerification or ErrInvalidInput.
func FuzzVerify(f *testing.F) {
	fx, err := verifytest.New(verifytest.Config{})
	if err != nil {
		f.Fatal(err)
	}
	good := fx.Bundle()
	f.Add(good)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`))
	sum := sha256.Sum256(fx.Artifact)
	opts := verify.Options{TrustedRoot: fx.TrustedRoot, Key: &fx.Signer.PublicKey, ArtifactDigest: sum[:]}
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := verify.Verify(b, opts)
		if err != nil {
			if !errors.Is(err, verify.ErrVerification) && !errors.Is(err, verify.ErrInvalidInput) {
				t.Fatalf("error wraps neither sentinel: %v", err)
			}
			return
		}
		if res == nil {
			t.Fatal("nil result without error")
		}
	})
}

// FuzzVerifyCheckpoint feeds arbitrary signed notes to VerifyCheckpoint: no
// panic, and errors wrap one of the two sentinels.
func FuzzVerifyCheckpoint(f *testing.F) {
	fx, err := verifytest.New(verifytest.Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(fx.Checkpoint)
	f.Add("log.stellad.test\n1\n\n\n— log.stellad.test AAAA\n")
	f.Fuzz(func(t *testing.T, note string) {
		cp, err := verify.VerifyCheckpoint(fx.TrustedRoot, note)
		if err != nil {
			if !errors.Is(err, verify.ErrVerification) && !errors.Is(err, verify.ErrInvalidInput) {
				t.Fatalf("error wraps neither sentinel: %v", err)
			}
			return
		}
		if cp.Origin != fx.Origin {
			t.Fatalf("accepted checkpoint of origin %q", cp.Origin)
		}
	})
}
