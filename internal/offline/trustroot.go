package offline

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net/url"
	"time"

	prototrustroot "github.com/sigstore/protobuf-specs/gen/pb-go/trustroot/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// TrustedRootPath is where a kit carries a Sigstore trusted root.
const TrustedRootPath = "trust/trusted_root.json"

// MaxTrustedRootSize bounds trusted_root.json.
const MaxTrustedRootSize = 4 << 20

// trustedRoot is what Import needs of a Sigstore trusted root: the log keys
// by checkpoint origin and the root's age.
type trustedRoot struct {
	Data   []byte
	SHA256 string
	// NewestStart is the latest validity start of any tlog, CT log, CA or
	// TSA in the root: a root whose NewestStart is earlier than the
	// installed one's is older.
	NewestStart time.Time
	// Logs are the transparency logs' keys by checkpoint origin (the host of
	// baseUrl), every key epoch.
	Logs map[string][]crypto.PublicKey
}

// parseTrustedRoot parses trusted_root.json (Sigstore protobuf-specs JSON,
// unknown fields refused) and extracts the log keys and the newest validity
// start.
func parseTrustedRoot(data []byte) (*trustedRoot, error) {
	if len(data) > MaxTrustedRootSize {
		return nil, fmt.Errorf("trusted root: %d bytes exceeds %d", len(data), MaxTrustedRootSize)
	}
	var pb prototrustroot.TrustedRoot
	if err := (protojson.UnmarshalOptions{}).Unmarshal(data, &pb); err != nil {
		return nil, fmt.Errorf("trusted root: %w", err)
	}
	sum := sha256.Sum256(data)
	tr := &trustedRoot{Data: data, SHA256: hex.EncodeToString(sum[:]), Logs: map[string][]crypto.PublicKey{}}
	if len(pb.GetTlogs()) == 0 {
		return nil, fmt.Errorf("trusted root: no tlogs")
	}
	see := func(t time.Time) {
		if t.After(tr.NewestStart) {
			tr.NewestStart = t
		}
	}
	for i, l := range pb.GetTlogs() {
		u, err := url.Parse(l.GetBaseUrl())
		if err != nil || u.Hostname() == "" {
			return nil, fmt.Errorf("trusted root: tlogs[%d]: baseUrl %q has no host", i, l.GetBaseUrl())
		}
		pub, err := x509.ParsePKIXPublicKey(l.GetPublicKey().GetRawBytes())
		if err != nil {
			return nil, fmt.Errorf("trusted root: tlogs[%d]: public key: %w", i, err)
		}
		if s := l.GetPublicKey().GetValidFor().GetStart(); s != nil {
			see(s.AsTime())
		}
		tr.Logs[u.Hostname()] = append(tr.Logs[u.Hostname()], pub)
	}
	for _, l := range pb.GetCtlogs() {
		if s := l.GetPublicKey().GetValidFor().GetStart(); s != nil {
			see(s.AsTime())
		}
	}
	for _, ca := range append(pb.GetCertificateAuthorities(), pb.GetTimestampAuthorities()...) {
		if s := ca.GetValidFor().GetStart(); s != nil {
			see(s.AsTime())
		}
	}
	if tr.NewestStart.IsZero() {
		return nil, fmt.Errorf("trusted root: no validity start on any key")
	}
	tr.NewestStart = tr.NewestStart.UTC()
	return tr, nil
}
