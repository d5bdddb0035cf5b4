//go:build !cgo

package pkcs11

import (
	"context"
	"crypto"
	"io"

	"github.com/stellaops/stellad/internal/keys/internal/keymeta"
)

// Provider would open keys in PKCS#11 tokens; this binary was built without
// cgo, so every method returns ErrUnavailable.
type Provider struct{}

// NewProvider returns a Provider whose methods return ErrUnavailable.
func NewProvider(Config) *Provider { return &Provider{} }

// Open returns ErrUnavailable: PKCS#11 needs cgo.
func (p *Provider) Open(context.Context, string) (*Key, error) { return nil, ErrUnavailable }

// Generate returns ErrUnavailable: PKCS#11 needs cgo.
func (p *Provider) Generate(context.Context, string) (*Key, error) { return nil, ErrUnavailable }

// List returns ErrUnavailable: PKCS#11 needs cgo.
func (p *Provider) List(context.Context, string) ([]keymeta.Info, error) {
	return nil, ErrUnavailable
}

// Close does nothing and returns nil.
func (p *Provider) Close() error { return nil }

// Key is never returned by a build without cgo; its methods fail.
type Key struct{}

// Public returns nil.
func (k *Key) Public() crypto.PublicKey { return nil }

// URI returns "".
func (k *Key) URI() string { return "" }

// Sign returns ErrUnavailable.
func (k *Key) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, ErrUnavailable
}

// SignContext returns ErrUnavailable.
func (k *Key) SignContext(context.Context, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, ErrUnavailable
}
