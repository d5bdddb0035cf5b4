package client

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Credentials decorate a request with the caller's access token: as a DPoP
// bound token (RFC 9449) when a proof key is set, else as a bearer token bound
// to the client's TLS certificate (RFC 8705). The zero value sends nothing.
type Credentials struct {
	// Token is the OAuth access token issued by the site's Authority.
	Token string
	// DPoPKey signs a fresh DPoP proof per request; nil sends a Bearer token.
	DPoPKey crypto.Signer
	// Now stamps the proofs' iat; nil means time.Now.
	Now func() time.Time
}

// Transport returns an http.RoundTripper that adds the credentials to every
// request before base sends it (nil base means http.DefaultTransport). It
// refuses a DPoP key of an unsupported type.
func (c Credentials) Transport(base http.RoundTripper) (http.RoundTripper, error) {
	if base == nil {
		base = http.DefaultTransport
	}
	if c.Token == "" {
		return base, nil
	}
	if strings.ContainsAny(c.Token, " \t\r\n") {
		return nil, errors.New("access token contains white space (a trailing newline in the token file?)")
	}
	t := &authTransport{base: base, token: c.Token, now: c.Now}
	if t.now == nil {
		t.now = time.Now
	}
	if c.DPoPKey != nil {
		alg, err := dpopAlg(c.DPoPKey.Public())
		if err != nil {
			return nil, err
		}
		opts := (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt")
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: c.DPoPKey}, opts)
		if err != nil {
			return nil, fmt.Errorf("DPoP signer: %w", err)
		}
		t.dpop = s
		ath := sha256.Sum256([]byte(c.Token))
		t.ath = base64.RawURLEncoding.EncodeToString(ath[:])
	}
	return t, nil
}

func dpopAlg(pub crypto.PublicKey) (jose.SignatureAlgorithm, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve.Params().BitSize {
		case 256:
			return jose.ES256, nil
		case 384:
			return jose.ES384, nil
		}
	case ed25519.PublicKey:
		return jose.EdDSA, nil
	case *rsa.PublicKey:
		return jose.RS256, nil
	}
	return "", fmt.Errorf("DPoP key of type %T is not supported (want ECDSA P-256/P-384, Ed25519 or RSA)", pub)
}

type authTransport struct {
	base  http.RoundTripper
	token string
	dpop  jose.Signer
	ath   string
	now   func() time.Time
}

// dpopClaims are the claims of a DPoP proof (RFC 9449 §4.2).
type dpopClaims struct {
	JTI string `json:"jti"`
	HTM string `json:"htm"`
	HTU string `json:"htu"`
	IAT int64  `json:"iat"`
	ATH string `json:"ath"`
}

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	if t.dpop == nil {
		r.Header.Set("Authorization", "Bearer "+t.token)
		return t.base.RoundTrip(r)
	}
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return nil, fmt.Errorf("DPoP proof id: %w", err)
	}
	u := *r.URL
	u.RawQuery, u.Fragment, u.User = "", "", nil
	proof, err := jwt.Signed(t.dpop).Claims(dpopClaims{
		JTI: hex.EncodeToString(jti[:]), HTM: r.Method, HTU: u.String(), IAT: t.now().Unix(), ATH: t.ath,
	}).Serialize()
	if err != nil {
		return nil, fmt.Errorf("signing DPoP proof: %w", err)
	}
	r.Header.Set("Authorization", "DPoP "+t.token)
	r.Header.Set("DPoP", proof)
	return t.base.RoundTrip(r)
}
