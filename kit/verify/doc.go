// Package verify checks a Sigstore bundle v0.3 that carries a DSSE envelope with
// an in-toto statement and a Rekor v2 (hashedrekord v0.0.2) log entry, fully
// offline: no network, no clock, no TUF. It is what stellactl and air-gapped
// verifiers run on a bundle issued by stellad or by stock cosign.
//
// Verify runs its own checks first so that every failure names what is wrong
// (the envelope signature, the subject digest, the predicate type, the log entry
// body, the inclusion proof, the checkpoint origin or signature), and then asks
// sigstore-go's verifier, the code cosign runs, to agree. A bundle is accepted
// only when both agree.
//
// Errors: every "the bundle does not verify" answer wraps ErrVerification;
// malformed inputs (not JSON, not a bundle, an unusable trusted root or key)
// wrap ErrInvalidInput. A key-hint bundle verified without a key wraps
// ErrKeyRequired (which also wraps ErrInvalidInput).
//
// VerifyWitnessed then ties a verified bundle's checkpoint to a mirrored
// checkpoint of the same log that witnesses cosigned (C2SP tlog-cosignature,
// evaluated with a kit/witness policy), as an Offline Kit carries it
// (KitMirrors) or a tlog-tiles mirror serves it (TileReader): the same tree,
// or a prefix proven by a carried consistency proof or by one computed from
// the mirrored tiles. A contradiction is ErrSplitView (an ErrVerification);
// ErrUncovered and ErrBelowPolicy (both ErrNotWitnessed) say it could not be
// tied, which callers may downgrade to a warning.
//
// The package imports no stellad internals: offline verifiers may depend on it.
package verify
