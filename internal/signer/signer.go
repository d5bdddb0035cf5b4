package signer

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/stellaops/stellad/kit/dsse"
)

// Key is one signing key with the public material derived from it once.
type Key struct {
	signer     crypto.Signer
	uri        string
	publicDER  []byte
	keyID      string
	keyDetails string
}

// KeyDetailsFunc names a public key's Rekor v2 key details (for example
// PKIX_ECDSA_P256_SHA_256); kit/bundle.KeyDetails is the implementation.
type KeyDetailsFunc func(crypto.PublicKey) (string, error)

// NewKey describes s, opened from uri (already redacted of secrets). It fails
// when the public key cannot be encoded or has no Rekor v2 key details.
func NewKey(s crypto.Signer, uri string, details KeyDetailsFunc) (*Key, error) {
	if s == nil {
		return nil, errors.New("signer: nil crypto.Signer")
	}
	der, err := x509.MarshalPKIXPublicKey(s.Public())
	if err != nil {
		return nil, fmt.Errorf("encoding public key of %s: %w", uri, err)
	}
	kd, err := details(s.Public())
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", uri, err)
	}
	sum := sha256.Sum256(der)
	return &Key{signer: s, uri: uri, publicDER: der, keyID: hex.EncodeToString(sum[:]), keyDetails: kd}, nil
}

// URI is the key's URI, without secrets.
func (k *Key) URI() string { return k.uri }

// Public is the key's public half.
func (k *Key) Public() crypto.PublicKey { return k.signer.Public() }

// PublicDER is the PKIX DER encoding of the public key.
func (k *Key) PublicDER() []byte { return k.publicDER }

// KeyID is the lower-case hex SHA-256 of PublicDER.
func (k *Key) KeyID() string { return k.keyID }

// KeyDetails is the Rekor v2 key details name of the key.
func (k *Key) KeyDetails() string { return k.keyDetails }

// SignPAE signs a DSSE pre-authentication encoding with the key.
func (k *Key) SignPAE(rand io.Reader, pae []byte) ([]byte, error) {
	sig, err := dsse.SignPAE(rand, k.signer, pae)
	if err != nil {
		return nil, fmt.Errorf("signing with %s: %w", k.uri, err)
	}
	return sig, nil
}

// Set chooses the key for a request: a tenant (or its plan) may have a DSSE
// key of its own, every other tenant signs with the default key. The zero
// value is not usable; build one with NewSet. A Set is read-only once built
// and safe for concurrent use.
type Set struct {
	dsse     *Key
	byTenant map[string]*Key
	all      []*Key
}

// NewSet returns a Set whose tenants sign DSSE envelopes with def, except the
// tenants named in perTenant, which sign with their own key. It refuses a nil
// key and an empty tenant name.
func NewSet(def *Key, perTenant map[string]*Key) (*Set, error) {
	if def == nil {
		return nil, errors.New("signer: no default DSSE key")
	}
	s := &Set{dsse: def, byTenant: map[string]*Key{}, all: []*Key{def}}
	seen := map[string]bool{def.KeyID(): true}
	tenants := make([]string, 0, len(perTenant))
	for t := range perTenant {
		tenants = append(tenants, t)
	}
	slices.Sort(tenants)
	for _, t := range tenants {
		k := perTenant[t]
		if t == "" || k == nil {
			return nil, fmt.Errorf("signer: tenant key %q: empty tenant or nil key", t)
		}
		s.byTenant[t] = k
		if !seen[k.KeyID()] {
			seen[k.KeyID()] = true
			s.all = append(s.all, k)
		}
	}
	return s, nil
}

// DSSE returns the key that signs envelopes for tenant.
func (s *Set) DSSE(tenant string) *Key {
	if k, ok := s.byTenant[tenant]; ok {
		return k
	}
	return s.dsse
}

// All lists every distinct DSSE key of the set, the default first, then the
// tenants' keys in tenant order.
func (s *Set) All() []*Key { return slices.Clone(s.all) }
