package entitlement

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/stellaops/stellad/kit/dsse"
)

const fuzzDoc = `{"licenceId":"lic-1","licensee":"Example Org","tenants":["a","b"],"plan":"standard",` +
	`"quotas":{"requestsPerSecond":50,"burst":100,"concurrent":16,"maxPayloadBytes":1048576,"signaturesPerDay":100000},` +
	`"notBefore":"2026-11-01T00:00:00Z","notAfter":"2027-11-01T00:00:00+02:00","issuedAt":"2026-10-30T12:00:00.5Z"}`

// FuzzParseLicence feeds the input to the import path twice: as a whole
// envelope (parse + verify + decode), and as the payload of an envelope the
// vendor key signed, so the document decoder is fuzzed behind a valid
// signature. Nothing may panic; an accepted document must survive
// SignLicence and parse back to the same licence.
func FuzzParseLicence(f *testing.F) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	keys := []crypto.PublicKey{pub}
	for _, s := range []string{
		fuzzDoc,
		strings.Replace(fuzzDoc, `"plan"`, `"Plan"`, 1),
		strings.Replace(fuzzDoc, `"plan":"standard"`, `"plan":"standard","plan":"x"`, 1),
		strings.Replace(fuzzDoc, `"burst":100`, `"burst":100,"x":{"a":[{"b":1,"b":2}]}`, 1),
		`{"licenceId":"x","tenants":["a"],"quotas":{}}`,
		`{}`, `[]`, `null`, `{"quotas":{"burst":1e99}}`,
	} {
		f.Add([]byte(s))
		env, err := dsse.Sign(rand.Reader, PayloadType, []byte(s), dsse.KeySigner{Signer: priv})
		if err != nil {
			f.Fatal(err)
		}
		b, _ := env.Marshal()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			return
		}
		if v, err := parseLicence(data, keys); err == nil {
			roundTrip(t, priv, keys, &v.Licence)
		} else if !errors.Is(err, ErrLicenceInvalid) && !errors.Is(err, ErrLicenceSignature) {
			t.Fatalf("error wraps no sentinel: %v", err)
		}
		env, err := dsse.Sign(rand.Reader, PayloadType, data, dsse.KeySigner{Signer: priv})
		if err != nil {
			t.Fatal(err)
		}
		doc, err := env.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		v, err := parseLicence(doc, keys)
		if err != nil {
			if !errors.Is(err, ErrLicenceInvalid) {
				t.Fatalf("validly signed document refused without ErrLicenceInvalid: %v", err)
			}
			return
		}
		roundTrip(t, priv, keys, &v.Licence)
	})
}

func roundTrip(t *testing.T, s crypto.Signer, keys []crypto.PublicKey, l *Licence) {
	t.Helper()
	doc, err := SignLicence(s, *l)
	if err != nil {
		t.Fatalf("SignLicence of an accepted licence: %v", err)
	}
	v, err := parseLicence(doc, keys)
	if err != nil {
		t.Fatalf("parse of a re-signed licence: %v", err)
	}
	if !sameLicence(&v.Licence, l) {
		a, _ := json.Marshal(l)
		b, _ := json.Marshal(v.Licence)
		t.Fatalf("round trip changed the licence:\n%s\n%s", a, b)
	}
}

func sameLicence(a, b *Licence) bool {
	return a.LicenceID == b.LicenceID && a.Licensee == b.Licensee && slices.Equal(a.Tenants, b.Tenants) &&
		a.Plan == b.Plan && a.Quotas == b.Quotas && a.NotBefore.Equal(b.NotBefore) &&
		a.NotAfter.Equal(b.NotAfter) && a.IssuedAt.Equal(b.IssuedAt)
}
