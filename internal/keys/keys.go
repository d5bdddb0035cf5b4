package keys

import (
	"context"
	"crypto"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/stellaops/stellad/internal/keys/file"
	"github.com/stellaops/stellad/internal/keys/internal/keymeta"
	"github.com/stellaops/stellad/internal/keys/pkcs11"
)

// Key is an opened signing key. Public is the key's public half (an
// *ecdsa.PublicKey on P-256); Sign follows crypto.Signer: a digest in, an
// ASN.1 DER signature out. URI is the key's URI with any pin-value removed,
// safe to log and show. Keys are safe for concurrent use.
//
// Both concrete keys also have
//
//	SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error)
//
// which stops waiting for an HSM session when ctx is done; consumers that
// want it declare that interface themselves.
type Key interface {
	crypto.Signer
	URI() string
}

// Info describes one key found by List: its URI, KeyID (lowercase hex
// SHA-256 of the PKIX public key) and Algorithm ("ECDSA P-256" for keys
// stellad can use).
type Info = keymeta.Info

// ErrNotFound reports that the key (file, or private key object in a token)
// a URI names does not exist.
var ErrNotFound = keymeta.ErrNotFound

// ErrExists reports that Generate refused to replace an existing key.
var ErrExists = keymeta.ErrExists

// ErrPKCS11Unavailable is returned for pkcs11: URIs by a binary built with
// CGO_ENABLED=0; its message says to build with cgo.
var ErrPKCS11Unavailable = keymeta.ErrPKCS11Unavailable

// Config configures an Opener. The zero value opens file keys and pkcs11 keys
// whose URIs name their module.
type Config struct {
	// Logger receives key lifecycle records (never PINs); nil discards them.
	Logger *slog.Logger
	// DefaultModule is the PKCS#11 module path for URIs without module-path.
	DefaultModule string
	// Development accepts pin-value in pkcs11 URIs. Never set it in
	// production: there PINs come from files (pin-source) only.
	Development bool
	// PKCS11Sessions bounds concurrent PKCS#11 operations per token; zero
	// means pkcs11.DefaultSessions.
	PKCS11Sessions int
	// Rand is the randomness for file key generation and generated CKA_IDs;
	// nil means crypto/rand.
	Rand io.Reader
}

// Opener opens, generates and lists keys by URI. It owns shared PKCS#11
// contexts (one per module and token, reused by every key in it). Its methods
// are safe for concurrent use. Close it when done; keys in tokens stop working
// then.
type Opener struct {
	cfg Config
	log *slog.Logger
	hsm *pkcs11.Provider
}

// NewOpener returns an Opener for cfg. It does no I/O: PKCS#11 modules are
// loaded on first use.
func NewOpener(cfg Config) *Opener {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Opener{
		cfg: cfg,
		log: log,
		hsm: pkcs11.NewProvider(pkcs11.Config{
			Logger:        log,
			DefaultModule: cfg.DefaultModule,
			AllowPINValue: cfg.Development,
			Sessions:      cfg.PKCS11Sessions,
			Rand:          cfg.Rand,
		}),
	}
}

type scheme int

const (
	schemeFile scheme = iota + 1
	schemePKCS11
)

func schemeOf(uri string) (scheme, error) {
	switch {
	case strings.HasPrefix(uri, file.Scheme):
		return schemeFile, nil
	case len(uri) >= len(pkcs11.Scheme) && strings.EqualFold(uri[:len(pkcs11.Scheme)], pkcs11.Scheme):
		return schemePKCS11, nil
	}
	name, _, ok := strings.Cut(uri, ":")
	if !ok || len(name) > 20 {
		return 0, fmt.Errorf("key URI has no scheme; want file:PATH or pkcs11:...")
	}
	return 0, fmt.Errorf("key URI scheme %q is not supported; want file: or pkcs11:", name)
}

// Open opens the key uri names: file:PATH (a 0600 PKCS#8 ECDSA P-256 PEM file)
// or pkcs11:... (RFC 7512). Errors name the file, token or object at fault;
// a missing key wraps ErrNotFound; pkcs11 URIs in a build without cgo give
// ErrPKCS11Unavailable.
func (o *Opener) Open(ctx context.Context, uri string) (Key, error) {
	s, err := schemeOf(uri)
	if err != nil {
		return nil, err
	}
	switch s {
	case schemeFile:
		k, err := file.Open(ctx, uri)
		if err != nil {
			return nil, err
		}
		return k, nil
	default:
		k, err := o.hsm.Open(ctx, uri)
		if err != nil {
			return nil, err
		}
		return k, nil
	}
}

// Generate creates a new ECDSA P-256 key at uri and returns it opened. For
// file: it writes a new 0600 PKCS#8 file (directories created 0700) and never
// replaces an existing one; for pkcs11: the key pair is generated inside the
// token, non-extractable and sensitive, labelled with object and identified
// by id (random when absent). Both refuse, wrapping ErrExists, when the key
// already exists.
func (o *Opener) Generate(ctx context.Context, uri string) (Key, error) {
	s, err := schemeOf(uri)
	if err != nil {
		return nil, err
	}
	switch s {
	case schemeFile:
		k, err := file.Generate(ctx, uri, o.cfg.Rand)
		if err != nil {
			return nil, err
		}
		o.log.Info("file key generated", "key_uri", k.URI())
		return k, nil
	default:
		k, err := o.hsm.Generate(ctx, uri)
		if err != nil {
			return nil, err
		}
		return k, nil
	}
}

// List returns the keys at uri, sorted by URI: for file:DIR the *.pem keys in
// that directory, for pkcs11:token=X the private keys in the token. Each
// Info.URI opens its key (a pkcs11 one carries the listing URI's module-path
// and pin-source).
func (o *Opener) List(ctx context.Context, uri string) ([]Info, error) {
	s, err := schemeOf(uri)
	if err != nil {
		return nil, err
	}
	if s == schemeFile {
		return file.List(ctx, uri, o.log)
	}
	return o.hsm.List(ctx, uri)
}

// Close closes every PKCS#11 context, waiting for operations in flight. Keys
// in tokens fail afterwards; file keys keep working. Close is idempotent.
func (o *Opener) Close() error {
	return o.hsm.Close()
}
