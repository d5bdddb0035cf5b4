package offline

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// RevocationsPath is where a kit carries revocations.
const RevocationsPath = "trust/revocations.json"

// MaxRevocations bounds the entries of one revocations file.
const MaxRevocations = 10_000

// Revocation is one revoked key: a kit key (kits signed by it stop
// verifying) or a witness key (its cosignatures stop counting).
//
// On the wire, trust/revocations.json is
//
//	{"revocations":[{"keyId":"<64 hex>","reason":"...","revokedAt":"RFC 3339"}]}
//
// keyId is the lower-case hex SHA-256 of the key's PKIX DER encoding (for a
// witness, of its Ed25519 key). Unknown and duplicate members are refused.
type Revocation struct {
	KeyID     string    `json:"keyId"`
	Reason    string    `json:"reason"`
	RevokedAt time.Time `json:"revokedAt"`
}

type revocationsFile struct {
	Revocations []Revocation `json:"revocations"`
}

// ParseRevocations parses a revocations file strictly: unknown or duplicate
// members, a key id that is not 64 lower-case hex digits, an empty or
// over-long reason, a missing time or a key listed twice are refused.
func ParseRevocations(data []byte) ([]Revocation, error) {
	if err := checkDuplicateKeys(data); err != nil {
		return nil, fmt.Errorf("revocations: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f revocationsFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("revocations: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("revocations: data after the object")
	}
	if f.Revocations == nil {
		return nil, errors.New("revocations: missing \"revocations\"")
	}
	if len(f.Revocations) > MaxRevocations {
		return nil, fmt.Errorf("revocations: %d entries, limit %d", len(f.Revocations), MaxRevocations)
	}
	seen := map[string]bool{}
	for i, r := range f.Revocations {
		if len(r.KeyID) != 64 || !isLowerHex(r.KeyID) {
			return nil, fmt.Errorf("revocations[%d]: keyId %q is not 64 lower-case hex digits", i, r.KeyID)
		}
		if seen[r.KeyID] {
			return nil, fmt.Errorf("revocations[%d]: keyId %s listed twice", i, r.KeyID)
		}
		seen[r.KeyID] = true
		if r.Reason == "" || len(r.Reason) > 1024 {
			return nil, fmt.Errorf("revocations[%d]: reason must be 1 to 1024 bytes", i)
		}
		if r.RevokedAt.IsZero() {
			return nil, fmt.Errorf("revocations[%d]: revokedAt missing", i)
		}
		f.Revocations[i].RevokedAt = r.RevokedAt.UTC()
	}
	return f.Revocations, nil
}

// KeyID returns the identifier revocations use for a public key: the
// lower-case hex SHA-256 of its PKIX DER encoding.
func KeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("key id: %w", err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// checkDuplicateKeys refuses JSON with a member name repeated in one object,
// at any depth (encoding/json would keep the last one silently).
func checkDuplicateKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var walk func(depth int) error
	walk = func(depth int) error {
		if depth > 32 {
			return errors.New("nesting too deep")
		}
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				name, _ := k.(string)
				if seen[name] {
					return fmt.Errorf("duplicate member %q", name)
				}
				seen[name] = true
				if err := walk(depth + 1); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		case json.Delim('['):
			for dec.More() {
				if err := walk(depth + 1); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		}
		return nil
	}
	return walk(0)
}
