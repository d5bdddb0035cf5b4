package signer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"testing"
)

func details(pub crypto.PublicKey) (string, error) { return "PKIX_ECDSA_P256_SHA_256", nil }

func newKey(t *testing.T, uri string) *Key {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := NewKey(priv, uri, details)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSetPerTenant(t *testing.T) {
	def, a, b := newKey(t, "file:def"), newKey(t, "file:a"), newKey(t, "file:b")
	s, err := NewSet(def, map[string]*Key{"tenant-b": b, "tenant-a": a, "tenant-a2": a})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		tenant string
		want   *Key
	}{{"tenant-a", a}, {"tenant-a2", a}, {"tenant-b", b}, {"other", def}, {"", def}} {
		if got := s.DSSE(tc.tenant); got != tc.want {
			t.Errorf("DSSE(%q) = %s, want %s", tc.tenant, got.URI(), tc.want.URI())
		}
	}
	all := s.All()
	if len(all) != 3 || all[0] != def || all[1] != a || all[2] != b {
		var uris []string
		for _, k := range all {
			uris = append(uris, k.URI())
		}
		t.Errorf("All() = %v, want [file:def file:a file:b]", uris)
	}
	der, _ := x509.MarshalPKIXPublicKey(a.Public())
	if fmt.Sprintf("%x", der) != fmt.Sprintf("%x", a.PublicDER()) {
		t.Error("PublicDER differs from the PKIX encoding")
	}
}

func TestNewSetRefuses(t *testing.T) {
	def := newKey(t, "file:def")
	if _, err := NewSet(nil, nil); err == nil {
		t.Error("NewSet(nil) succeeded")
	}
	if _, err := NewSet(def, map[string]*Key{"": def}); err == nil {
		t.Error("NewSet with an empty tenant succeeded")
	}
	if _, err := NewSet(def, map[string]*Key{"t": nil}); err == nil {
		t.Error("NewSet with a nil tenant key succeeded")
	}
}
