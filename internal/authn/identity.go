package authn

import (
	"strings"
	"time"

	josejson "github.com/go-jose/go-jose/v4/json"
	"github.com/go-jose/go-jose/v4/jwt"
)

// AudienceSigstore is the audience of the identity tokens that the
// appliance's certificate authority accepts (Fulcio's default audience, the
// one cosign's OIDC flows ask for).
const AudienceSigstore = "sigstore"

// Identity is the caller an identity token names, for the certificate
// authority: Subject is the verified email address when the token carries
// one (Email true), otherwise the token's sub; Issuer is the token's iss.
// Tenant is the tenant claim, empty when the token has none.
type Identity struct {
	Subject string
	Email   bool
	Issuer  string
	Tenant  string
	// Expiry is when the token expires.
	Expiry time.Time
}

// identityClaims are the OpenID Connect ID token claims read (OpenID Connect
// Core 1.0 §2 and §5.1).
type identityClaims struct {
	Subject       string           `json:"sub"`
	Audience      jwt.Audience     `json:"aud"`
	Expiry        *jwt.NumericDate `json:"exp"`
	NotBefore     *jwt.NumericDate `json:"nbf"`
	IssuedAt      *jwt.NumericDate `json:"iat"`
	Email         string           `json:"email"`
	EmailVerified *bool            `json:"email_verified"`
	Issuer        string           `json:"iss"`
}

// VerifyIdentity checks an identity token (an OpenID Connect ID token issued
// by one of the configured Authorities) for the certificate authority, the
// way Fulcio checks its callers' tokens: the signature by a key of the
// issuer's JWKS (kid lookup), iss, aud containing audience, exp, nbf and iat
// with the configured clock skew. The identity is the email claim when it is
// present (then email_verified must be true) and the sub claim otherwise.
// Access tokens (typ at+jwt) are refused: they are meant for the API and are
// bound to a key the CA request does not prove. An identity token is not
// sender-constrained (cosign presents it as a bearer token); the proof of
// possession of the key to be certified is the CA's own check.
//
// Refusals are *Error values with the codes of Authenticate
// (auth_malformed, auth_bad_signature, auth_unknown_kid, auth_wrong_issuer,
// auth_wrong_audience, auth_expired, auth_not_yet_valid).
func (a *Authenticator) VerifyIdentity(raw, audience string) (*Identity, error) {
	now := a.now()
	payload, err := a.verifyJWS(strings.TrimSpace(raw), "identity token", func(typ string) bool {
		return typ == "" || typ == "jwt" || typ == "application/jwt"
	})
	if err != nil {
		return nil, err
	}
	var c identityClaims
	if err := josejson.Unmarshal(payload, &c); err != nil {
		return nil, refuse(CodeMalformed, "identity token claims are not a JSON object of the expected types: %v", err)
	}
	switch {
	case c.Expiry == nil:
		return nil, refuse(CodeMalformed, "identity token has no exp")
	case c.IssuedAt == nil:
		return nil, refuse(CodeMalformed, "identity token has no iat")
	case c.Subject == "":
		return nil, refuse(CodeMalformed, "identity token has no sub")
	case !c.Audience.Contains(audience):
		return nil, refuse(CodeWrongAudience, "identity token audience %q does not include %q", truncate(strings.Join(c.Audience, " ")), audience)
	}
	exp := c.Expiry.Time()
	if !now.Before(exp.Add(a.skew)) {
		return nil, refuse(CodeExpired, "identity token expired at %s", exp.UTC().Format(time.RFC3339))
	}
	if c.NotBefore != nil && now.Add(a.skew).Before(c.NotBefore.Time()) {
		return nil, refuse(CodeNotYetValid, "identity token is not valid before %s", c.NotBefore.Time().UTC().Format(time.RFC3339))
	}
	if now.Add(a.skew).Before(c.IssuedAt.Time()) {
		return nil, refuse(CodeNotYetValid, "identity token was issued in the future (%s)", c.IssuedAt.Time().UTC().Format(time.RFC3339))
	}
	id := &Identity{Subject: c.Subject, Issuer: c.Issuer, Expiry: exp}
	if c.Email != "" {
		if c.EmailVerified == nil || !*c.EmailVerified {
			return nil, refuse(CodeMalformed, "identity token names email %q but email_verified is not true", truncate(c.Email))
		}
		id.Subject, id.Email = c.Email, true
	}
	if tenant, err := a.tenantClaim(payload); err == nil {
		id.Tenant = tenant
	}
	return id, nil
}
