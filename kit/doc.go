// Package kit reads, writes and verifies the Offline Kit: the archive that
// carries trust roots, mirrored checkpoints, witness cosignatures,
// attestations, entitlements and log tiles across an air gap.
//
// A kit is one gzip-compressed tar archive. Its first entry is manifest.json,
// a canonical JSON document (RFC 8785) that lists every other file with its
// SHA-256, size and media type; its second entry is manifest.dsse.json, a DSSE
// envelope over the exact manifest bytes signed by one or more kit keys; the
// content files follow, sorted by path, under the roots trust/, checkpoints/,
// attestations/, entitlements/ and tiles/. docs/offline-kit-format.md in the
// stellad repository specifies the format for outside verifiers.
//
// The package promises:
//   - Determinism: [Writer] gives byte-identical archives for the same files,
//     options and deterministic signers (Ed25519, RSA PKCS#1 v1.5). ECDSA
//     signatures are randomised, so with ECDSA kit keys two builds differ in
//     manifest.dsse.json (and so in the compressed bytes from there on).
//   - Verify before use: [Verify] (and its synonym [Open]) checks the
//     manifest signature against k of n trusted keys before it parses the
//     manifest, then checks every file's size and SHA-256 while streaming, and
//     returns nothing for a kit that fails any check. [Reader] is the
//     streaming form for callers that cannot hold a kit in memory.
//   - Hard limits: entry count, file size, total size, manifest size and the
//     decompressed stream are bounded ([Limits]); a reader stops at the limit
//     instead of expanding a decompression bomb.
//   - Safe paths: absolute paths, "..", backslashes, non-printable or
//     non-ASCII names, paths outside the known roots, links, devices, FIFOs,
//     directories, duplicates and case-insensitive collisions are refused.
//
// Errors are *[Error] values that name the entry and wrap one of the sentinel
// errors ([ErrFormat], [ErrPath], [ErrEntryType], [ErrDuplicate],
// [ErrUnlisted], [ErrMissing], [ErrDigest], [ErrLimit], [ErrSignature]) so
// callers can branch with errors.Is.
//
// The package imports only the standard library, the RFC 8785 canonicalizer
// (github.com/cyberphone/json-canonicalization) and stellad's kit/dsse, so an
// outside verifier can use it without the appliance. All functions are safe
// for concurrent use; a Writer or Reader is used by one goroutine at a time.
package kit
