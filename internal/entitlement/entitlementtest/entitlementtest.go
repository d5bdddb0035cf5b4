// Package entitlementtest gives tests a licensing vendor: a real ECDSA P-256
// key that signs licences the way the vendor does.
package entitlementtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
	"time"

	"github.com/stellaops/stellad/internal/entitlement"
)

// Vendor is a licensing vendor for tests. Its fields are read-only.
type Vendor struct {
	// Key is the vendor's licensing key.
	Key *ecdsa.PrivateKey
}

// NewVendor makes a vendor with a fresh key.
func NewVendor(t testing.TB) *Vendor {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("entitlementtest: generating vendor key: %v", err)
	}
	return &Vendor{Key: k}
}

// Public returns the vendor's public key, for entitlement.Config.VendorKeys.
func (v *Vendor) Public() crypto.PublicKey { return v.Key.Public() }

// Licence returns a licence for tenants on the "standard" plan, issued at
// now, valid from an hour before now for 30 days, with generous quotas.
func Licence(id string, now time.Time, tenants ...string) entitlement.Licence {
	return entitlement.Licence{
		LicenceID: id,
		Licensee:  "Example Org",
		Tenants:   tenants,
		Plan:      "standard",
		Quotas: entitlement.Quotas{
			RequestsPerSecond: 1000, Burst: 1000, Concurrent: 64,
			MaxPayloadBytes: 1 << 20, SignaturesPerDay: 1_000_000,
		},
		NotBefore: now.Add(-time.Hour).UTC().Truncate(time.Second),
		NotAfter:  now.Add(30 * 24 * time.Hour).UTC().Truncate(time.Second),
		IssuedAt:  now.UTC().Truncate(time.Second),
	}
}

// Sign signs l as the vendor and returns the envelope for Import.
func (v *Vendor) Sign(t testing.TB, l entitlement.Licence) []byte {
	t.Helper()
	doc, err := entitlement.SignLicence(v.Key, l)
	if err != nil {
		t.Fatalf("entitlementtest: signing licence: %v", err)
	}
	return doc
}
