// Package authn decides who is calling stellad: OAuth 2 access tokens in JWT
// form (RFC 9068) issued by the site's Authority, each bound to its sender
// either by a DPoP proof (RFC 9449, cnf.jkt) or by the TLS client
// certificate (RFC 8705, cnf.x5t#S256), and unix peer credentials on the
// admin socket.
//
// The promise: Authenticate returns a Principal only for a request whose
// access token is signed (ES256, RS256 or EdDSA; never "none" or HS*) by a
// key of a configured issuer's JWKS named by the token's kid, is within its
// validity window (with bounded clock skew), names the required audience and
// scope, carries a tenant, and was sent by the holder of the key or
// certificate it is bound to. A token without a binding is refused. A DPoP
// proof is accepted once: its jti is reserved in memory by Authenticate and
// made durable by RecordJTI in the caller's transaction, and New reloads the
// unexpired jtis, so a proof stays refused across a restart. Every refusal is
// an *Error carrying one of the stable Code constants.
//
// All JOSE processing is done by github.com/go-jose/go-jose/v4. Verified
// access tokens are cached by the SHA-256 of their compact form until they
// expire; DPoP proofs are verified on every request.
//
// Lifecycle: New once at start-up (after store.Open with Migrations), Prune
// periodically, SetIssuers whenever the trusted Authorities change (an
// Offline Kit installed new Authority keys: the swap is atomic and drops the
// cached tokens of every issuer whose keys changed), nothing to close. All
// methods are safe for concurrent use.
package authn
