package offline

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/stellaops/stellad/kit/dsse"
)

// KitKeysPath is where a kit carries a replacement set of kit keys.
const KitKeysPath = "trust/kit-keys.pem"

// MaxKitKeys bounds the keys of one kit-keys file.
const MaxKitKeys = 64

// KeySet is a set of kit keys and how many of them must sign a kit.
type KeySet struct {
	Keys      []crypto.PublicKey
	Threshold int
}

// ParseKitKeys parses trust/kit-keys.pem: one or more PEM "PUBLIC KEY"
// blocks (PKIX), the first carrying the header "Threshold: k" with
// 1 <= k <= the number of keys; later blocks carry no headers. No text may
// stand outside the blocks except whitespace; a key listed twice, a key type
// DSSE cannot verify with, or more than MaxKitKeys keys are refused.
func ParseKitKeys(data []byte) (KeySet, error) {
	var ks KeySet
	rest := data
	seen := map[string]bool{}
	for {
		if strings.TrimSpace(string(rest)) == "" {
			break
		}
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return KeySet{}, errors.New("kit keys: text outside PEM blocks")
		}
		if b.Type != "PUBLIC KEY" {
			return KeySet{}, fmt.Errorf("kit keys: block %d is %q, want PUBLIC KEY", len(ks.Keys)+1, b.Type)
		}
		if len(ks.Keys) == 0 {
			t, ok := b.Headers["Threshold"]
			if !ok || len(b.Headers) != 1 {
				return KeySet{}, errors.New("kit keys: the first block must carry exactly the header Threshold")
			}
			n, err := strconv.Atoi(t)
			if err != nil || n < 1 || strconv.Itoa(n) != t {
				return KeySet{}, fmt.Errorf("kit keys: threshold %q", t)
			}
			ks.Threshold = n
		} else if len(b.Headers) != 0 {
			return KeySet{}, fmt.Errorf("kit keys: block %d carries headers", len(ks.Keys)+1)
		}
		pub, err := x509.ParsePKIXPublicKey(b.Bytes)
		if err != nil {
			return KeySet{}, fmt.Errorf("kit keys: block %d: %w", len(ks.Keys)+1, err)
		}
		if _, err := dsse.HashFor(pub); err != nil {
			return KeySet{}, fmt.Errorf("kit keys: block %d: %w", len(ks.Keys)+1, err)
		}
		if seen[string(b.Bytes)] {
			return KeySet{}, fmt.Errorf("kit keys: block %d repeats a key", len(ks.Keys)+1)
		}
		seen[string(b.Bytes)] = true
		ks.Keys = append(ks.Keys, pub)
		if len(ks.Keys) > MaxKitKeys {
			return KeySet{}, fmt.Errorf("kit keys: more than %d keys", MaxKitKeys)
		}
	}
	if len(ks.Keys) == 0 {
		return KeySet{}, errors.New("kit keys: no key")
	}
	if ks.Threshold > len(ks.Keys) {
		return KeySet{}, fmt.Errorf("kit keys: threshold %d exceeds the %d keys", ks.Threshold, len(ks.Keys))
	}
	return ks, nil
}

// MarshalKitKeys writes ks in the form ParseKitKeys reads.
func MarshalKitKeys(ks KeySet) ([]byte, error) {
	if len(ks.Keys) == 0 || ks.Threshold < 1 || ks.Threshold > len(ks.Keys) {
		return nil, fmt.Errorf("kit keys: threshold %d of %d keys", ks.Threshold, len(ks.Keys))
	}
	var out []byte
	for i, k := range ks.Keys {
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			return nil, fmt.Errorf("kit keys: key %d: %w", i, err)
		}
		b := &pem.Block{Type: "PUBLIC KEY", Bytes: der}
		if i == 0 {
			b.Headers = map[string]string{"Threshold": strconv.Itoa(ks.Threshold)}
		}
		out = append(out, pem.EncodeToMemory(b)...)
	}
	return out, nil
}
