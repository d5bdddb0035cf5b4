package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Decisions a Record carries.
const (
	DecisionAllow = "allow"
	DecisionDeny  = "deny"
)

// Actions the daemon records. Action is free text; these are the names the
// request path uses.
const (
	ActionSign           = "sign"
	ActionSubmit         = "submit"
	ActionFetch          = "fetch"
	ActionList           = "list"
	ActionVerify         = "verify"
	ActionLicenceImport  = "licence.import"
	ActionLicenceBypass  = "licence.bypass"
	ActionScannerApprove = "scanner.approve"
	ActionAuditAnchor    = "audit.anchor"
)

// HashDomain is prefixed to every row's hash input so that a row hash can
// never be mistaken for the hash of another structure.
const HashDomain = "stellad audit row v1\n"

// Bounds Append applies so that a row stays small whatever a caller passes.
const (
	// MaxFieldLen is the most bytes kept of each text field; longer values
	// are cut at a UTF-8 boundary.
	MaxFieldLen = 4096
	// MaxSubjectDigests is the most subject digests kept per row.
	MaxSubjectDigests = 256
	// MaxDigestLen is the most bytes kept of each subject digest.
	MaxDigestLen = 256
	// MaxSeq bounds seq and log_index: JSON numbers above 2^53 are not exact.
	MaxSeq = 1<<53 - 1
)

// Record is what the request path knows about one decision.
type Record struct {
	// Time is when the decision was made. Zero means the Trail's clock.
	Time time.Time
	// RequestID is the API's request id.
	RequestID string
	// Tenant is the tenant the request was for; empty when the request was
	// refused before a tenant was known (no token, say).
	Tenant string
	// Principal is the caller: the token's subject, the client certificate's
	// subject or the unix user of the admin socket.
	Principal string
	// Issuer is the token's issuer, empty for other kinds of caller.
	Issuer string
	// Action is what was asked for: one of the Action constants.
	Action string
	// SubjectDigests are the statement's subject digests, "sha256:<hex>".
	SubjectDigests []string
	// PredicateType is the statement's predicate type, if any.
	PredicateType string
	// PoEState summarises the entitlement check (e.g. "valid lic-42",
	// "grace", "bypass", "missing").
	PoEState string
	// QuotaState summarises the quota check (e.g. "ok 17/1000 daily").
	QuotaState string
	// KeyURI is the signing key used or that would have been used.
	KeyURI string
	// Decision is DecisionAllow or DecisionDeny.
	Decision string
	// Reason is the refusal code (e.g. "quota_daily") or a note for an
	// allowed request.
	Reason string
	// LogIndex is the transparency log index of the entry made, if any.
	LogIndex *uint64
	// UUID is the entry's uuid (hex leaf hash), if any.
	UUID string
}

// Row is a stored Record with its place in the chain.
type Row struct {
	Record
	// Seq numbers the rows 1, 2, 3... without gaps.
	Seq uint64
	// Prev is the previous row's Hash (zero for seq 1).
	Prev [32]byte
	// Hash is SHA-256(HashDomain || Prev || MarshalBody()).
	Hash [32]byte
}

// normalize returns r with the bounds and encodings Append stores: valid
// UTF-8, cut fields, UTC time. It fails for a record that cannot be stored.
func normalize(r Record, now func() time.Time) (Record, error) {
	if r.Time.IsZero() {
		r.Time = now()
	}
	r.Time = r.Time.UTC()
	if y := r.Time.Year(); y < 1970 || y > 9999 {
		return r, fmt.Errorf("time %v outside years 1970-9999", r.Time)
	}
	if r.Decision != DecisionAllow && r.Decision != DecisionDeny {
		return r, fmt.Errorf("decision %q is neither %q nor %q", r.Decision, DecisionAllow, DecisionDeny)
	}
	if r.Action == "" {
		return r, errors.New("empty action")
	}
	if r.LogIndex != nil && *r.LogIndex > MaxSeq {
		return r, fmt.Errorf("log index %d exceeds %d", *r.LogIndex, uint64(MaxSeq))
	}
	for _, f := range []*string{&r.RequestID, &r.Tenant, &r.Principal, &r.Issuer, &r.Action,
		&r.PredicateType, &r.PoEState, &r.QuotaState, &r.KeyURI, &r.Reason, &r.UUID} {
		*f = clean(*f, MaxFieldLen)
	}
	if len(r.SubjectDigests) > MaxSubjectDigests {
		r.SubjectDigests = r.SubjectDigests[:MaxSubjectDigests]
	}
	ds := make([]string, len(r.SubjectDigests))
	for i, d := range r.SubjectDigests {
		ds[i] = clean(d, MaxDigestLen)
	}
	r.SubjectDigests = ds
	if r.LogIndex != nil {
		v := *r.LogIndex
		r.LogIndex = &v // the caller's variable may change after Append
	}
	return r, nil
}

// clean makes s valid UTF-8 (invalid bytes become U+FFFD) no longer than max
// bytes, cut at a rune boundary.
func clean(s string, max int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= max {
		return s
	}
	n := max
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// timeLayout is RFC 3339 with exactly nine fractional digits: fixed width, so
// stored times sort as text.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}, err
	}
	if t.Location() != time.UTC || formatTime(t) != s {
		return time.Time{}, fmt.Errorf("time %q is not RFC 3339 UTC with nine fractional digits", s)
	}
	return t.UTC(), nil
}

// MarshalBody returns the RFC 8785 canonical JSON object the row's hash
// covers: action, decision, issuer, key_uri, log_index (a number or null),
// poe_state, predicate_type, principal, quota_state, reason, request_id, seq,
// subject_digests (an array of strings, [] when none), tenant, time (RFC 3339
// UTC, nine fractional digits) and uuid.
func (r *Row) MarshalBody() []byte { return r.appendJSON(make([]byte, 0, 512), false) }

// MarshalCanonical returns the row as the export writes it: the members of
// MarshalBody plus hash and prev (lowercase hex), RFC 8785 canonical.
func (r *Row) MarshalCanonical() []byte { return r.appendJSON(make([]byte, 0, 640), true) }

// appendJSON writes the canonical object. Members are written in RFC 8785
// order (sorted by UTF-16 code units; the names are ASCII, so byte order).
func (r *Row) appendJSON(b []byte, withChain bool) []byte {
	str := func(b []byte, name, v string) []byte {
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, '"', ':')
		return appendString(b, v)
	}
	hexField := func(b []byte, name string, h *[32]byte) []byte {
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, `":"`...)
		b = hex.AppendEncode(b, h[:])
		return append(b, '"', ',')
	}
	b = append(b, '{')
	b = str(b, "action", r.Action)
	b = append(b, ',')
	b = str(b, "decision", r.Decision)
	b = append(b, ',')
	if withChain {
		b = hexField(b, "hash", &r.Hash)
	}
	b = str(b, "issuer", r.Issuer)
	b = append(b, ',')
	b = str(b, "key_uri", r.KeyURI)
	b = append(b, `,"log_index":`...)
	if r.LogIndex == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendUint(b, *r.LogIndex, 10)
	}
	b = append(b, ',')
	b = str(b, "poe_state", r.PoEState)
	b = append(b, ',')
	b = str(b, "predicate_type", r.PredicateType)
	b = append(b, ',')
	if withChain {
		b = hexField(b, "prev", &r.Prev)
	}
	b = str(b, "principal", r.Principal)
	b = append(b, ',')
	b = str(b, "quota_state", r.QuotaState)
	b = append(b, ',')
	b = str(b, "reason", r.Reason)
	b = append(b, ',')
	b = str(b, "request_id", r.RequestID)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, r.Seq, 10)
	b = append(b, `,"subject_digests":[`...)
	for i, d := range r.SubjectDigests {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, d)
	}
	b = append(b, "],"...)
	b = str(b, "tenant", r.Tenant)
	b = append(b, ',')
	b = str(b, "time", formatTime(r.Time))
	b = append(b, ',')
	b = str(b, "uuid", r.UUID)
	return append(b, '}')
}

// appendString writes s as an RFC 8785 (ECMAScript JSON.stringify) string:
// '"' and '\\' escaped, \b \f \n \r \t by their short forms, the other
// control characters as \u00xx with lowercase hex, everything else as is.
// s must be valid UTF-8.
func appendString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// ComputeHash returns SHA-256(HashDomain || r.Prev || r.MarshalBody()): what
// r.Hash must be.
func (r *Row) ComputeHash() [32]byte {
	var buf [1024]byte
	b := append(buf[:0], HashDomain...)
	b = append(b, r.Prev[:]...)
	b = r.appendJSON(b, false)
	return sha256.Sum256(b)
}

// digestsJSON is the stored form of the subject digests: a canonical JSON
// array of strings.
func digestsJSON(ds []string) string {
	b := make([]byte, 0, 2+len(ds)*80)
	b = append(b, '[')
	for i, d := range ds {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, d)
	}
	return string(append(b, ']'))
}
