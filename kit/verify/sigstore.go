package verify

import (
	"time"

	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"

	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"
)

// checkWithSigstore asks sigstore-go v1.3.0's verifier, the one cosign runs, to
// verify the same bundle with the same key and artifact digest. Key-only Rekor
// v2 bundles carry no timestamps, hence WithNoObserverTimestamps (the only
// option set sigstore-go accepts for them); one verified log entry is required.
func checkWithSigstore(in *input) error {
	sb, err := sgbundle.NewBundle(in.raw)
	if err != nil {
		return failf("sigstore-go refuses the bundle: %v", err)
	}
	sv, err := signature.LoadDefaultVerifier(in.key)
	if err != nil {
		return failf("loading a verifier for the public key: %v", err)
	}
	key := root.NewExpiringKey(sv, time.Time{}, time.Time{})
	keys := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) { return key, nil })
	material := root.TrustedMaterialCollection{in.trusted, keys}

	v, err := sgverify.NewVerifier(material, sgverify.WithTransparencyLog(1), sgverify.WithNoObserverTimestamps())
	if err != nil {
		return failf("configuring sigstore-go's verifier: %v", err)
	}
	policy := sgverify.NewPolicy(sgverify.WithArtifactDigest("sha256", in.digest), sgverify.WithKey())
	if _, err := v.Verify(sb, policy); err != nil {
		return failf("sigstore-go refuses the bundle: %v", err)
	}
	return nil
}
