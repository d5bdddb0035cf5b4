package bundle

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
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
// TrustedRootMediaType) listing logs under "tlogs", in the order given: each
// with baseUrl, hashAlgorithm SHA2_256, publicKey {rawBytes, keyDetails,
// validFor {start, end}}, logId.keyId (LogID) and checkpointKeyId (its first
// 4 bytes). Log keys are ECDSA P-256 or Ed25519. The output is
// deterministic.
func NewTrustedRoot(logs ...TransparencyLog) ([]byte, error) {
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
	return append(b, "]}"...), nil
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
