// Package translog is the appliance's transparency log: a Tessera v1 log on the POSIX driver
// (C2SP tlog-tiles on disk, Rekor v2 formats) plus a per-request checkpointer.
//
// The promise: when Append returns without error, the leaf is durably sequenced and integrated
// at Proof.Index, Proof.Checkpoint is a C2SP signed note (tlog-checkpoint) by Config.Signer for
// a tree of Proof.TreeSize > Proof.Index whose root is Proof.RootHash, and Proof.Hashes is the
// RFC 6962 inclusion proof of the leaf in that tree. Every root this package signs is a root of
// the tree Tessera builds on disk: Log checks each checkpoint Tessera publishes against the
// roots it signed itself and stops appending (ErrDiverged) if they ever disagree.
//
// Why a checkpointer of our own: Tessera's POSIX driver publishes /checkpoint at most once per
// CheckpointInterval (100 ms minimum), which caps callers that wait for a covering checkpoint
// at about (callers in flight)/(interval). Log instead mirrors the tree in memory as a compact
// range (github.com/transparency-dev/merkle/compact). Once Tessera has integrated a batch and
// the callers' futures have resolved, one goroutine extends the range over every contiguous new
// leaf, signs one checkpoint for the new size with the same note.Signer and the same bytes
// Tessera would produce, and computes each waiter's inclusion proof in memory. Tessera keeps
// publishing its own checkpoint for monitors and witnesses, served by Handler.
//
// Batching: a feeder goroutine hands entries to Tessera in groups (everything queued while the
// previous group was being written), so that the batch size follows the load; see config.go
// for the measurements behind this and the defaults.
//
// Concurrency: all methods of Log are safe for concurrent use. Lifecycle: New opens (or creates)
// the log in Config.Dir and must be paired with Close, after which Append returns ErrClosed.
// Only one Log may write a directory at a time.
package translog
