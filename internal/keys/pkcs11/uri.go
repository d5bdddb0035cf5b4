package pkcs11

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Scheme is the URI scheme of RFC 7512 PKCS#11 URIs, with its colon.
const Scheme = "pkcs11:"

// URI is a parsed RFC 7512 PKCS#11 URI restricted to the attributes stellad
// uses. The zero value of a field means the attribute is absent: ParseURI
// refuses empty attribute values, so absent and empty never need to differ.
type URI struct {
	// Token is the token label (path attribute "token").
	Token string
	// Serial is the token serial number (path attribute "serial").
	Serial string
	// SlotID is the slot holding the token (path attribute "slot-id"); valid
	// when HasSlotID is true.
	SlotID uint64
	// HasSlotID reports whether the URI has a slot-id attribute.
	HasSlotID bool
	// Object is the key's CKA_LABEL (path attribute "object").
	Object string
	// ID is the key's CKA_ID (path attribute "id", percent-decoded bytes).
	ID []byte
	// Type is the object class (path attribute "type"); only "private" is
	// accepted.
	Type string
	// ModulePath is the PKCS#11 module to load (query attribute "module-path").
	ModulePath string
	// PINSource is a file path or file: URI whose first line is the PIN (query
	// attribute "pin-source").
	PINSource string
	// PINValue is the PIN itself (query attribute "pin-value"); a secret that
	// Redacted removes and that only development configurations accept.
	PINValue string
}

// ErrInvalidURI is wrapped by every error ParseURI returns.
var ErrInvalidURI = errors.New("invalid pkcs11 URI")

// Characters RFC 7512 section 2.3 lets appear unencoded in attribute values:
// unreserved (RFC 3986), pk11-res-avail, plus "&" in the path and "/", "?",
// "|" in the query.
const (
	resAvail      = ":[]@!$'()*+,="
	pathResAvail  = resAvail + "&"
	queryResAvail = resAvail + "/?|"
)

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// ParseURI parses an RFC 7512 PKCS#11 URI: path attributes token, serial,
// slot-id, object, id and type (only "private"), and query attributes
// module-path, pin-source and pin-value. Values are percent-decoded. It refuses
// unknown attributes (naming them), duplicated attributes, empty values,
// characters RFC 7512 requires to be percent-encoded, and malformed escapes;
// every error wraps ErrInvalidURI. Whether a pin-value is acceptable is the
// caller's decision, not the parser's. Error messages never contain the
// pin-value.
func ParseURI(s string) (*URI, error) {
	if len(s) < len(Scheme) || !strings.EqualFold(s[:len(Scheme)], Scheme) {
		return nil, fmt.Errorf("%w: does not start with %q", ErrInvalidURI, Scheme)
	}
	rest := s[len(Scheme):]
	path, query, hasQuery := strings.Cut(rest, "?")
	u := &URI{}
	seen := map[string]bool{}
	if path != "" {
		for attr := range strings.SplitSeq(path, ";") {
			if err := u.setPath(attr, seen); err != nil {
				return nil, err
			}
		}
	}
	if hasQuery && query != "" {
		for attr := range strings.SplitSeq(query, "&") {
			if err := u.setQuery(attr, seen); err != nil {
				return nil, err
			}
		}
	}
	return u, nil
}

func splitAttr(attr string, seen map[string]bool) (name, raw string, err error) {
	name, raw, ok := strings.Cut(attr, "=")
	if !ok {
		if attr == "" {
			return "", "", fmt.Errorf("%w: empty attribute", ErrInvalidURI)
		}
		return "", "", fmt.Errorf("%w: attribute %q has no \"=\"", ErrInvalidURI, safeName(attr))
	}
	if seen[name] {
		return "", "", fmt.Errorf("%w: duplicate attribute %q", ErrInvalidURI, safeName(name))
	}
	seen[name] = true
	if raw == "" {
		return "", "", fmt.Errorf("%w: attribute %q has an empty value", ErrInvalidURI, safeName(name))
	}
	return name, raw, nil
}

// safeName bounds what an error message quotes from the input.
func safeName(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

func (u *URI) setPath(attr string, seen map[string]bool) error {
	name, raw, err := splitAttr(attr, seen)
	if err != nil {
		return err
	}
	v, err := unescape(name, raw, pathResAvail)
	if err != nil {
		return err
	}
	switch name {
	case "token":
		u.Token = v
	case "serial":
		u.Serial = v
	case "object":
		u.Object = v
	case "id":
		u.ID = []byte(v)
	case "type":
		if v != "private" {
			return fmt.Errorf("%w: type=%q is not supported; stellad opens private keys only (type=private)", ErrInvalidURI, safeName(v))
		}
		u.Type = v
	case "slot-id":
		// RFC 7512: pk11-slot-id = "slot-id" "=" 1*DIGIT
		for i := 0; i < len(v); i++ {
			if v[i] < '0' || v[i] > '9' {
				return fmt.Errorf("%w: slot-id %q is not a decimal number", ErrInvalidURI, safeName(v))
			}
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return fmt.Errorf("%w: slot-id %q: %v", ErrInvalidURI, safeName(v), err)
		}
		u.SlotID, u.HasSlotID = n, true
	default:
		return fmt.Errorf("%w: unknown path attribute %q", ErrInvalidURI, safeName(name))
	}
	return nil
}

func (u *URI) setQuery(attr string, seen map[string]bool) error {
	name, raw, err := splitAttr(attr, seen)
	if err != nil {
		return err
	}
	v, err := unescape(name, raw, queryResAvail)
	if err != nil {
		if name == "pin-value" {
			// Do not echo any part of a secret.
			return fmt.Errorf("%w: attribute \"pin-value\" is not correctly percent-encoded", ErrInvalidURI)
		}
		return err
	}
	switch name {
	case "module-path":
		u.ModulePath = v
	case "pin-source":
		u.PINSource = v
	case "pin-value":
		u.PINValue = v
	default:
		return fmt.Errorf("%w: unknown query attribute %q", ErrInvalidURI, safeName(name))
	}
	return nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// unescape percent-decodes raw, refusing characters outside unreserved and
// allowed (RFC 7512 pk11-pchar / pk11-qchar).
func unescape(name, raw, allowed string) (string, error) {
	var b strings.Builder
	b.Grow(len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '%':
			if i+2 >= len(raw) {
				return "", fmt.Errorf("%w: attribute %q has a truncated percent escape", ErrInvalidURI, safeName(name))
			}
			hi, ok1 := unhex(raw[i+1])
			lo, ok2 := unhex(raw[i+2])
			if !ok1 || !ok2 {
				return "", fmt.Errorf("%w: attribute %q has an invalid percent escape", ErrInvalidURI, safeName(name))
			}
			b.WriteByte(hi<<4 | lo)
			i += 2
		case isUnreserved(c) || strings.IndexByte(allowed, c) >= 0:
			b.WriteByte(c)
		default:
			return "", fmt.Errorf("%w: attribute %q contains %q, which must be percent-encoded", ErrInvalidURI, safeName(name), string(rune(c)))
		}
	}
	return b.String(), nil
}

// escape percent-encodes every byte of v outside unreserved and allowed.
func escape(v, allowed string) string {
	const hexdigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if isUnreserved(c) || strings.IndexByte(allowed, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexdigits[c>>4])
		b.WriteByte(hexdigits[c&15])
	}
	return b.String()
}

// escapeAll percent-encodes every byte, the usual form of an id.
func escapeAll(v []byte) string {
	const hexdigits = "0123456789abcdef"
	b := make([]byte, 0, 3*len(v))
	for _, c := range v {
		b = append(b, '%', hexdigits[c>>4], hexdigits[c&15])
	}
	return string(b)
}

// String formats u as a PKCS#11 URI in a canonical order (token, serial,
// slot-id, object, id, type; module-path, pin-source, pin-value). It includes
// the pin-value if u has one: use Redacted before logging or showing it.
// ParseURI(u.String()) gives back a URI equal to u.
func (u *URI) String() string {
	var path []string
	add := func(name, v string) {
		if v != "" {
			path = append(path, name+"="+escape(v, pathResAvail))
		}
	}
	add("token", u.Token)
	add("serial", u.Serial)
	if u.HasSlotID {
		path = append(path, "slot-id="+strconv.FormatUint(u.SlotID, 10))
	}
	add("object", u.Object)
	if len(u.ID) > 0 {
		path = append(path, "id="+escapeAll(u.ID))
	}
	add("type", u.Type)
	var query []string
	addq := func(name, v string) {
		if v != "" {
			query = append(query, name+"="+escape(v, queryResAvail))
		}
	}
	addq("module-path", u.ModulePath)
	addq("pin-source", u.PINSource)
	addq("pin-value", u.PINValue)
	s := Scheme + strings.Join(path, ";")
	if len(query) > 0 {
		s += "?" + strings.Join(query, "&")
	}
	return s
}

// Redacted returns a copy of u without its pin-value, safe to log and show.
func (u *URI) Redacted() *URI {
	c := *u
	c.PINValue = ""
	if u.ID != nil {
		c.ID = append([]byte(nil), u.ID...)
	}
	return &c
}

// describe names the key for error messages: object label and/or id.
func (u *URI) describe() string {
	switch {
	case u.Object != "" && len(u.ID) > 0:
		return fmt.Sprintf("object %q (id %s)", u.Object, escapeAll(u.ID))
	case u.Object != "":
		return fmt.Sprintf("object %q", u.Object)
	case len(u.ID) > 0:
		return fmt.Sprintf("id %s", escapeAll(u.ID))
	}
	return "no object"
}

// tokenName names the token for error messages.
func (u *URI) tokenName() string {
	switch {
	case u.Token != "":
		return fmt.Sprintf("token %q", u.Token)
	case u.Serial != "":
		return fmt.Sprintf("token with serial %q", u.Serial)
	case u.HasSlotID:
		return fmt.Sprintf("token in slot %d", u.SlotID)
	}
	return "unnamed token"
}
