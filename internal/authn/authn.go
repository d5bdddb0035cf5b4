package authn

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stellaops/stellad/internal/store"
)

// Defaults applied by New to zero Config fields.
const (
	// DefaultClockSkew is how far the clocks of the Authority, the client
	// and the appliance may disagree.
	DefaultClockSkew = 60 * time.Second
	// DefaultDPoPMaxAge is how old a DPoP proof's iat may be.
	DefaultDPoPMaxAge = 5 * time.Minute
	// DefaultTenantClaim names the access-token claim holding the tenant.
	DefaultTenantClaim = "tenant"
	// DefaultTokenCacheSize bounds the cache of verified access tokens.
	DefaultTokenCacheSize = 4096
	// DefaultMaxReplayEntries bounds the in-memory DPoP jti set.
	DefaultMaxReplayEntries = 1 << 21
)

// Size limits on outside input.
const (
	maxTokenLen = 16 << 10
	maxProofLen = 8 << 10
	maxJTILen   = 256
)

// Audiences and scopes the appliance's endpoints require.
const (
	AudienceSigner   = "signer"   // signing endpoints
	AudienceAttestor = "attestor" // log endpoints
	ScopeSign        = "signer.sign"
	ScopeWrite       = "attestor.write"
	ScopeVerify      = "attestor.verify"
	ScopeAdmin       = "stellad.admin"
)

// Binding values of Principal.Binding: how the caller proved possession.
const (
	BindingDPoP = "dpop" // access token bound by cnf.jkt, DPoP proof (RFC 9449)
	BindingMTLS = "mtls" // access token bound by cnf.x5t#S256 (RFC 8705)
	BindingUnix = "unix" // admin socket, unix peer credentials
	BindingDev  = "dev"  // development mode (set by the daemon, never by Authenticate)
)

// Issuer is one Authority whose access tokens are accepted.
type Issuer struct {
	// URL is the issuer identifier; a token's iss must equal it exactly.
	URL string
	// JWKS is the Authority's JSON Web Key Set document (RFC 7517 §5). It may
	// hold several signing keys during rotation; every key needs a unique kid.
	// Keys with "use":"enc" are ignored. Accepted key types: EC P-256 (ES256),
	// RSA of 2048 bits or more (RS256), Ed25519 (EdDSA).
	JWKS []byte
}

// Config configures New.
type Config struct {
	// Issuers are the Authorities trusted to issue access tokens. Required.
	Issuers []Issuer
	// ClockSkew is the tolerance on exp, nbf, iat and DPoP iat. Zero means
	// DefaultClockSkew.
	ClockSkew time.Duration
	// DPoPMaxAge is how old a DPoP proof may be (by its iat). Zero means
	// DefaultDPoPMaxAge.
	DPoPMaxAge time.Duration
	// TenantClaim names the claim that holds the caller's tenant. Empty means
	// DefaultTenantClaim.
	TenantClaim string
	// DB holds the DPoP replay cache (table dpop_jti, Migrations). Required.
	DB *store.DB
	// TokenCacheSize bounds the number of verified access tokens kept. Zero
	// means DefaultTokenCacheSize; negative disables the cache.
	TokenCacheSize int
	// MaxReplayEntries bounds the unexpired DPoP jtis held in memory; when
	// full, new proofs are refused with dpop_invalid and a RetryAfter. Zero
	// means DefaultMaxReplayEntries.
	MaxReplayEntries int
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// Logger receives start-up and pruning messages. Nil discards.
	Logger *slog.Logger
}

// Requirement is what an endpoint demands of the caller's access token.
// Both fields are required.
type Requirement struct {
	// Audience must be among the token's aud values.
	Audience string
	// Scope must be among the token's space-separated scope values.
	Scope string
}

// Principal is an authenticated caller.
type Principal struct {
	Subject  string // the token's sub, or "unix:uid=N" for the admin socket
	Issuer   string // the token's iss; empty for unix peers
	Tenant   string // the tenant claim; empty for unix peers (all tenants)
	ClientID string // the token's client_id
	TokenID  string // the token's jti
	Scopes   []string
	// Binding is how possession was proved: BindingDPoP, BindingMTLS,
	// BindingUnix or BindingDev.
	Binding string
	// JKT is the DPoP key's RFC 7638 thumbprint (base64url), for BindingDPoP.
	JKT string
	// DPoPJTI is the DPoP proof's jti, for BindingDPoP.
	DPoPJTI string
	// DPoPExpiry is when the proof's jti may be forgotten: after it the proof
	// is too old to be accepted anyway.
	DPoPExpiry time.Time
}

// HasScope reports whether the principal holds scope.
func (p Principal) HasScope(scope string) bool { return slices.Contains(p.Scopes, scope) }

// CheckTenant returns nil when the principal may act for tenant, and an
// *Error with CodeTenantForbidden otherwise. A principal without a tenant
// (an admin on the unix socket) may act for every tenant.
func (p Principal) CheckTenant(tenant string) error {
	if p.Tenant == "" || p.Tenant == tenant {
		return nil
	}
	return refuse(CodeTenantForbidden, "principal of tenant %q may not act for tenant %q", p.Tenant, tenant)
}

// Authenticator checks access tokens and their sender constraint. Its methods
// are safe for concurrent use. It holds no goroutines and needs no closing;
// the caller runs Prune now and then. SetIssuers replaces the trusted
// Authorities while requests are served.
type Authenticator struct {
	issuers    atomic.Pointer[issuerSet] // swapped whole by SetIssuers
	setMu      sync.Mutex                // serialises SetIssuers
	skew       time.Duration
	dpopMaxAge time.Duration
	tenant     string
	now        func() time.Time
	log        *slog.Logger
	db         *store.DB
	insertJTI  *store.Stmt

	tokens *tokenCache
	replay *replayCache
}

// New builds an Authenticator: it parses every issuer's JWKS (refusing
// private keys, duplicate kids and unsupported key types), prepares its SQL
// on cfg.DB and loads the unexpired DPoP jtis from dpop_jti so that a proof
// seen before a restart stays refused. cfg.DB must have been opened with
// Migrations().
func New(ctx context.Context, cfg Config) (*Authenticator, error) {
	if len(cfg.Issuers) == 0 {
		return nil, errors.New("authn: Config.Issuers is empty")
	}
	if cfg.DB == nil {
		return nil, errors.New("authn: Config.DB is nil (the DPoP replay cache needs it)")
	}
	if cfg.ClockSkew < 0 || cfg.DPoPMaxAge < 0 || cfg.MaxReplayEntries < 0 {
		return nil, errors.New("authn: negative ClockSkew, DPoPMaxAge or MaxReplayEntries")
	}
	if cfg.ClockSkew == 0 {
		cfg.ClockSkew = DefaultClockSkew
	}
	if cfg.DPoPMaxAge == 0 {
		cfg.DPoPMaxAge = DefaultDPoPMaxAge
	}
	if cfg.TenantClaim == "" {
		cfg.TenantClaim = DefaultTenantClaim
	}
	if cfg.TokenCacheSize == 0 {
		cfg.TokenCacheSize = DefaultTokenCacheSize
	}
	if cfg.MaxReplayEntries == 0 {
		cfg.MaxReplayEntries = DefaultMaxReplayEntries
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a := &Authenticator{
		skew:       cfg.ClockSkew,
		dpopMaxAge: cfg.DPoPMaxAge,
		tenant:     cfg.TenantClaim,
		now:        cfg.Now,
		log:        cfg.Logger,
		db:         cfg.DB,
		tokens:     newTokenCache(cfg.TokenCacheSize),
		replay:     newReplayCache(cfg.MaxReplayEntries),
	}
	set, err := newIssuerSet(cfg.Issuers, nil)
	if err != nil {
		return nil, err
	}
	a.issuers.Store(&set)
	a.insertJTI, err = cfg.DB.Prepare(ctx, insertJTISQL)
	if err != nil {
		return nil, fmt.Errorf("authn: preparing the dpop_jti insert: %w", err)
	}
	n, err := a.loadJTIs(ctx)
	if err != nil {
		return nil, err
	}
	a.log.Info("loaded DPoP replay cache", "jtis", n)
	return a, nil
}

// Authenticate identifies the caller of r and checks that its access token
// meets req. The token comes from "Authorization: DPoP <jwt>", with a DPoP
// proof in the DPoP header (RFC 9449), or from "Authorization: Bearer <jwt>"
// on a TLS connection whose client certificate the token is bound to (RFC
// 8705). Every refusal is an *Error. When the caller is authenticated but
// lacks req.Scope, Authenticate returns the Principal together with the
// CodeInsufficientScope error, so that the refusal's audit row can name the
// caller. Any other error (not an *Error) is a programming error such as an
// empty Requirement.
//
// A DPoP proof's jti is reserved in memory here, so a concurrent replay of one
// proof is refused for all but one request; the caller makes it durable with
// RecordJTI in the transaction that records the request. r.TLS is trusted as
// set up by the listener, which verifies client certificates.
func (a *Authenticator) Authenticate(r *http.Request, req Requirement) (*Principal, error) {
	if req.Audience == "" || req.Scope == "" {
		return nil, errors.New("authn: Authenticate called with an empty Requirement")
	}
	scheme, raw, err := authorization(r)
	if err != nil {
		return nil, err
	}
	now := a.now()
	tok, tokenHash, err := a.verifyToken(raw, now)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(tok.aud, req.Audience) {
		return nil, refuse(CodeWrongAudience, "token audience %q does not include %q", tok.aud, req.Audience)
	}
	p := &Principal{
		Subject:  tok.sub,
		Issuer:   tok.iss,
		Tenant:   tok.tenant,
		ClientID: tok.clientID,
		TokenID:  tok.jti,
		Scopes:   tok.scopes,
	}
	switch {
	case tok.jkt == "" && tok.x5t == "":
		return nil, refuse(CodeSenderConstraintMissing, "token has no cnf claim binding it to a key or certificate")
	case scheme == schemeBearer && tok.jkt != "":
		return nil, refuse(CodeDPoPMissing, "token is bound to a DPoP key but was sent with the Bearer scheme")
	case scheme == schemeDPoP && tok.jkt == "":
		return nil, refuse(CodeCnfMismatch, "token is bound to a client certificate, not a DPoP key, but was sent with the DPoP scheme")
	}
	if tok.x5t != "" {
		if err := checkCertBinding(r, tok.x5t); err != nil {
			return nil, err
		}
		p.Binding = BindingMTLS
	}
	if scheme == schemeDPoP {
		if err := a.checkDPoP(r, tokenHash, tok, now, p); err != nil {
			return nil, err
		}
		p.Binding = BindingDPoP
	}
	if !p.HasScope(req.Scope) {
		return p, refuse(CodeInsufficientScope, "token scope lacks %q", req.Scope)
	}
	return p, nil
}

const (
	schemeBearer = "bearer"
	schemeDPoP   = "dpop"
)

// authorization returns the scheme (lower case) and the credentials of r's
// single Authorization header.
func authorization(r *http.Request) (scheme, cred string, err error) {
	vals := r.Header.Values("Authorization")
	switch {
	case len(vals) == 0 || (len(vals) == 1 && strings.TrimSpace(vals[0]) == ""):
		return "", "", refuse(CodeMissing, "no Authorization header")
	case len(vals) > 1:
		return "", "", refuse(CodeMalformed, "more than one Authorization header")
	}
	s, c, ok := strings.Cut(strings.TrimSpace(vals[0]), " ")
	c = strings.TrimSpace(c)
	if !ok || c == "" {
		return "", "", refuse(CodeMalformed, "Authorization header is not \"<scheme> <token>\"")
	}
	if len(c) > maxTokenLen {
		return "", "", refuse(CodeMalformed, "access token is longer than %d bytes", maxTokenLen)
	}
	switch s = strings.ToLower(s); s {
	case schemeBearer, schemeDPoP:
		return s, c, nil
	default:
		return "", "", refuse(CodeMalformed, "Authorization scheme must be DPoP or Bearer")
	}
}

// checkCertBinding checks RFC 8705 §3.1: cnf.x5t#S256 is the base64url
// SHA-256 of the DER client certificate the TLS connection presented.
func checkCertBinding(r *http.Request, x5t string) error {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return refuse(CodeCnfMismatch, "token is bound to a client certificate but the connection presented none")
	}
	sum := sha256.Sum256(r.TLS.PeerCertificates[0].Raw)
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	if subtle.ConstantTimeCompare([]byte(got), []byte(x5t)) != 1 {
		return refuse(CodeCnfMismatch, "client certificate does not match the token's cnf.x5t#S256")
	}
	return nil
}
