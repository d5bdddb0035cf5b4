package bundle

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stellaops/stellad/kit/internal/strictjson"
)

// TrustedRootMediaType is the media type of the Sigstore trusted root this
// package writes.
const TrustedRootMediaType = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"

// TransparencyLog describes one log key epoch for a trusted root. The
// checkpoint origin of the log is the host name of BaseURL (without port),
// as sigstore-go requires. End is nil while the key is current.
type TransparencyLog struct {
	BaseURL   string
	PublicKey crypto.PublicKey
	Start     time.Time
	End       *time.Time
}

// Origin returns the checkpoint origin the log must use: BaseURL's host
// name without port.
func (l TransparencyLog) Origin() (string, error) {
	u, err := url.Parse(l.BaseURL)
	if err != nil {
		return "", fmt.Errorf("bundle: log baseUrl %q: %w", l.BaseURL, err)
	}
	if u.Scheme == "" || u.Hostname() == "" || !utf8.ValidString(l.BaseURL) {
		return "", fmt.Errorf("bundle: log baseUrl %q has no scheme or host", l.BaseURL)
	}
	return u.Hostname(), nil
}

// NewTrustedRoot returns a Sigstore trusted root (media type
// TrustedRootMediaType) listing logs under "tlogs", in the order given: it is
// TrustedRoot{Logs: logs}.Marshal().
func NewTrustedRoot(logs ...TransparencyLog) ([]byte, error) {
	return TrustedRoot{Logs: logs}.Marshal()
}

// TrustedRoot is what a Sigstore trusted root lists: the transparency logs
// (tlogs), the certificate authorities that issue signing certificates, the
// certificate transparency logs their SCTs come from (ctlogs) and the
// RFC 3161 timestamp authorities. Logs is required; the others may be empty
// (a deployment that signs with keys only).
type TrustedRoot struct {
	Logs                   []TransparencyLog
	CertificateAuthorities []CertificateAuthority
	CTLogs                 []CTLog
	TimestampAuthorities   []CertificateAuthority
}

// CertificateAuthority is a certificate authority or a timestamp authority
// of a trusted root. Chain is written in the order given, which must be the
// one sigstore verifiers read: for a certificate authority the issuing
// certificate first and the root last; for a timestamp authority the TSA's
// signing certificate first, then intermediates, root last. URI is the
// service's base URL. End is nil while the authority is current.
type CertificateAuthority struct {
	URI   string
	Chain []*x509.Certificate
	Start time.Time
	End   *time.Time
}

// CTLog is a certificate transparency log of a trusted root; its log id is
// the SHA-256 of its PKIX public key (RFC 6962 §3.2). End is nil while the
// key is current.
type CTLog struct {
	BaseURL   string
	PublicKey crypto.PublicKey
	Start     time.Time
	End       *time.Time
}

// Marshal returns the trusted root as protobuf JSON (media type
// TrustedRootMediaType). Each log: baseUrl, hashAlgorithm SHA2_256,
// publicKey {rawBytes, keyDetails, validFor {start, end}}, logId.keyId
// (LogID) and checkpointKeyId (its first 4 bytes); log keys are ECDSA P-256
// or Ed25519. Each authority: subject {organization, commonName} of its
// first certificate, uri, certChain and validFor. Each CT log: baseUrl,
// hashAlgorithm, its ECDSA P-256 publicKey and logId. The output is
// deterministic.
func (t TrustedRoot) Marshal() ([]byte, error) {
	logs := t.Logs
	if len(logs) == 0 {
		return nil, errors.New("bundle: trusted root: no logs")
	}
	b := []byte(`{"mediaType":"` + TrustedRootMediaType + `","tlogs":[`)
	for i, l := range logs {
		origin, err := l.Origin()
		if err != nil {
			return nil, err
		}
		if _, err := noteKey(origin, l.PublicKey); err != nil {
			return nil, fmt.Errorf("bundle: trusted root: log %d: %w", i, err)
		}
		der, err := x509.MarshalPKIXPublicKey(l.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("bundle: trusted root: log %d key: %w", i, err)
		}
		var details string
		switch l.PublicKey.(type) {
		case *ecdsa.PublicKey:
			details = KeyDetailsECDSAP256
		case ed25519.PublicKey:
			details = "PKIX_ED25519"
		}
		if l.Start.IsZero() {
			return nil, fmt.Errorf("bundle: trusted root: log %d: zero start time", i)
		}
		if l.End != nil && !l.End.After(l.Start) {
			return nil, fmt.Errorf("bundle: trusted root: log %d: end not after start", i)
		}
		id, err := LogID(origin, l.PublicKey)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"baseUrl":`...)
		b, _ = strictjson.AppendString(b, l.BaseURL)
		b = append(b, `,"hashAlgorithm":"SHA2_256","publicKey":{"rawBytes":`...)
		b = strictjson.AppendBase64(b, der)
		b = append(b, `,"keyDetails":"`+details+`","validFor":{"start":"`...)
		b = appendTimestamp(b, l.Start)
		if l.End != nil {
			b = append(b, `","end":"`...)
			b = appendTimestamp(b, *l.End)
		}
		b = append(b, `"}},"logId":{"keyId":`...)
		b = strictjson.AppendBase64(b, id)
		b = append(b, `},"checkpointKeyId":{"keyId":`...)
		b = strictjson.AppendBase64(b, id[:4])
		b = append(b, "}}"...)
	}
	b = append(b, ']')
	var err error
	if b, err = appendList(b, "certificateAuthorities", "certificate authority", t.CertificateAuthorities, appendAuthority); err != nil {
		return nil, err
	}
	if b, err = appendList(b, "ctlogs", "ct log", t.CTLogs, appendCTLog); err != nil {
		return nil, err
	}
	if b, err = appendList(b, "timestampAuthorities", "timestamp authority", t.TimestampAuthorities, appendAuthority); err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// appendList writes a non-empty list as the member name, each element with
// add; an empty list is left out.
func appendList[T any](b []byte, name, what string, list []T, add func([]byte, int, T) ([]byte, error)) ([]byte, error) {
	if len(list) == 0 {
		return b, nil
	}
	b = append(b, `,"`+name+`":[`...)
	for i, v := range list {
		var err error
		if b, err = add(b, i, v); err != nil {
			return nil, fmt.Errorf("bundle: trusted root: %s %d: %w", what, i, err)
		}
	}
	return append(b, ']'), nil
}

func appendValidFor(b []byte, start time.Time, end *time.Time) ([]byte, error) {
	if start.IsZero() {
		return nil, errors.New("zero start time")
	}
	if end != nil && !end.After(start) {
		return nil, errors.New("end not after start")
	}
	b = append(b, `"validFor":{"start":"`...)
	b = appendTimestamp(b, start)
	if end != nil {
		b = append(b, `","end":"`...)
		b = appendTimestamp(b, *end)
	}
	return append(b, `"}`...), nil
}

func appendAuthority(b []byte, i int, ca CertificateAuthority) ([]byte, error) {
	if len(ca.Chain) == 0 {
		return nil, errors.New("empty certificate chain")
	}
	if !utf8.ValidString(ca.URI) || ca.URI == "" {
		return nil, errors.New("empty or invalid uri")
	}
	if i > 0 {
		b = append(b, ',')
	}
	subj := ca.Chain[0].Subject
	b = append(b, `{"subject":{`...)
	sep := ""
	if len(subj.Organization) > 0 {
		b = append(b, `"organization":`...)
		b, _ = strictjson.AppendString(b, strings.ToValidUTF8(subj.Organization[0], "?"))
		sep = ","
	}
	if subj.CommonName != "" {
		b = append(b, sep+`"commonName":`...)
		b, _ = strictjson.AppendString(b, strings.ToValidUTF8(subj.CommonName, "?"))
	}
	b = append(b, `},"uri":`...)
	b, _ = strictjson.AppendString(b, ca.URI)
	b = append(b, `,"certChain":{"certificates":[`...)
	for j, c := range ca.Chain {
		if j > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"rawBytes":`...)
		b = strictjson.AppendBase64(b, c.Raw)
		b = append(b, '}')
	}
	b = append(b, `]},`...)
	b, err := appendValidFor(b, ca.Start, ca.End)
	if err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

func appendCTLog(b []byte, i int, l CTLog) ([]byte, error) {
	k, ok := l.PublicKey.(*ecdsa.PublicKey)
	if !ok || k.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: CT log keys are ECDSA P-256, got %T", ErrUnsupportedKey, l.PublicKey)
	}
	if u, err := url.Parse(l.BaseURL); err != nil || u.Scheme == "" || u.Host == "" || !utf8.ValidString(l.BaseURL) {
		return nil, fmt.Errorf("baseUrl %q has no scheme or host", l.BaseURL)
	}
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return nil, err
	}
	id := sha256.Sum256(der)
	if i > 0 {
		b = append(b, ',')
	}
	b = append(b, `{"baseUrl":`...)
	b, _ = strictjson.AppendString(b, l.BaseURL)
	b = append(b, `,"hashAlgorithm":"SHA2_256","publicKey":{"rawBytes":`...)
	b = strictjson.AppendBase64(b, der)
	b = append(b, `,"keyDetails":"`+KeyDetailsECDSAP256+`",`...)
	if b, err = appendValidFor(b, l.Start, l.End); err != nil {
		return nil, err
	}
	b = append(b, `},"logId":{"keyId":`...)
	b = strictjson.AppendBase64(b, id[:])
	return append(b, "}}"...), nil
}

// appendTimestamp writes t as protobuf JSON does: RFC 3339 in UTC with 0, 3,
// 6 or 9 fractional digits.
func appendTimestamp(b []byte, t time.Time) []byte {
	t = t.UTC()
	layout := "2006-01-02T15:04:05Z"
	switch ns := t.Nanosecond(); {
	case ns == 0:
	case ns%1e6 == 0:
		layout = "2006-01-02T15:04:05.000Z"
	case ns%1e3 == 0:
		layout = "2006-01-02T15:04:05.000000Z"
	default:
		layout = "2006-01-02T15:04:05.000000000Z"
	}
	return t.AppendFormat(b, layout)
}
