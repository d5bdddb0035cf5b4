// Package audit keeps stellad's audit trail: one durable row per request,
// allowed or refused, written in the same SQLite transaction as the request's
// effect, and chained by SHA-256 so that a later edit of the table is
// detectable.
//
// The promise: [Trail.Verify] (and [VerifyExport] for an exported file, offline)
// recomputes every row's hash from its content and the previous row's hash, and
// reports the first row that was changed, deleted or inserted after it was
// written. Rewriting the table consistently (every hash recomputed from the
// edit onwards) or cutting rows off its end is caught by the anchors: the
// chain head is logged at a fixed interval in the transparency log as an
// in-toto statement ([AnchorStatement]) and recorded with [Trail.RecordAnchor];
// Verify fails when an anchored hash differs from the recomputed one.
//
// Row hash (version 1):
//
//	hash = SHA-256(HashDomain || prev || canonical JSON of the row's fields incl. seq)
//
// where prev is the previous row's hash (32 zero bytes before the first row),
// the JSON is RFC 8785 canonical (member names sorted, no white space) and the
// time is RFC 3339 in UTC with exactly nine fractional digits. See
// [Row.MarshalCanonical] for the members.
//
// Writes ([Trail.Append], [Trail.RecordAnchor]) run inside the caller's
// transaction (store.DB.Commit or store.DB.Tx) and take the chain head from
// the table, so they are correct under group commit, savepoint rollback and
// retry, other writers, and after a restart. Append remembers the head it
// wrote last only as a hint: its INSERT carries the hinted head as a
// condition (no later row, same hash), and when that fails it reads the head
// and inserts after it, so a hint left ahead by a rolled-back row costs one
// extra statement, never a broken chain. Reads ([Trail.List], [Trail.Head], [Trail.Export], [Trail.Verify])
// use the read-only pool. A Trail is safe for concurrent use.
package audit
