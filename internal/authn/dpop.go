package authn

import (
	"crypto"
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejson "github.com/go-jose/go-jose/v4/json"
	"github.com/go-jose/go-jose/v4/jwt"
)

// proofClaims are the DPoP proof claims read (RFC 9449 §4.2).
type proofClaims struct {
	JTI      string           `json:"jti"`
	HTM      string           `json:"htm"`
	HTU      string           `json:"htu"`
	IssuedAt *jwt.NumericDate `json:"iat"`
	ATH      string           `json:"ath"`
}

// dpopProof is a DPoP proof whose signature verified with its own jwk.
type dpopProof struct {
	jkt    string // RFC 7638 thumbprint of the proof key, base64url
	claims proofClaims
}

// parseProof parses a DPoP proof JWT and verifies its signature with the
// public key in its jwk header (RFC 9449 §4.3 steps 2-7, less the claim
// checks that depend on the request).
func parseProof(raw string) (*dpopProof, error) {
	if len(raw) > maxProofLen {
		return nil, refuse(CodeDPoPInvalid, "DPoP proof is longer than %d bytes", maxProofLen)
	}
	jws, err := jose.ParseSignedCompact(raw, allowedAlgs)
	if err != nil {
		return nil, refuse(CodeDPoPInvalid, "DPoP proof is not a compact JWS with an allowed algorithm: %v", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, refuse(CodeDPoPInvalid, "DPoP proof must carry exactly one signature")
	}
	h := jws.Signatures[0].Protected
	if typ := typHeader(h); typ != "dpop+jwt" {
		return nil, refuse(CodeDPoPInvalid, "DPoP proof typ %q is not dpop+jwt", truncate(typ))
	}
	// go-jose has already refused a jwk that is not a valid public key.
	jwk := h.JSONWebKey
	if jwk == nil {
		return nil, refuse(CodeDPoPInvalid, "DPoP proof has no jwk header")
	}
	if !keyFitsAlg(jwk, h.Algorithm) {
		return nil, refuse(CodeDPoPInvalid, "DPoP proof key does not fit algorithm %s", h.Algorithm)
	}
	payload, err := jws.Verify(jwk.Key)
	if err != nil {
		return nil, refuse(CodeDPoPInvalid, "DPoP proof signature does not verify with its jwk")
	}
	p := &dpopProof{}
	if err := josejson.Unmarshal(payload, &p.claims); err != nil {
		return nil, refuse(CodeDPoPInvalid, "DPoP proof claims are not a JSON object of the expected types: %v", err)
	}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, refuse(CodeDPoPInvalid, "computing the DPoP key thumbprint: %v", err)
	}
	p.jkt = base64.RawURLEncoding.EncodeToString(tp)
	return p, nil
}

// checkDPoP checks the DPoP proof of r against the access token whose
// SHA-256 is tokenHash (RFC 9449 §4.3 and §7.1), reserves its jti, and fills
// p's DPoP fields.
func (a *Authenticator) checkDPoP(r *http.Request, tokenHash [32]byte, tok *verifiedToken, now time.Time, p *Principal) error {
	hdrs := r.Header.Values("DPoP")
	switch {
	case len(hdrs) == 0:
		return refuse(CodeDPoPMissing, "no DPoP proof header")
	case len(hdrs) > 1:
		return refuse(CodeDPoPInvalid, "more than one DPoP header")
	}
	proof, err := parseProof(strings.TrimSpace(hdrs[0]))
	if err != nil {
		return err
	}
	if proof.jkt != tok.jkt {
		return refuse(CodeCnfMismatch, "DPoP proof key does not match the token's cnf.jkt")
	}
	if err := a.checkProofClaims(r, tokenHash, &proof.claims, now); err != nil {
		return err
	}
	exp := proof.claims.IssuedAt.Time().Add(a.dpopMaxAge + 2*a.skew)
	if err := a.replay.reserve(replayKey(proof.jkt, proof.claims.JTI), exp, now); err != nil {
		return err
	}
	p.JKT = proof.jkt
	p.DPoPJTI = proof.claims.JTI
	p.DPoPExpiry = exp
	return nil
}

// checkProofClaims checks htm, htu, iat, jti and ath against the request and
// the SHA-256 of its access token.
func (a *Authenticator) checkProofClaims(r *http.Request, tokenHash [32]byte, c *proofClaims, now time.Time) error {
	if c.JTI == "" || len(c.JTI) > maxJTILen {
		return refuse(CodeDPoPInvalid, "DPoP proof jti is missing or longer than %d bytes", maxJTILen)
	}
	if c.HTM != r.Method {
		return refuse(CodeDPoPInvalid, "DPoP proof htm %q does not match method %s", truncate(c.HTM), r.Method)
	}
	if !htuMatches(c.HTU, r) {
		return refuse(CodeDPoPInvalid, "DPoP proof htu %q does not match the request URI", truncate(c.HTU))
	}
	if c.IssuedAt == nil {
		return refuse(CodeDPoPInvalid, "DPoP proof has no iat")
	}
	iat := c.IssuedAt.Time()
	if now.Add(a.skew).Before(iat) {
		return refuse(CodeDPoPInvalid, "DPoP proof iat %s is in the future", iat.UTC().Format(time.RFC3339))
	}
	if iat.Add(a.dpopMaxAge + a.skew).Before(now) {
		return refuse(CodeDPoPInvalid, "DPoP proof iat %s is older than %s", iat.UTC().Format(time.RFC3339), a.dpopMaxAge)
	}
	if c.ATH != base64.RawURLEncoding.EncodeToString(tokenHash[:]) {
		return refuse(CodeDPoPInvalid, "DPoP proof ath does not match the access token")
	}
	return nil
}

// htuMatches compares a proof's htu with r's URI without query and fragment
// (RFC 9449 §4.3 step 9): the scheme comes from r.TLS, the authority from
// r.Host and the path from r.URL.Path. Scheme and host compare case
// insensitively and default ports are dropped (RFC 3986 §6.2.2-6.2.3); an
// empty path equals "/".
func htuMatches(htu string, r *http.Request) bool {
	u, err := url.Parse(htu)
	if err != nil || u.User != nil || u.Opaque != "" {
		return false
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if strings.ToLower(u.Scheme) != scheme {
		return false
	}
	if normHost(u.Host, scheme) != normHost(r.Host, scheme) {
		return false
	}
	return normPath(u.Path) == normPath(r.URL.Path)
}

// normHost lower-cases host and drops the scheme's default port.
func normHost(hostport, scheme string) string {
	hostport = strings.ToLower(hostport)
	host, port, err := net.SplitHostPort(hostport)
	if err != nil { // no port
		return strings.Trim(hostport, "[]")
	}
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") || port == "" {
		return strings.Trim(host, "[]") // net.SplitHostPort removed the brackets already
	}
	return net.JoinHostPort(host, port)
}

func normPath(p string) string {
	if p == "" {
		return "/"
	}
	return p
}
