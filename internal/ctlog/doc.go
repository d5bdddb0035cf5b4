// Package ctlog is the appliance's certificate transparency log: a c2sp.org/static-ct-api log
// on Tessera (github.com/transparency-dev/tessera, POSIX driver, CT layout), embedded in
// stellad and fed by the appliance's own CA.
//
// The promise: when AddPreChain (or AddChain) returns an SCT, the entry is durably sequenced
// and integrated into the tree on disk at the index the SCT's leaf_index extension names, its
// issuers are served under /issuer/, and the SCT is an RFC 6962 §3.2 SignedCertificateTimestamp
// v1 by Config.Signer over the same timestamp and extensions stored in the entry, so RFC 6962
// verifiers (certificate-transparency-go ctutil.VerifySCT, sigstore-go, cosign) accept it
// against the precertificate and against the final certificate that embeds it. A checkpoint
// covering the entry is published within about a second (Tessera's checkpoint interval).
//
// Checkpoints are C2SP signed notes with an RFC6962NoteSignature by the same key, whose origin
// is Config.Origin, the log's submission prefix without scheme (e.g. "ct.example.internal/ct").
// Handler serves the static-ct-api monitoring paths from the log directory.
//
// The log does not implement the RFC 6962 HTTP submission API (add-chain, add-pre-chain,
// get-roots) and accepts any chain whose links verify: only the appliance's CA calls it,
// in-process. It keeps no antispam index, so a resubmitted chain gets a new entry.
//
// Concurrency: all methods of Log are safe for concurrent use. Lifecycle: New opens (or
// creates) the log in Config.Dir and must be paired with Close; only one Log may use a
// directory at a time.
package ctlog
