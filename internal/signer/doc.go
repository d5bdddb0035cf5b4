// Package signer holds the appliance's signing keys by purpose and signs DSSE
// envelopes with them.
//
// A Key wraps a crypto.Signer opened by internal/keys (a file key or a key in a
// PKCS#11 token) together with what every bundle and log entry derived from its
// signatures needs: the PKIX public key, its key id (hex SHA-256 of the PKIX DER)
// and the Rekor v2 key details. A Set chooses the key for a request; today every
// tenant shares the default DSSE key, and the admission work gives tenants and
// plans keys of their own through the same call.
//
// Keys are safe for concurrent use when their crypto.Signer is; internal/keys
// guarantees that for both backends.
package signer
