package policy

import (
	"crypto"
	"fmt"
)

// SetReleaseKeys replaces the trusted scanner release keys with keys, which
// New's rules apply to (ECDSA P-256/P-384, Ed25519, RSA of 2048 bits or
// more). The whole list is checked first; on error nothing changes. An
// empty list is allowed: ImportLayout then refuses every layout. Imports
// already running finish with the keys they started with; digests already
// imported stay trusted, as with Config.ReleaseKeys. The daemon calls it
// when an Offline Kit installs or revokes release keys. Safe for concurrent
// use.
func (c *Checker) SetReleaseKeys(keys []crypto.PublicKey) error {
	next := make([]releaseKey, 0, len(keys))
	seen := map[string]bool{}
	for i, pub := range keys {
		k, err := newReleaseKey(pub)
		if err != nil {
			return fmt.Errorf("policy: release key %d: %w", i, err)
		}
		if seen[k.id] {
			continue
		}
		seen[k.id] = true
		next = append(next, k)
	}
	c.mu.Lock()
	c.keys = next
	c.mu.Unlock()
	c.log.Info("scanner release keys replaced", "keys", len(next))
	return nil
}

// ReleaseKeyIDs returns the ids (KeyID) of the release keys in force, in
// the order they were given.
func (c *Checker) ReleaseKeyIDs() []string {
	keys := c.releaseKeys()
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.id
	}
	return out
}

// releaseKeys returns the keys in force; the slice is never modified.
func (c *Checker) releaseKeys() []releaseKey {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.keys
}
