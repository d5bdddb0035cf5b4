// Package witness verifies witness cosignatures on transparency-log
// checkpoints and evaluates witness policies, for checkpoints carried in an
// Offline Kit.
//
// Specifications: C2SP signed-note (notes and verifier keys), C2SP
// tlog-checkpoint (the checkpoint body), C2SP tlog-cosignature
// (cosignature/v1: an Ed25519 signature of type 0x04 over
// "cosignature/v1\ntime <t>\n" followed by the checkpoint body, the
// signature bytes being the 8-byte big-endian time then the Ed25519
// signature), and the witness policy format of Sigsum and C2SP tlog-policy
// (log, witness, group and quorum lines).
//
// Libraries. Note parsing and signature dispatch come from
// golang.org/x/mod/sumdb/note; the cosignature/v1 verifier and the signature
// timestamp from github.com/transparency-dev/formats/note; the checkpoint
// body from github.com/transparency-dev/formats/log. Written here, and why:
//   - NewVerifier checks the key hash written in a vkey (formats derives it
//     and ignores the written one) and accepts Ed25519 keys only.
//   - Open separates the log's signature from the cosignatures, reports each
//     witness's time, and checks the checkpoint strictly (origin equal to the
//     log key name, canonical size, 32-byte root hash), which formats'
//     lenient Checkpoint.Unmarshal does not.
//   - ParsePolicy: formats/witness.ParsePolicy requires a URL on every
//     witness line, ignores log lines, lets a later quorum line replace an
//     earlier one, accepts a threshold of 0, gives errors without line
//     numbers, and answers only "satisfied or not" for a whole note, so the
//     policy parser and evaluator are written here.
//
// All functions are safe for concurrent use; a parsed *Policy is read-only.
package witness
