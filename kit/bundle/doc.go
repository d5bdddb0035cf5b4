// Package bundle builds and checks the log-side formats of a stellad
// signature: Rekor v2 hashedrekord v0.0.2 leaves, RFC 6962 leaf hashes and
// inclusion proofs, C2SP signed-note checkpoints, Sigstore bundles v0.3 for
// DSSE envelopes, and the Sigstore trusted root that lets stock cosign and
// sigstore-go verify them offline.
//
// Promises. Every encoder is deterministic: the same inputs give the same
// bytes. [HashedRekord.CanonicalBody] is byte-identical to the entry body
// the Rekor v2 server (rekor-tiles v2.3.0) builds for the same request
// (protojson then RFC 8785), so a leaf hash computed here equals the one a
// Rekor v2 verifier reconstructs. [NewDSSE] and [NewTrustedRoot] follow the
// protobuf JSON mapping of sigstore/protobuf-specs (lowerCamel names, int64
// as strings, bytes as standard base64, RFC 3339 timestamps) but are written
// by hand: protojson deliberately varies its whitespace, and the bundle
// encoder runs on the signing hot path. Decoders ([Parse],
// [ParseHashedRekord], [VerifyCheckpoint]) refuse unknown fields, duplicate
// keys and trailing data, naming what failed.
//
// Checkpoints are signed notes (C2SP signed-note, tlog-checkpoint). An ECDSA
// P-256 log key signs the way Rekor v2 does (key hash = first 4 bytes of
// SHA-256 of the PKIX DER key; signature = ASN.1 ECDSA over SHA-256 of the
// note text); an Ed25519 key signs in the golang.org/x/mod/sumdb/note form.
// Signing goes through crypto.Signer, so the key may sit in an HSM.
//
// Libraries: golang.org/x/mod/sumdb/note for note framing and
// transparency-dev/merkle for RFC 6962 proof checking. sigstore-go and
// rekor-tiles are used only by the tests, as interoperability peers; they
// are not linked into programs that import this package.
//
// All functions are safe for concurrent use.
package bundle
