// Package store keeps stellad's durable state on the local disk: a SQLite
// database and a content-addressed store (CAS) of immutable blobs such as DSSE
// envelopes.
//
// The package holds no domain logic and no domain tables. [Open] opens the
// database (WAL journal, synchronous=FULL, foreign keys on, one writer
// connection and a pool of read-only connections) and applies the
// [Migration]s its caller passes in; the domains own their SQL and run it
// inside the transactions handed out here:
//
//   - [DB.Read] is the read-only pool for queries.
//   - [DB.Tx] runs one function in its own write transaction (BEGIN IMMEDIATE).
//   - [DB.Commit] runs small write functions of many concurrent callers in one
//     shared transaction with one fsync (group commit); each function runs in
//     its own SAVEPOINT, so a failing function is undone alone and only its
//     caller sees the error.
//
// The promise: when Tx or Commit returns nil, the function's writes are on
// disk (the WAL has been fsynced); when they return an error, none of the
// function's writes are visible. (A [DB.Commit] function that commits the
// shared transaction itself breaks this promise for its batch; see Commit.)
//
// [CAS] stores blobs under the SHA-256 of their content
// (dir/sha256/ab/<64 hex>), writes them atomically (temporary file, fsync,
// rename) and re-hashes them on every read, so a damaged object is reported
// ([ErrCorrupt]) rather than returned.
package store
