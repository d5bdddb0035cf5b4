// Package attest is the appliance's signing and logging use case, the same code
// behind the HTTP API, the admin socket and batch jobs.
//
// Sign takes an in-toto statement (verbatim, or built from subjects, a predicate
// type and a predicate), signs its DSSE pre-authentication encoding with the
// tenant's key, appends one Rekor v2 hashedrekord v0.0.2 leaf for the signature
// to the transparency log, waits for a signed checkpoint that covers it, and
// records the complete entry before it answers with a Sigstore bundle v0.3. Submit does the same for an envelope signed elsewhere,
// after verifying it against the trusted keys.
//
// Durability contract: an answer is returned only after the entry is in the log
// (Tessera syncs before it resolves an append) and its row, envelope and proof
// are committed with synchronous=FULL. A signature made here cannot be a
// duplicate, so it is appended first and recorded in one insert (one group
// commit); a crash in between leaves a leaf that no row names and nobody was
// answered for. For a submitted envelope a pending row comes first, so that
// its unique uuid refuses a duplicate before anything is appended, and the
// row is marked logged after the append. Reconcile, run once at
// start-up before the service takes requests, settles rows that a crash left
// pending: the log is the source of truth, so a pending row whose leaf is in
// the log becomes logged (with an inclusion proof against the current
// checkpoint) and one whose leaf is not is marked abandoned; no acknowledged
// entry is ever without its row.
//
// Envelopes are stored verbatim, with the issued proof, in entry_blobs under
// the entry's integer id; the entry row keeps the envelope's SHA-256, checked
// on every read. Schema: migrations 1 and 7 (see Migrations).
//
// Bundles are rebuilt on demand from the stored envelope, the stored proof and
// the stored checkpoint; kit/bundle's encoding is deterministic, so a fetched
// bundle is byte-identical to the one first issued.
package attest
