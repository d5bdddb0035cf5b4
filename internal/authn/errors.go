package authn

import (
	"github.com/stellaops/stellad/internal/refusal"
)

// Refusal codes carried by *Error. They are stable: clients, dashboards and
// the audit trail match on them. The HTTP status the API is meant to answer
// with is given next to each.
const (
	// CodeMissing (401): the request carries no Authorization header.
	CodeMissing = "auth_missing"
	// CodeMalformed (401): the Authorization header or the access token cannot
	// be parsed, uses another scheme, an algorithm outside ES256/RS256/EdDSA,
	// a wrong typ, or lacks a required claim (exp, iat, sub, client_id, jti,
	// the tenant claim).
	CodeMalformed = "auth_malformed"
	// CodeBadSignature (401): the token's signature does not verify with the
	// issuer's key named by its kid, or that key does not fit the algorithm.
	CodeBadSignature = "auth_bad_signature"
	// CodeUnknownKID (401): the token has no kid, or its kid is not in the
	// issuer's JWKS (a key rotated out, or a token from another Authority).
	CodeUnknownKID = "auth_unknown_kid"
	// CodeWrongIssuer (401): the token's iss is not a configured issuer.
	CodeWrongIssuer = "auth_wrong_issuer"
	// CodeWrongAudience (401): the token's aud does not name the audience the
	// endpoint requires ("signer" or "attestor").
	CodeWrongAudience = "auth_wrong_audience"
	// CodeExpired (401): exp is in the past, beyond the allowed clock skew.
	CodeExpired = "auth_expired"
	// CodeNotYetValid (401): nbf or iat is in the future, beyond the allowed
	// clock skew.
	CodeNotYetValid = "auth_not_yet_valid"
	// CodeInsufficientScope (403): the token is valid but its scope lacks the
	// one the endpoint requires, or a unix peer is not in the admin group.
	CodeInsufficientScope = "auth_insufficient_scope"
	// CodeTenantForbidden (403): the caller asked for another tenant's data
	// (see Principal.CheckTenant).
	CodeTenantForbidden = "auth_tenant_forbidden"
	// CodeDPoPMissing (401): the token is bound to a DPoP key (cnf.jkt) but
	// came without the DPoP scheme or without a DPoP proof header.
	CodeDPoPMissing = "dpop_missing"
	// CodeDPoPInvalid (401): the DPoP proof is malformed, badly signed, or
	// its typ, alg, jwk, htm, htu, iat or ath do not fit the request.
	CodeDPoPInvalid = "dpop_invalid"
	// CodeDPoPReplayed (401): the DPoP proof's jti was used before.
	CodeDPoPReplayed = "dpop_replayed"
	// CodeCnfMismatch (401): the token's confirmation (cnf.jkt or
	// cnf.x5t#S256) does not match the DPoP proof key or the TLS client
	// certificate presented.
	CodeCnfMismatch = "cnf_mismatch"
	// CodeSenderConstraintMissing (401): the token carries no cnf claim; every
	// token must be bound to a DPoP key or to a client certificate.
	CodeSenderConstraintMissing = "sender_constraint_missing"
)

// Error is a refusal by this package: Code is one of the Code constants
// above (internal/api maps it to the status documented next to it).
type Error = refusal.Error

func refuse(code, format string, args ...any) *Error {
	return refusal.New(code, format, args...)
}
