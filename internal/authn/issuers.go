package authn

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
)

// issuerSet is the trusted Authorities by issuer URL. A set is never
// modified once stored in Authenticator.issuers; SetIssuers stores a new one.
type issuerSet map[string]*issuerKeys

// issuerSet returns the Authorities in force.
func (a *Authenticator) issuerSet() issuerSet { return *a.issuers.Load() }

// newIssuerSet parses issuers into a set. An issuer whose JWKS document is
// byte-for-byte the one it has in old keeps old's parsed keys (the same
// pointer), so tokens cached under it stay valid.
func newIssuerSet(issuers []Issuer, old issuerSet) (issuerSet, error) {
	set := make(issuerSet, len(issuers))
	for _, is := range issuers {
		if is.URL == "" {
			return nil, errors.New("authn: an issuer has an empty URL")
		}
		if _, dup := set[is.URL]; dup {
			return nil, fmt.Errorf("authn: issuer %s is configured twice", is.URL)
		}
		if prev := old[is.URL]; prev != nil && bytes.Equal(prev.doc, is.JWKS) {
			set[is.URL] = prev
			continue
		}
		keys, err := parseJWKS(is.JWKS)
		if err != nil {
			return nil, fmt.Errorf("authn: reading the JWKS of issuer %s: %w", is.URL, err)
		}
		keys.doc = slices.Clone(is.JWKS)
		set[is.URL] = keys
	}
	return set, nil
}

// CheckJWKS reports whether doc is a JWKS document New and SetIssuers
// accept: RFC 7517 JSON whose signing keys (those without "use":"enc") are
// public EC P-256, RSA of 2048 bits or more, or Ed25519 keys, each with a
// unique kid, and at least one of them. The Offline Kit import uses it to
// refuse a kit whose Authority keys the daemon could not load.
func CheckJWKS(doc []byte) error {
	_, err := parseJWKS(doc)
	return err
}

// SetIssuers replaces the trusted Authorities with issuers, atomically:
// requests already past the issuer lookup finish with the keys they found,
// later ones see the new set. The whole list is checked first (as New does:
// non-empty URLs, no issuer twice, every JWKS parsed); on error nothing
// changes. Cached verified tokens of an issuer that was removed or whose
// JWKS changed are dropped, so a token signed by a key rotated away is
// refused (auth_unknown_kid) from the next request on; tokens of issuers
// whose JWKS is byte-for-byte unchanged stay cached. It returns the issuer
// URLs that were added, changed or removed, sorted. Safe for concurrent use
// with every other method; concurrent SetIssuers calls are serialised and
// the last one wins.
func (a *Authenticator) SetIssuers(issuers []Issuer) ([]string, error) {
	if len(issuers) == 0 {
		return nil, errors.New("authn: SetIssuers with no issuer (every request would be refused)")
	}
	a.setMu.Lock()
	defer a.setMu.Unlock()
	old := a.issuerSet()
	set, err := newIssuerSet(issuers, old)
	if err != nil {
		return nil, err
	}
	var changed []string
	for url, k := range old {
		if set[url] != k {
			changed = append(changed, url)
		}
	}
	for url := range set {
		if _, had := old[url]; !had {
			changed = append(changed, url)
		}
	}
	slices.Sort(changed)
	a.issuers.Store(&set)
	if len(changed) > 0 {
		n := a.tokens.dropIssuers(changed)
		a.log.Info("trusted Authorities replaced", "issuers", len(set), "changed", changed, "dropped_tokens", n)
	}
	return changed, nil
}

// Issuers returns the issuer URLs in force, sorted.
func (a *Authenticator) Issuers() []string {
	set := a.issuerSet()
	out := make([]string, 0, len(set))
	for url := range set {
		out = append(out, url)
	}
	slices.Sort(out)
	return out
}

// dropIssuers removes the cached tokens of the given issuers and returns how
// many went.
func (c *tokenCache) dropIssuers(issuers []string) int {
	if c.max == 0 {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for k, t := range c.m {
		if slices.Contains(issuers, t.iss) {
			delete(c.m, k)
			n++
		}
	}
	return n
}
