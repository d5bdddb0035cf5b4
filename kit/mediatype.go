package kit

// PayloadType is the DSSE payloadType of manifest.dsse.json.
const PayloadType = "application/vnd.stellaops.kit.manifest+json"

// Media types of the files a kit carries. The manifest accepts any media type
// of valid syntax; these are the ones stellad writes and understands.
const (
	// MediaTypeTrustedRoot is a Sigstore trusted_root.json (as its own
	// mediaType field names it).
	MediaTypeTrustedRoot = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
	// MediaTypeSigningConfig is a Sigstore signing config v0.2.
	MediaTypeSigningConfig = "application/vnd.dev.sigstore.signingconfig.v0.2+json"
	// MediaTypeJWKS is a JSON Web Key Set (RFC 7517), such as the Authority's.
	MediaTypeJWKS = "application/jwk-set+json"
	// MediaTypePublicKey is a PEM public key: a scanner release key or a kit key.
	MediaTypePublicKey = "application/vnd.stellaops.public-key+pem"
	// MediaTypeRevocations lists revoked keys.
	MediaTypeRevocations = "application/vnd.stellaops.revocations+json"
	// MediaTypeWitnessPolicy is a witness policy in C2SP tlog-policy form.
	MediaTypeWitnessPolicy = "application/vnd.stellaops.tlog-policy"
	// MediaTypeCheckpoint is a C2SP tlog-checkpoint signed note, with any
	// C2SP tlog-cosignature witness signature lines.
	MediaTypeCheckpoint = "application/vnd.stellaops.tlog-checkpoint"
	// MediaTypeCosignature is a set of detached C2SP tlog-cosignature
	// signature lines for a checkpoint carried next to it.
	MediaTypeCosignature = "application/vnd.stellaops.tlog-cosignature"
	// MediaTypeConsistencyProof is a consistency proof between two
	// checkpoints of one log.
	MediaTypeConsistencyProof = "application/vnd.stellaops.tlog-consistency-proof+json"
	// MediaTypeTile is a C2SP tlog-tiles tile (hash or entry bundle).
	MediaTypeTile = "application/vnd.stellaops.tlog-tile"
	// MediaTypeBundle is a Sigstore bundle v0.3.
	MediaTypeBundle = "application/vnd.dev.sigstore.bundle.v0.3+json"
	// MediaTypeLicence is a signed entitlement licence.
	MediaTypeLicence = "application/vnd.stellaops.licence+jwt"
	// MediaTypeAuditHead is the head of an appliance's audit chain.
	MediaTypeAuditHead = "application/vnd.stellaops.audit-head+json"
)

// validMediaType reports whether t is printable ASCII without spaces, at most
// 255 bytes, of the form type/subtype with optional ;parameters.
func validMediaType(t string) bool {
	if t == "" || len(t) > 255 {
		return false
	}
	slash := -1
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
		if c == '/' && slash < 0 {
			slash = i
		}
	}
	return slash > 0 && slash < len(t)-1
}
