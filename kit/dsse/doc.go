// Package dsse implements the Dead Simple Signing Envelope (DSSE v1) and the
// in-toto Statement (v1, with v0.1 accepted on input) as stellad signs, stores
// and verifies them.
//
// The package promises that bytes are signed, not structures: [PAE] is
// computed over the exact payload bytes, [Parse] keeps the decoded payload
// verbatim, and [Envelope.Marshal] and [NewStatement] are deterministic (same
// input, same bytes). [Parse] is strict: unknown fields, duplicate keys,
// case-folded field names, trailing data and malformed base64 are refused
// with an error that names the field. [Verify] counts distinct trusted keys
// and never decides anything from a keyid.
//
// Libraries. RFC 8785 canonical JSON comes from
// github.com/cyberphone/json-canonicalization, the reference implementation
// that the Rekor v2 server also uses. The envelope and statement codecs are
// written here rather than taken from go-securesystemslib's dsse package or
// in-toto/attestation's Go types: the former decodes with plain
// encoding/json (no duplicate-key or unknown-field checks, keyid-driven
// verification) and the latter are protobuf messages whose protojson output
// is deliberately unstable, so neither can give verbatim, deterministic bytes.
// Both libraries are used in this package's tests as interoperability peers:
// envelopes produced here verify with go-securesystemslib's verifier, and
// statements produced here pass in-toto/attestation's Statement.Validate.
//
// Specifications: DSSE v1 (github.com/secure-systems-lab/dsse, envelope.md
// and protocol.md) and in-toto Attestation Framework v1
// (github.com/in-toto/attestation, spec/v1/statement.md and
// resource_descriptor.md).
//
// All functions are safe for concurrent use; values are not synchronised.
package dsse
