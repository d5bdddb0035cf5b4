package bundle

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/stellaops/stellad/kit/internal/strictjson"
)

// SigningConfigMediaType is the media type of the Sigstore signing config
// this package writes (v0.2, the version cosign v3 reads).
const SigningConfigMediaType = "application/vnd.dev.sigstore.signingconfig.v0.2+json"

// Service is one service of a signing config: its URL, the major version of
// its API, who operates it and when it may be used (End nil: open-ended).
type Service struct {
	URL             string
	MajorAPIVersion uint32
	Operator        string
	Start           time.Time
	End             *time.Time
}

// SigningConfig names the services a Sigstore client signs with: the
// certificate authorities (Fulcio API v1, served at /api/v2/signingCert),
// OIDC providers, Rekor logs (API v2 for this appliance) and RFC 3161
// timestamp authorities (their full URL). Clients pick ANY one log and ANY
// one TSA (the selectors this package writes).
type SigningConfig struct {
	CAs  []Service
	OIDC []Service
	Logs []Service
	TSAs []Service
}

// Marshal returns the signing config as protobuf JSON (media type
// SigningConfigMediaType) with the members in protobuf field order:
// caUrls, oidcUrls, rekorTlogUrls, rekorTlogConfig {selector ANY},
// tsaUrls, tsaConfig {selector ANY}. Empty lists are left out. The output is
// deterministic. Written by hand for the reason NewTrustedRoot is (protojson
// varies its whitespace, so its bytes are not stable).
func (c SigningConfig) Marshal() ([]byte, error) {
	b := []byte(`{"mediaType":"` + SigningConfigMediaType + `"`)
	var err error
	for _, l := range []struct {
		name string
		list []Service
	}{{"caUrls", c.CAs}, {"oidcUrls", c.OIDC}, {"rekorTlogUrls", c.Logs}} {
		if b, err = appendServices(b, l.name, l.list); err != nil {
			return nil, err
		}
	}
	if len(c.Logs) > 0 {
		b = append(b, `,"rekorTlogConfig":{"selector":"ANY"}`...)
	}
	if b, err = appendServices(b, "tsaUrls", c.TSAs); err != nil {
		return nil, err
	}
	if len(c.TSAs) > 0 {
		b = append(b, `,"tsaConfig":{"selector":"ANY"}`...)
	}
	return append(b, '}'), nil
}

func appendServices(b []byte, name string, list []Service) ([]byte, error) {
	if len(list) == 0 {
		return b, nil
	}
	b = append(b, `,"`+name+`":[`...)
	for i, s := range list {
		u, err := url.Parse(s.URL)
		if err != nil || u.Scheme == "" || u.Host == "" || !utf8.ValidString(s.URL) {
			return nil, fmt.Errorf("bundle: signing config: %s[%d]: url %q has no scheme or host", name, i, s.URL)
		}
		if s.MajorAPIVersion == 0 {
			return nil, fmt.Errorf("bundle: signing config: %s[%d]: major API version 0", name, i)
		}
		if !utf8.ValidString(s.Operator) {
			return nil, errors.New("bundle: signing config: operator is not valid UTF-8")
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"url":`...)
		b, _ = strictjson.AppendString(b, s.URL)
		b = append(b, `,"majorApiVersion":`...)
		b = strconv.AppendUint(b, uint64(s.MajorAPIVersion), 10)
		b = append(b, ',')
		if b, err = appendValidFor(b, s.Start, s.End); err != nil {
			return nil, fmt.Errorf("bundle: signing config: %s[%d]: %w", name, i, err)
		}
		if s.Operator != "" {
			b = append(b, `,"operator":`...)
			b, _ = strictjson.AppendString(b, s.Operator)
		}
		b = append(b, '}')
	}
	return append(b, ']'), nil
}
