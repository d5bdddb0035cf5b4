package verify_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/stellad/kit/verify"
	"github.com/stellaops/stellad/kit/verify/verifytest"
	"github.com/stellaops/stellad/kit/witness"
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

// FuzzParseConsistencyProof: no panic; an accepted proof has 0 < old <= new
// and 32-byte hashes.
func FuzzParseConsistencyProof(f *testing.F) {
	f.Add([]byte(`{"hashes":["` + strings.Repeat("A", 43) + `="],"newSize":5,"oldSize":3}`))
	f.Add([]byte(`{"hashes":[],"newSize":1,"oldSize":1}`))
	f.Add([]byte(`{"oldSize":1,"oldSize":2}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := verify.ParseConsistencyProof(b)
		if err != nil {
			return
		}
		if p.OldSize == 0 || p.OldSize > p.NewSize {
			t.Fatalf("accepted sizes %d -> %d", p.OldSize, p.NewSize)
		}
		for _, h := range p.Hashes {
			if len(h) != 32 {
				t.Fatalf("accepted a %d-byte hash", len(h))
			}
		}
	})
}

// FuzzVerifyWitnessed feeds arbitrary mirrored checkpoints and tiles to
// VerifyWitnessed: no panic, and errors wrap one of the sentinels.
func FuzzVerifyWitnessed(f *testing.F) {
	l, err := verifytest.NewLog("https://log.fuzz.test", nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	l.AppendFiller(20)
	att, err := l.Attest(verifytest.Config{})
	if err != nil {
		f.Fatal(err)
	}
	l.AppendFiller(30)
	w := verifytest.NewWitness("w", 1, time.Unix(1, 0))
	pol, err := witness.ParsePolicy(verifytest.Policy(1, w))
	if err != nil {
		f.Fatal(err)
	}
	sum := sha256.Sum256(att.Artifact)
	res, err := verify.Verify(att.Bundle(), verify.Options{TrustedRoot: att.TrustedRoot, Key: &att.Signer.PublicKey, ArtifactDigest: sum[:]})
	if err != nil {
		f.Fatal(err)
	}
	cp, err := l.Checkpoint(l.Size(), w)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(cp), l.Tiles(l.Size())["tile/0/000.p/51"])
	f.Add([]byte("log.fuzz.test\n51\n\n"), []byte{})
	f.Fuzz(func(t *testing.T, note, tile []byte) {
		ms := []verify.MirroredLog{{Checkpoint: note, Tiles: verify.MapTiles{"tile/0/000.p/51": tile}}}
		_, err := verify.VerifyWitnessed(context.Background(), res, verify.WitnessOptions{TrustedRoot: att.TrustedRoot, Policy: pol, Mirrors: ms})
		if err != nil && !errors.Is(err, verify.ErrVerification) && !errors.Is(err, verify.ErrInvalidInput) && !errors.Is(err, verify.ErrNotWitnessed) {
			t.Fatalf("error wraps no sentinel: %v", err)
		}
	})
}
