// Package offline imports and exports Offline Kits (see kit and
// docs/offline-kit-format.md) against the appliance's live state.
//
// The promise of Import: a kit changes the appliance's trust only if every
// check passes, and then all of it changes in one SQLite transaction. The
// archive is opened with the installed kit keys and threshold first
// (kit.Open: signature, hashes, limits; revoked kit keys do not count); then
// the manifest's sequence must be above the last one accepted from its
// source; trust/trusted_root.json must not be older than the installed root
// (the latest validity start of its keys); trust/kit-keys.pem replaces the
// kit keys (never with a revoked one); trust/witness-policy (C2SP
// tlog-policy) replaces the witness policy; trust/revocations.json adds
// revoked key ids (revocations only accumulate); trust/authorities.json
// (Authorities and their JWKS, each checked by Config.CheckJWKS) replaces,
// issuer by issuer, the JWKS an older kit installed; each
// trust/scanner-keys/NAME.pem adds a scanner release key (checked by
// Config.CheckReleaseKey, never a revoked one; a later revocation removes
// it). Once such a kit has committed, Config.OnTrustChanged receives
// everything kits installed (Installed), so the daemon swaps its
// authenticator's issuers and its release keys without a restart;
// InstalledTrust reads the same at start. Each
// checkpoints/<origin>/checkpoint must carry the log's signature (keys from
// the trusted root, whose baseUrl host is the origin, or from Config.Peers)
// and cosignatures satisfying the witness policy without revoked witnesses,
// and must extend the checkpoint accepted before for its origin: proven by
// checkpoints/<origin>/consistency.json or by the tiles. A checkpoint that
// contradicts the accepted one is a split view: the import is refused and
// both checkpoints are kept in kit_split_views, the one write a refused
// import makes. tiles/<origin>/tile/... must, together with the tiles already
// mirrored, hash to the checkpoint's root; licences (entitlements/*.dsse.json)
// are verified by internal/entitlement; each bundle under attestations/ must
// have an inclusion proof that ties to an accepted or carried checkpoint.
//
// Crash safety: mirrored tiles are written (atomically, file by file) under
// DataDir/mirror/<origin>/ before the transaction. A tile path's content is
// fixed once the tree is (consistency is checked before anything is
// written), and the mirror serves a tile only if it lies within the tiles
// size the committed state records; New removes every file beyond it. So a
// kill -9 at any point leaves the old state or the new state.
//
// Export writes this appliance's evidence as a kit of kind "export", and
// MirrorHandler serves an imported peer's log read-only with the C2SP
// tlog-tiles API. A Service keeps no state in memory: everything is read
// from the database, so several Services (processes) over one database see
// one state; imports within one Service run one at a time.
package offline
