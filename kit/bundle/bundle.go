package bundle

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/stellaops/stellad/kit/internal/strictjson"

	"golang.org/x/mod/sumdb/note"

	"github.com/stellaops/stellad/kit/dsse"
)

// MediaType is the media type of a Sigstore bundle v0.3.
const MediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"

// mediaTypeAlt is the other spelling of v0.3 that sigstore clients accept.
const mediaTypeAlt = "application/vnd.dev.sigstore.bundle+json;version=0.3"

// MaxBundleSize bounds the bundles Parse reads.
const MaxBundleSize = 64 << 20

// Kind and version of the log entries this package writes.
const (
	KindHashedRekord    = "hashedrekord"
	VersionHashedRekord = "0.0.2"
)

// Entry is one transparency log entry of a bundle. LogID is SHA-256 of the
// log key's PKIX DER (see LogID); Body is the canonicalised entry body. Parse
// also fills Kind and Version, and IntegratedTime and SignedEntryTimestamp
// for Rekor v1 entries; a Proof with an empty Checkpoint means the bundle
// carried no inclusion proof.
type Entry struct {
	LogIndex             uint64
	LogID                []byte
	Body                 []byte
	Proof                InclusionProof
	Kind, Version        string
	IntegratedTime       int64
	SignedEntryTimestamp []byte
}

// Verify checks that the entry is included in the log whose checkpoints v
// verifies: the proof's index equals LogIndex, the checkpoint signature, and
// the inclusion of LeafHash(Body).
func (e *Entry) Verify(v note.Verifier) error {
	if e.Proof.Checkpoint == "" {
		return fmt.Errorf("%w: entry %d has no inclusion proof", ErrCheckpoint, e.LogIndex)
	}
	if e.Proof.LogIndex != e.LogIndex {
		return fmt.Errorf("bundle: proof is for index %d, entry is %d", e.Proof.LogIndex, e.LogIndex)
	}
	lh := LeafHash(e.Body)
	return VerifyInclusion(lh[:], e.Proof, v)
}

// KeyHint returns the public key hint cosign and sigstore-go write into a
// key-signed bundle: standard base64 of SHA-256 of the key's PKIX DER.
func KeyHint(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("bundle: key hint: %w", err)
	}
	sum := sha256.Sum256(der)
	return base64.StdEncoding.EncodeToString(sum[:]), nil
}

// NewDSSE returns the JSON of a Sigstore bundle v0.3 for envelope, which must
// carry exactly one signature: verificationMaterial.publicKey.hint = keyHint
// (see KeyHint), one tlogEntry built from e (kindVersion hashedrekord 0.0.2,
// logId.keyId, inclusionProof with checkpoint.envelope, canonicalizedBody)
// and the envelope as dsseEnvelope. Member order follows the protobuf field
// order; int64 values are strings, bytes standard base64. The same inputs
// give the same bytes.
//
// The signature's keyid is written as given, but sigstore-go and cosign skip
// a signature whose keyid is neither empty nor the key's SSH SHA256
// fingerprint (go-securesystemslib's SHA256KeyID), so envelopes meant for
// bundles should be signed with an empty keyid.
func NewDSSE(envelope *dsse.Envelope, keyHint string, e Entry) ([]byte, error) {
	if keyHint == "" {
		return nil, errors.New("bundle: new DSSE bundle: empty key hint")
	}
	if !utf8.ValidString(keyHint) {
		return nil, errors.New("bundle: new DSSE bundle: key hint is not valid UTF-8")
	}
	return newDSSE(envelope, e, len(keyHint), func(b []byte) []byte {
		b = append(b, `"publicKey":{"hint":`...)
		b, _ = strictjson.AppendString(b, keyHint)
		return append(b, '}')
	}, nil)
}

// NewDSSEWithCertificate returns the JSON of a Sigstore bundle v0.3 for a
// keyless signature, as cosign v3 writes one: verificationMaterial.certificate
// .rawBytes = certDER (the signing certificate, leaf only; its issuers are in
// the verifier's trusted root), one tlogEntry built from e as in NewDSSE (its
// hashedrekord verifier should be certDER), and, when timestamps is not empty,
// timestampVerificationData.rfc3161Timestamps[].signedTimestamp = each DER
// RFC 3161 TimeStampResp in the order given (sigstore verifiers want their
// messageImprint to cover the DSSE signature bytes). certDER must parse as an
// X.509 certificate. The same inputs give the same bytes.
func NewDSSEWithCertificate(envelope *dsse.Envelope, certDER []byte, e Entry, timestamps [][]byte) ([]byte, error) {
	if _, err := x509.ParseCertificate(certDER); err != nil {
		return nil, fmt.Errorf("bundle: new DSSE bundle: certificate: %w", err)
	}
	extra := 0
	for i, ts := range timestamps {
		if len(ts) == 0 {
			return nil, fmt.Errorf("bundle: new DSSE bundle: timestamp %d is empty", i)
		}
		extra += 4*len(ts)/3 + 32
	}
	material := func(b []byte) []byte {
		b = append(b, `"certificate":{"rawBytes":`...)
		b = strictjson.AppendBase64(b, certDER)
		return append(b, '}')
	}
	var after func([]byte) []byte
	if len(timestamps) > 0 {
		after = func(b []byte) []byte {
			b = append(b, `,"timestampVerificationData":{"rfc3161Timestamps":[`...)
			for i, ts := range timestamps {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, `{"signedTimestamp":`...)
				b = strictjson.AppendBase64(b, ts)
				b = append(b, '}')
			}
			return append(b, "]}"...)
		}
	}
	return newDSSE(envelope, e, 4*len(certDER)/3+extra, material, after)
}

// newDSSE writes a DSSE bundle: material appends the key material member of
// verificationMaterial (publicKey or certificate), after (nil for none) the
// members that follow tlogEntries (timestampVerificationData); extra sizes
// the buffer for what they write.
func newDSSE(envelope *dsse.Envelope, e Entry, extra int, material, after func([]byte) []byte) ([]byte, error) {
	if envelope == nil || len(envelope.Signatures) != 1 {
		return nil, errors.New("bundle: new DSSE bundle: the envelope must carry exactly one signature")
	}
	if envelope.PayloadType == "" || len(envelope.Signatures[0].Sig) == 0 {
		return nil, errors.New("bundle: new DSSE bundle: empty payloadType or signature")
	}
	if (e.Kind != "" && e.Kind != KindHashedRekord) || (e.Version != "" && e.Version != VersionHashedRekord) {
		return nil, fmt.Errorf("bundle: new DSSE bundle: entry kind %s/%s, want hashedrekord/0.0.2", e.Kind, e.Version)
	}
	if err := checkEntry(&e); err != nil {
		return nil, fmt.Errorf("bundle: new DSSE bundle: %w", err)
	}
	var ok bool
	n := 512 + extra + len(e.Proof.Checkpoint) + 4*(len(e.Body)+len(envelope.Payload))/3 + 48*len(e.Proof.Hashes)
	b := make([]byte, 0, n)
	b = append(b, `{"mediaType":"`+MediaType+`","verificationMaterial":{`...)
	b = material(b)
	b = append(b, `,"tlogEntries":[`...)
	b = appendEntry(b, &e)
	b = append(b, ']')
	if after != nil {
		b = after(b)
	}
	b = append(b, `},"dsseEnvelope":{"payload":`...)
	b = strictjson.AppendBase64(b, envelope.Payload)
	b = append(b, `,"payloadType":`...)
	if b, ok = strictjson.AppendString(b, envelope.PayloadType); !ok {
		return nil, errors.New("bundle: new DSSE bundle: payloadType is not valid UTF-8")
	}
	s := envelope.Signatures[0]
	b = append(b, `,"signatures":[{"sig":`...)
	b = strictjson.AppendBase64(b, s.Sig)
	if s.KeyID != "" {
		b = append(b, `,"keyid":`...)
		if b, ok = strictjson.AppendString(b, s.KeyID); !ok {
			return nil, errors.New("bundle: new DSSE bundle: keyid is not valid UTF-8")
		}
	}
	return append(b, "}]}}"...), nil
}

func checkEntry(e *Entry) error {
	switch {
	case e.LogIndex > math.MaxInt64 || e.Proof.TreeSize > math.MaxInt64:
		return errors.New("log index or tree size exceeds int64")
	case len(e.LogID) == 0:
		return errors.New("empty log id")
	case len(e.Body) == 0:
		return errors.New("empty canonicalized body")
	case e.Proof.Checkpoint == "":
		return errors.New("no inclusion proof checkpoint")
	case e.Proof.LogIndex != e.LogIndex:
		return fmt.Errorf("proof index %d differs from log index %d", e.Proof.LogIndex, e.LogIndex)
	case e.Proof.LogIndex >= e.Proof.TreeSize:
		return fmt.Errorf("proof index %d not below tree size %d", e.Proof.LogIndex, e.Proof.TreeSize)
	case len(e.Proof.RootHash) == 0:
		return errors.New("empty root hash")
	case !utf8.ValidString(e.Proof.Checkpoint):
		return errors.New("checkpoint is not valid UTF-8")
	}
	return nil
}

func appendEntry(b []byte, e *Entry) []byte {
	b = append(b, `{"logIndex":"`...)
	b = strconv.AppendUint(b, e.LogIndex, 10)
	b = append(b, `","logId":{"keyId":`...)
	b = strictjson.AppendBase64(b, e.LogID)
	b = append(b, `},"kindVersion":{"kind":"`+KindHashedRekord+`","version":"`+VersionHashedRekord+`"}`...)
	if e.IntegratedTime != 0 {
		b = append(b, `,"integratedTime":"`...)
		b = strconv.AppendInt(b, e.IntegratedTime, 10)
		b = append(b, '"')
	}
	if len(e.SignedEntryTimestamp) > 0 {
		b = append(b, `,"inclusionPromise":{"signedEntryTimestamp":`...)
		b = strictjson.AppendBase64(b, e.SignedEntryTimestamp)
		b = append(b, '}')
	}
	b = append(b, `,"inclusionProof":{"logIndex":"`...)
	b = strconv.AppendUint(b, e.Proof.LogIndex, 10)
	b = append(b, `","rootHash":`...)
	b = strictjson.AppendBase64(b, e.Proof.RootHash)
	b = append(b, `,"treeSize":"`...)
	b = strconv.AppendUint(b, e.Proof.TreeSize, 10)
	b = append(b, '"')
	if len(e.Proof.Hashes) > 0 {
		b = append(b, `,"hashes":[`...)
		for i, h := range e.Proof.Hashes {
			if i > 0 {
				b = append(b, ',')
			}
			b = strictjson.AppendBase64(b, h)
		}
		b = append(b, ']')
	}
	b = append(b, `,"checkpoint":{"envelope":`...)
	b, _ = strictjson.AppendString(b, e.Proof.Checkpoint)
	b = append(b, `}},"canonicalizedBody":`...)
	b = strictjson.AppendBase64(b, e.Body)
	return append(b, '}')
}

// Bundle is the parsed view of a Sigstore bundle v0.3 carrying a DSSE
// envelope. EnvelopeJSON is the dsseEnvelope value exactly as it appeared.
// Exactly one of KeyHint and Certificates (DER, leaf first) is set.
// Timestamps holds RFC 3161 signed timestamps (DER), if any.
type Bundle struct {
	MediaType    string
	Envelope     *dsse.Envelope
	EnvelopeJSON []byte
	KeyHint      string
	Certificates [][]byte
	Entries      []Entry
	Timestamps   [][]byte
}

// Parse decodes a Sigstore bundle v0.3 with a DSSE envelope, as NewDSSE and
// cosign v3 write them. It refuses unknown fields, duplicate keys, other
// media types, message-signature bundles and malformed values, naming the
// field. It does not verify anything.
func Parse(data []byte) (*Bundle, error) {
	if len(data) > MaxBundleSize {
		return nil, fmt.Errorf("bundle: %d bytes exceeds %d", len(data), MaxBundleSize)
	}
	top, err := strictjson.ReadObject(data, "bundle", "mediaType", "verificationMaterial", "dsseEnvelope", "messageSignature")
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	var b Bundle
	if b.MediaType, err = strictjson.ReadString(top["mediaType"], "bundle.mediaType"); err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	if b.MediaType != MediaType && b.MediaType != mediaTypeAlt {
		return nil, fmt.Errorf("bundle: bundle.mediaType: unsupported %q", b.MediaType)
	}
	if _, ok := top["messageSignature"]; ok {
		return nil, errors.New("bundle: bundle.messageSignature: only DSSE bundles are supported")
	}
	if top["dsseEnvelope"] == nil {
		return nil, errors.New("bundle: bundle.dsseEnvelope: missing")
	}
	b.EnvelopeJSON = top["dsseEnvelope"]
	if b.Envelope, err = dsse.Parse(b.EnvelopeJSON); err != nil {
		return nil, fmt.Errorf("bundle: bundle.dsseEnvelope: %w", err)
	}
	vm, err := strictjson.ReadObject(top["verificationMaterial"], "verificationMaterial",
		"publicKey", "x509CertificateChain", "certificate", "tlogEntries", "timestampVerificationData")
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	if err := b.parseKeyMaterial(vm); err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	if raw, ok := vm["tlogEntries"]; ok {
		list, err := strictjson.ReadArray(raw, "verificationMaterial.tlogEntries")
		if err != nil {
			return nil, fmt.Errorf("bundle: %w", err)
		}
		for i, r := range list {
			e, err := parseEntry(r, fmt.Sprintf("tlogEntries[%d]", i))
			if err != nil {
				return nil, fmt.Errorf("bundle: %w", err)
			}
			b.Entries = append(b.Entries, *e)
		}
	}
	if raw, ok := vm["timestampVerificationData"]; ok {
		tv, err := strictjson.ReadObject(raw, "timestampVerificationData", "rfc3161Timestamps")
		if err != nil {
			return nil, fmt.Errorf("bundle: %w", err)
		}
		if raw, ok := tv["rfc3161Timestamps"]; ok {
			list, err := strictjson.ReadArray(raw, "timestampVerificationData.rfc3161Timestamps")
			if err != nil {
				return nil, fmt.Errorf("bundle: %w", err)
			}
			for i, r := range list {
				what := fmt.Sprintf("rfc3161Timestamps[%d]", i)
				ts, err := strictjson.ReadObject(r, what, "signedTimestamp")
				if err != nil {
					return nil, fmt.Errorf("bundle: %w", err)
				}
				d, err := readBytes(ts["signedTimestamp"], what+".signedTimestamp")
				if err != nil {
					return nil, fmt.Errorf("bundle: %w", err)
				}
				b.Timestamps = append(b.Timestamps, d)
			}
		}
	}
	return &b, nil
}

func (b *Bundle) parseKeyMaterial(vm map[string]json.RawMessage) error {
	count := 0
	if raw, ok := vm["publicKey"]; ok {
		count++
		pk, err := strictjson.ReadObject(raw, "verificationMaterial.publicKey", "hint")
		if err != nil {
			return err
		}
		if b.KeyHint, err = strictjson.ReadString(pk["hint"], "publicKey.hint"); err != nil {
			return err
		}
		if b.KeyHint == "" {
			return errors.New("publicKey.hint: empty")
		}
	}
	if raw, ok := vm["certificate"]; ok {
		count++
		c, err := strictjson.ReadObject(raw, "verificationMaterial.certificate", "rawBytes")
		if err != nil {
			return err
		}
		der, err := readBytes(c["rawBytes"], "certificate.rawBytes")
		if err != nil {
			return err
		}
		b.Certificates = [][]byte{der}
	}
	if raw, ok := vm["x509CertificateChain"]; ok {
		count++
		c, err := strictjson.ReadObject(raw, "verificationMaterial.x509CertificateChain", "certificates")
		if err != nil {
			return err
		}
		list, err := strictjson.ReadArray(c["certificates"], "x509CertificateChain.certificates")
		if err != nil {
			return err
		}
		for i, r := range list {
			what := fmt.Sprintf("x509CertificateChain.certificates[%d]", i)
			cm, err := strictjson.ReadObject(r, what, "rawBytes")
			if err != nil {
				return err
			}
			der, err := readBytes(cm["rawBytes"], what+".rawBytes")
			if err != nil {
				return err
			}
			b.Certificates = append(b.Certificates, der)
		}
		if len(b.Certificates) == 0 {
			return errors.New("x509CertificateChain.certificates: empty")
		}
	}
	if count != 1 {
		return fmt.Errorf("verificationMaterial: %d of publicKey, certificate, x509CertificateChain, want exactly 1", count)
	}
	return nil
}

func parseEntry(raw []byte, what string) (*Entry, error) {
	m, err := strictjson.ReadObject(raw, what, "logIndex", "logId", "kindVersion", "integratedTime",
		"inclusionPromise", "inclusionProof", "canonicalizedBody")
	if err != nil {
		return nil, err
	}
	var e Entry
	if e.LogIndex, err = readUint(m["logIndex"], what+".logIndex"); err != nil {
		return nil, err
	}
	lid, err := strictjson.ReadObject(m["logId"], what+".logId", "keyId")
	if err != nil {
		return nil, err
	}
	if e.LogID, err = readBytes(lid["keyId"], what+".logId.keyId"); err != nil {
		return nil, err
	}
	kv, err := strictjson.ReadObject(m["kindVersion"], what+".kindVersion", "kind", "version")
	if err != nil {
		return nil, err
	}
	if e.Kind, err = strictjson.ReadString(kv["kind"], what+".kindVersion.kind"); err != nil {
		return nil, err
	}
	if e.Version, err = strictjson.ReadString(kv["version"], what+".kindVersion.version"); err != nil {
		return nil, err
	}
	if raw, ok := m["integratedTime"]; ok {
		t, err := readUint(raw, what+".integratedTime")
		if err != nil {
			return nil, err
		}
		e.IntegratedTime = int64(t)
	}
	if raw, ok := m["inclusionPromise"]; ok {
		ip, err := strictjson.ReadObject(raw, what+".inclusionPromise", "signedEntryTimestamp")
		if err != nil {
			return nil, err
		}
		if e.SignedEntryTimestamp, err = readBytes(ip["signedEntryTimestamp"], what+".inclusionPromise.signedEntryTimestamp"); err != nil {
			return nil, err
		}
	}
	if e.Body, err = readBytes(m["canonicalizedBody"], what+".canonicalizedBody"); err != nil {
		return nil, err
	}
	if raw, ok := m["inclusionProof"]; ok {
		w := what + ".inclusionProof"
		p, err := strictjson.ReadObject(raw, w, "logIndex", "rootHash", "treeSize", "hashes", "checkpoint")
		if err != nil {
			return nil, err
		}
		if e.Proof.LogIndex, err = readUint(p["logIndex"], w+".logIndex"); err != nil {
			return nil, err
		}
		if e.Proof.TreeSize, err = readUint(p["treeSize"], w+".treeSize"); err != nil {
			return nil, err
		}
		if e.Proof.RootHash, err = readBytes(p["rootHash"], w+".rootHash"); err != nil {
			return nil, err
		}
		if raw, ok := p["hashes"]; ok {
			list, err := strictjson.ReadArray(raw, w+".hashes")
			if err != nil {
				return nil, err
			}
			for i, r := range list {
				h, err := readBytes(r, fmt.Sprintf("%s.hashes[%d]", w, i))
				if err != nil {
					return nil, err
				}
				e.Proof.Hashes = append(e.Proof.Hashes, h)
			}
		}
		cp, err := strictjson.ReadObject(p["checkpoint"], w+".checkpoint", "envelope")
		if err != nil {
			return nil, err
		}
		if e.Proof.Checkpoint, err = strictjson.ReadString(cp["envelope"], w+".checkpoint.envelope"); err != nil {
			return nil, err
		}
		if e.Proof.Checkpoint == "" {
			return nil, fmt.Errorf("%s.checkpoint.envelope: empty", w)
		}
	}
	return &e, nil
}

// readUint decodes a protobuf JSON int64 (a decimal string or a JSON
// integer) that must not be negative; absent means 0.
func readUint(raw []byte, what string) (uint64, error) {
	if raw == nil {
		return 0, nil
	}
	s := string(raw)
	if bytes.HasPrefix(raw, []byte(`"`)) {
		var err error
		if s, err = strictjson.ReadString(raw, what); err != nil {
			return 0, err
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v > math.MaxInt64 {
		return 0, fmt.Errorf("%s: not an int64 >= 0: %q", what, s)
	}
	return v, nil
}
