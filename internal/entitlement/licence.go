package entitlement

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/stellaops/stellad/kit/dsse"
)

// PayloadType is the DSSE payloadType of a licence document.
const PayloadType = "application/vnd.stellaops.licence+json"

// Bounds on licence documents, checked before and while parsing.
const (
	// MaxLicenceSize is the largest licence envelope Import accepts.
	MaxLicenceSize = 256 << 10
	// MaxTenants is the most tenants one licence may name.
	MaxTenants = 4096
	// maxName bounds licenceId, licensee, plan and tenant names.
	maxName = 256
	// maxDepth bounds JSON nesting in a licence document.
	maxDepth = 8
)

// Quotas are the per-tenant limits of a plan. Every field is a non-negative
// integer; zero means "no limit" for that dimension (after the plan defaults
// of Config.Plans have been applied, see New).
type Quotas struct {
	// RequestsPerSecond is the token bucket's refill rate.
	RequestsPerSecond int64 `json:"requestsPerSecond,omitempty"`
	// Burst is the bucket's capacity; zero with a rate means the rate
	// (at least 1).
	Burst int64 `json:"burst,omitempty"`
	// Concurrent is the most requests a tenant may have in flight.
	Concurrent int64 `json:"concurrent,omitempty"`
	// MaxPayloadBytes is the largest payload one request may carry.
	MaxPayloadBytes int64 `json:"maxPayloadBytes,omitempty"`
	// SignaturesPerDay is the most signatures per tenant per UTC day.
	SignaturesPerDay int64 `json:"signaturesPerDay,omitempty"`
}

// Licence is the vendor's signed licence document (payloadType PayloadType):
// it entitles the named tenants to the plan's quotas from NotBefore
// (inclusive) to NotAfter (exclusive). Versions of one LicenceID are ordered
// by IssuedAt; a later version supersedes earlier ones once it takes effect.
type Licence struct {
	LicenceID string    `json:"licenceId"`
	Licensee  string    `json:"licensee"`
	Tenants   []string  `json:"tenants"`
	Plan      string    `json:"plan"`
	Quotas    Quotas    `json:"quotas"`
	NotBefore time.Time `json:"notBefore"`
	NotAfter  time.Time `json:"notAfter"`
	IssuedAt  time.Time `json:"issuedAt"`
}

// Names of the document's members, exactly as they must be spelled.
var (
	licenceFields = []string{"licenceId", "licensee", "tenants", "plan", "quotas", "notBefore", "notAfter", "issuedAt"}
	// requiredFields are all but quotas, which may come from Config.Plans.
	requiredFields = []string{"licenceId", "licensee", "tenants", "plan", "notBefore", "notAfter", "issuedAt"}
	quotaFields    = []string{"requestsPerSecond", "burst", "concurrent", "maxPayloadBytes", "signaturesPerDay"}
)

// validate checks what JSON types cannot: names present and bounded, tenants
// unique, a non-empty validity window, quotas non-negative.
func (l *Licence) validate() error {
	for _, f := range []struct{ name, v string }{{"licenceId", l.LicenceID}, {"licensee", l.Licensee}, {"plan", l.Plan}} {
		if err := checkName(f.v); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	if len(l.Tenants) == 0 {
		return errors.New("tenants: empty")
	}
	if len(l.Tenants) > MaxTenants {
		return fmt.Errorf("tenants: %d names, at most %d", len(l.Tenants), MaxTenants)
	}
	seen := make(map[string]bool, len(l.Tenants))
	for i, t := range l.Tenants {
		if err := checkName(t); err != nil {
			return fmt.Errorf("tenants[%d]: %w", i, err)
		}
		if seen[t] {
			return fmt.Errorf("tenants[%d]: %q named twice", i, t)
		}
		seen[t] = true
	}
	if err := l.Quotas.validate(); err != nil {
		return fmt.Errorf("quotas: %w", err)
	}
	for _, f := range []struct {
		name string
		t    time.Time
	}{{"notBefore", l.NotBefore}, {"notAfter", l.NotAfter}, {"issuedAt", l.IssuedAt}} {
		if f.t.IsZero() || f.t.Year() < 2000 || f.t.Year() > 2261 {
			return fmt.Errorf("%s: %s is out of range", f.name, f.t)
		}
	}
	if !l.NotAfter.After(l.NotBefore) {
		return fmt.Errorf("notAfter %s is not after notBefore %s", l.NotAfter.Format(time.RFC3339), l.NotBefore.Format(time.RFC3339))
	}
	return nil
}

func checkName(s string) error {
	switch {
	case s == "":
		return errors.New("empty")
	case len(s) > maxName:
		return fmt.Errorf("%d bytes, at most %d", len(s), maxName)
	case !utf8.ValidString(s):
		return errors.New("not valid UTF-8")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return errors.New("contains a control character")
		}
	}
	return nil
}

func (q Quotas) validate() error {
	for _, f := range []struct {
		name string
		v    int64
	}{{"requestsPerSecond", q.RequestsPerSecond}, {"burst", q.Burst}, {"concurrent", q.Concurrent},
		{"maxPayloadBytes", q.MaxPayloadBytes}, {"signaturesPerDay", q.SignaturesPerDay}} {
		if f.v < 0 {
			return fmt.Errorf("%s: %d is negative", f.name, f.v)
		}
	}
	return nil
}

// names reports whether the licence names tenant.
func (l *Licence) names(tenant string) bool { return slices.Contains(l.Tenants, tenant) }

// SignLicence checks l and returns it as a DSSE envelope (payloadType
// PayloadType, one signature by signer) ready for Import. The payload is l's
// JSON encoding in the documented member order. It is meant for tests and the
// daemon's development mode; production licences come from the vendor.
func SignLicence(signer crypto.Signer, l Licence) ([]byte, error) {
	if signer == nil {
		return nil, errors.New("entitlement: signing licence: nil signer")
	}
	if err := l.validate(); err != nil {
		return nil, fmt.Errorf("entitlement: signing licence: %w", err)
	}
	payload, err := json.Marshal(l)
	if err != nil {
		return nil, fmt.Errorf("entitlement: signing licence %s: %w", l.LicenceID, err)
	}
	env, err := dsse.Sign(rand.Reader, PayloadType, payload, dsse.KeySigner{Signer: signer})
	if err != nil {
		return nil, fmt.Errorf("entitlement: signing licence %s: %w", l.LicenceID, err)
	}
	return env.Marshal()
}

// verified is a licence whose envelope verified, with what Import stores.
type verified struct {
	Licence
	digest [32]byte // SHA-256 of the payload: the identity of the content
}

// parseLicence verifies doc's signature with the vendor keys first and only
// then decodes its payload. Errors wrap ErrLicenceSignature or
// ErrLicenceInvalid.
func parseLicence(doc []byte, keys []crypto.PublicKey) (*verified, error) {
	if len(doc) > MaxLicenceSize {
		return nil, fmt.Errorf("%w: envelope of %d bytes exceeds %d", ErrLicenceInvalid, len(doc), MaxLicenceSize)
	}
	env, err := dsse.Parse(doc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLicenceInvalid, err)
	}
	if _, err := dsse.Verify(env, 1, keys...); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLicenceSignature, err)
	}
	if env.PayloadType != PayloadType {
		return nil, fmt.Errorf("%w: payloadType %q, want %q", ErrLicenceInvalid, env.PayloadType, PayloadType)
	}
	l, err := decodeLicence(env.Payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLicenceInvalid, err)
	}
	return &verified{Licence: *l, digest: sha256.Sum256(env.Payload)}, nil
}

// decodeLicence decodes a licence document strictly: one JSON object, member
// names spelled exactly (no case folding), no unknown members, no duplicate
// keys at any depth, no null members, valid UTF-8, no trailing data; then
// validate.
func decodeLicence(payload []byte) (*Licence, error) {
	if !utf8.Valid(payload) {
		return nil, errors.New("document is not valid UTF-8")
	}
	if err := scanLicence(payload); err != nil {
		return nil, err
	}
	// The document as sent, times still text so that errors name the field.
	var w struct {
		LicenceID string   `json:"licenceId"`
		Licensee  string   `json:"licensee"`
		Tenants   []string `json:"tenants"`
		Plan      string   `json:"plan"`
		Quotas    Quotas   `json:"quotas"`
		NotBefore string   `json:"notBefore"`
		NotAfter  string   `json:"notAfter"`
		IssuedAt  string   `json:"issuedAt"`
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("document: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("document: trailing data")
	}
	l := Licence{LicenceID: w.LicenceID, Licensee: w.Licensee, Tenants: w.Tenants, Plan: w.Plan, Quotas: w.Quotas}
	for _, f := range []struct {
		name string
		s    string
		t    *time.Time
	}{{"notBefore", w.NotBefore, &l.NotBefore}, {"notAfter", w.NotAfter, &l.NotAfter}, {"issuedAt", w.IssuedAt, &l.IssuedAt}} {
		t, err := time.Parse(time.RFC3339, f.s)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not an RFC 3339 time", f.name, f.s)
		}
		*f.t = t
	}
	if err := l.validate(); err != nil {
		return nil, err
	}
	return &l, nil
}

// scanLicence walks the document's tokens checking member names: the top
// level and "quotas" against their exact field lists, duplicates everywhere.
func scanLicence(payload []byte) error {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("document: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("document: not a JSON object")
	}
	present, err := scanObject(dec, "document", licenceFields, 1, func(key string, first json.Token) error {
		if first == nil {
			return fmt.Errorf("document.%s: null", key)
		}
		if key == "quotas" {
			if d, ok := first.(json.Delim); !ok || d != '{' {
				return errors.New("document.quotas: not an object")
			}
			_, err := scanObject(dec, "document.quotas", quotaFields, 2, nil)
			return err
		}
		return skipValue(dec, first, 2)
	})
	if err != nil {
		return err
	}
	for _, f := range requiredFields {
		if !present[f] {
			return fmt.Errorf("document.%s: missing", f)
		}
	}
	return nil
}

// scanObject reads the members of an object whose '{' was just read, up to
// and including its '}'. allowed == nil allows any name. member, when not
// nil, must consume each member's value given its first token; otherwise the
// value is skipped.
func scanObject(dec *json.Decoder, what string, allowed []string, depth int, member func(key string, first json.Token) error) (map[string]bool, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%s: nested too deeply", what)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("%s: malformed object", what)
		}
		if allowed != nil && !slices.Contains(allowed, key) {
			return nil, fmt.Errorf("%s: unknown field %q", what, key)
		}
		if seen[key] {
			return nil, fmt.Errorf("%s: duplicate field %q", what, key)
		}
		seen[key] = true
		first, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", what, key, err)
		}
		if member != nil {
			err = member(key, first)
		} else {
			err = skipValue(dec, first, depth+1)
		}
		if err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return seen, nil
}

// skipValue consumes the rest of a value whose first token was first,
// checking nested objects for duplicate keys.
func skipValue(dec *json.Decoder, first json.Token, depth int) error {
	d, ok := first.(json.Delim)
	if !ok {
		return nil
	}
	if depth > maxDepth {
		return errors.New("document: nested too deeply")
	}
	switch d {
	case '{':
		_, err := scanObject(dec, "document", nil, depth, nil)
		return err
	case '[':
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return fmt.Errorf("document: %w", err)
			}
			if err := skipValue(dec, tok, depth+1); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return fmt.Errorf("document: %w", err)
		}
		return nil
	}
	return fmt.Errorf("document: unexpected %q", d)
}
