package policy

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/stellaops/stellad/kit/dsse"
)

// Media types, annotations and values of the two release signature forms.
const (
	// MediaTypeSimpleSigning is the layer media type of a cosign classic
	// signature: the signed payload is the layer blob.
	MediaTypeSimpleSigning = "application/vnd.dev.cosign.simplesigning.v1+json"
	// AnnotationCosignSignature carries the base64 signature over the layer
	// blob of a cosign classic signature.
	AnnotationCosignSignature = "dev.cosignproject.cosign/signature"
	// MediaTypeBundle is the artifactType of an OCI 1.1 referrer holding a
	// Sigstore bundle, and the media type of its one layer.
	MediaTypeBundle = "application/vnd.dev.sigstore.bundle.v0.3+json"
	// mediaTypeBundleAlt is the older spelling of the v0.3 bundle media type.
	mediaTypeBundleAlt = "application/vnd.dev.sigstore.bundle+json;version=0.3"
	// simpleSigningType is critical.type of a cosign image signature.
	simpleSigningType = "cosign container image signature"
	// annotationKind and kindSigs mark the signature manifest in a layout
	// written by `cosign save`, which tags nothing.
	annotationKind = "kind"
	kindSigs       = "dev.cosignproject.cosign/sigs"
	// maxSignatureLen bounds a base64 signature annotation.
	maxSignatureLen = 8192
)

// Release signature forms, recorded with each release.
const (
	// FormCosignClassic: a cosign "sha256-<hex>.sig" manifest whose
	// simple-signing layer is signed.
	FormCosignClassic = "cosign-classic"
	// FormReferrerMessage: an OCI 1.1 referrer holding a Sigstore bundle with
	// a messageSignature over the image manifest.
	FormReferrerMessage = "referrer-message-signature"
	// FormReferrerDSSE: an OCI 1.1 referrer holding a Sigstore bundle with a
	// DSSE envelope whose in-toto statement names the image manifest.
	FormReferrerDSSE = "referrer-dsse"
)

// Release is one verified release signature found in a layout.
type Release struct {
	// Digest is the released scanner image manifest digest (sha256:...).
	Digest string
	// Form is one of the Form constants.
	Form string
	// KeyID identifies the release key that verified the signature (see
	// KeyID).
	KeyID string
	// SignatureManifest is the digest of the manifest carrying the signature.
	SignatureManifest string
	// Source is the layout-relative file holding the signed bytes.
	Source string
	// PredicateType is the in-toto predicate type of a FormReferrerDSSE
	// signature, empty otherwise.
	PredicateType string
}

// verifyLayout finds and verifies every release signature in l. It fails on
// the first signature that does not verify with keys or does not match the
// image it is attached to, and when there is none at all.
func verifyLayout(ctx context.Context, l *Layout, keys []releaseKey) ([]Release, error) {
	var out []Release
	for m, err := range l.Manifests() {
		if err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var rels []Release
		switch {
		case isClassic(m):
			rels, err = verifyClassic(l, m, keys)
		case isReferrer(m):
			var r Release
			r, err = verifyReferrer(l, m, keys)
			rels = []Release{r}
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("layout %s: manifest %s (%s): %w", l.dir, m.Descriptor.Digest, blobPath(m.Descriptor.Digest), err)
		}
		out = append(out, rels...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("layout %s: %w (no simple-signing layer and no %s referrer)", l.dir, ErrNoRelease, MediaTypeBundle)
	}
	return out, nil
}

// sigTagDigest returns the digest a cosign signature tag names: the ref
// name's tag part (after the last '/' and ':') is "sha256-<hex>.sig".
func sigTagDigest(ref string) (digest string, ok bool) {
	tag := ref[strings.LastIndexByte(ref, '/')+1:]
	tag = tag[strings.LastIndexByte(tag, ':')+1:]
	h, ok := strings.CutPrefix(tag, "sha256-")
	if !ok {
		return "", false
	}
	h, ok = strings.CutSuffix(h, ".sig")
	if !ok || !validHex64(h) {
		return "", false
	}
	return "sha256:" + h, true
}

func isClassic(m *Manifest) bool {
	if _, ok := sigTagDigest(m.Descriptor.Annotations[AnnotationRefName]); ok {
		return true
	}
	if m.Descriptor.Annotations[annotationKind] == kindSigs {
		return true
	}
	for _, d := range m.Layers {
		if d.MediaType == MediaTypeSimpleSigning {
			return true
		}
	}
	return false
}

func isReferrer(m *Manifest) bool {
	at := m.ArtifactType
	if at == "" { // image-spec manifest.md: artifactType falls back to config.mediaType
		at = m.Config.MediaType
	}
	return at == MediaTypeBundle || at == mediaTypeBundleAlt
}

// verifyClassic verifies every simple-signing layer of a cosign classic
// signature manifest.
func verifyClassic(l *Layout, m *Manifest, keys []releaseKey) ([]Release, error) {
	tagDigest, tagged := sigTagDigest(m.Descriptor.Annotations[AnnotationRefName])
	var out []Release
	for i, d := range m.Layers {
		if d.MediaType != MediaTypeSimpleSigning {
			continue
		}
		src := blobPath(d.Digest)
		b64, ok := d.Annotations[AnnotationCosignSignature]
		if !ok {
			return nil, fmt.Errorf("%w: layers[%d] (%s): no %s annotation", ErrSignature, i, src, AnnotationCosignSignature)
		}
		sig, err := decodeBase64(b64, maxSignatureLen)
		if err != nil {
			return nil, fmt.Errorf("%w: layers[%d] (%s): %s: %w", ErrSignature, i, src, AnnotationCosignSignature, err)
		}
		payload, err := l.Blob(d)
		if err != nil {
			return nil, fmt.Errorf("layers[%d]: %w", i, err)
		}
		key, ok := findKey(keys, func(pub crypto.PublicKey) bool { return verifyMessage(pub, payload, sig) })
		if !ok {
			return nil, fmt.Errorf("%w: layers[%d] (%s): signature does not verify with any trusted release key", ErrSignature, i, src)
		}
		digest, err := parseSimpleSigning(payload)
		if err != nil {
			return nil, fmt.Errorf("%w: layers[%d] (%s): %w", ErrSignature, i, src, err)
		}
		if tagged && digest != tagDigest {
			return nil, fmt.Errorf("%w: layers[%d] (%s): signs %s but the manifest is tagged for %s", ErrSignature, i, src, digest, tagDigest)
		}
		out = append(out, Release{Digest: digest, Form: FormCosignClassic, KeyID: key.id, SignatureManifest: m.Descriptor.Digest, Source: src})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: tagged or marked as a cosign signature but holds no %s layer", ErrSignature, MediaTypeSimpleSigning)
	}
	return out, nil
}

// maxSimpleSigning bounds a simple-signing payload.
const maxSimpleSigning = 64 << 10

// parseSimpleSigning decodes a cosign simple-signing payload (the "atomic
// container signature" format of containers/image, docs/containers-
// signature.5.md, with critical.type "cosign container image signature")
// and returns critical.image.docker-manifest-digest. Unknown fields in
// critical are refused, as that format requires; optional is free-form.
func parseSimpleSigning(data []byte) (string, error) {
	if len(data) > maxSimpleSigning {
		return "", fmt.Errorf("simple-signing payload of %d bytes exceeds %d", len(data), maxSimpleSigning)
	}
	var p struct {
		Critical *struct {
			Identity *struct {
				DockerReference *string `json:"docker-reference"`
			} `json:"identity"`
			Image *struct {
				DockerManifestDigest string `json:"docker-manifest-digest"`
			} `json:"image"`
			Type string `json:"type"`
		} `json:"critical"`
		Optional json.RawMessage `json:"optional"`
	}
	if err := decodeJSON(data, &p, true); err != nil {
		return "", fmt.Errorf("simple-signing payload: %w", err)
	}
	switch {
	case p.Critical == nil:
		return "", errors.New("simple-signing payload: critical missing")
	case p.Critical.Type != simpleSigningType:
		return "", fmt.Errorf("simple-signing payload: critical.type %q, want %q", trunc(p.Critical.Type), simpleSigningType)
	case p.Critical.Identity == nil || p.Critical.Identity.DockerReference == nil:
		return "", errors.New("simple-signing payload: critical.identity.docker-reference missing")
	case p.Critical.Image == nil:
		return "", errors.New("simple-signing payload: critical.image missing")
	case !ValidDigest(p.Critical.Image.DockerManifestDigest):
		return "", fmt.Errorf("simple-signing payload: critical.image.docker-manifest-digest %q is not sha256:<64 lowercase hex>", trunc(p.Critical.Image.DockerManifestDigest))
	}
	if o := bytes.TrimSpace(p.Optional); len(o) > 0 && o[0] != '{' && !bytes.Equal(o, []byte("null")) {
		return "", errors.New("simple-signing payload: optional is neither an object nor null")
	}
	return p.Critical.Image.DockerManifestDigest, nil
}

// verifyReferrer verifies the Sigstore bundle of an OCI 1.1 referrer
// against the manifest its subject names.
func verifyReferrer(l *Layout, m *Manifest, keys []releaseKey) (Release, error) {
	if m.Subject == nil {
		return Release{}, fmt.Errorf("%w: %s referrer without a subject", ErrSignature, MediaTypeBundle)
	}
	if len(m.Layers) != 1 {
		return Release{}, fmt.Errorf("%w: %s referrer with %d layers, want 1", ErrSignature, MediaTypeBundle, len(m.Layers))
	}
	d := m.Layers[0]
	src := blobPath(d.Digest)
	if d.MediaType != MediaTypeBundle && d.MediaType != mediaTypeBundleAlt {
		return Release{}, fmt.Errorf("%w: layers[0] (%s): mediaType %q is not a Sigstore bundle v0.3", ErrSignature, src, trunc(d.MediaType))
	}
	data, err := l.Blob(d)
	if err != nil {
		return Release{}, fmt.Errorf("layers[0]: %w", err)
	}
	b, err := parseReleaseBundle(data)
	if err != nil {
		return Release{}, fmt.Errorf("%w: layers[0] (%s): %w", ErrSignature, src, err)
	}
	subject := m.Subject.Digest
	rel := Release{Digest: subject, SignatureManifest: m.Descriptor.Digest, Source: src}
	var key releaseKey
	var ok bool
	if b.envelope != nil {
		rel.Form = FormReferrerDSSE
		key, rel.PredicateType, ok, err = verifyDSSE(b.envelope, subject, keys)
	} else {
		rel.Form = FormReferrerMessage
		key, ok, err = verifyMessageSignature(l, b, *m.Subject, keys)
	}
	if err != nil {
		return Release{}, fmt.Errorf("%w: layers[0] (%s): %w", ErrSignature, src, err)
	}
	if !ok {
		return Release{}, fmt.Errorf("%w: layers[0] (%s): signature does not verify with any trusted release key", ErrSignature, src)
	}
	rel.KeyID = key.id
	return rel, nil
}

// verifyDSSE checks the envelope's signatures with keys (DSSE PAE) and then
// that its in-toto statement names subject (sha256). It returns the key
// that verified and the statement's predicate type.
func verifyDSSE(env *dsse.Envelope, subject string, keys []releaseKey) (releaseKey, string, bool, error) {
	pae := env.PAE()
	key, ok := findKey(keys, func(pub crypto.PublicKey) bool {
		for _, s := range env.Signatures {
			if verifyMessage(pub, pae, s.Sig) {
				return true
			}
		}
		return false
	})
	if !ok {
		return releaseKey{}, "", false, nil
	}
	if env.PayloadType != dsse.PayloadTypeInToto {
		return releaseKey{}, "", false, fmt.Errorf("DSSE payloadType %q is not %s", trunc(env.PayloadType), dsse.PayloadTypeInToto)
	}
	st, err := dsse.ParseStatement(env.Payload)
	if err != nil {
		return releaseKey{}, "", false, err
	}
	if !st.HasSubjectDigest("sha256", strings.TrimPrefix(subject, "sha256:")) {
		return releaseKey{}, "", false, fmt.Errorf("the signed statement does not name the referrer's subject %s", subject)
	}
	return key, st.PredicateType, true, nil
}

// verifyMessageSignature checks a bundle's messageSignature over the subject
// manifest: the message digest must be the subject's (SHA2_256) or, for
// SHA2_384, the SHA-384 of the subject blob, which must then be in the
// layout; Ed25519 signs the subject's bytes, which must be in the layout too.
func verifyMessageSignature(l *Layout, b *releaseBundle, subject Descriptor, keys []releaseKey) (releaseKey, bool, error) {
	var subjectBytes []byte
	readSubject := func() ([]byte, error) {
		if subjectBytes == nil {
			data, err := l.Blob(subject)
			if err != nil {
				return nil, fmt.Errorf("reading the subject manifest: %w", err)
			}
			subjectBytes = data
		}
		return subjectBytes, nil
	}
	var h crypto.Hash
	switch b.digestAlg {
	case "SHA2_256":
		h = crypto.SHA256
		if "sha256:"+hex.EncodeToString(b.digest) != subject.Digest {
			return releaseKey{}, false, fmt.Errorf("messageDigest is sha256:%s, not the referrer's subject %s", hex.EncodeToString(b.digest), subject.Digest)
		}
	case "SHA2_384":
		h = crypto.SHA384
		data, err := readSubject()
		if err != nil {
			return releaseKey{}, false, err
		}
		if sum := sha512.Sum384(data); !bytes.Equal(sum[:], b.digest) {
			return releaseKey{}, false, fmt.Errorf("messageDigest (SHA2_384) is not the digest of the referrer's subject %s", subject.Digest)
		}
	default:
		return releaseKey{}, false, fmt.Errorf("messageDigest.algorithm %q is not SHA2_256 or SHA2_384", trunc(b.digestAlg))
	}
	var subjectErr error
	key, ok := findKey(keys, func(pub crypto.PublicKey) bool {
		if k, isEd := pub.(ed25519.PublicKey); isEd {
			data, err := readSubject()
			if err != nil {
				subjectErr = err
				return false
			}
			return ed25519.Verify(k, data, b.signature)
		}
		return verifyDigest(pub, h, b.digest, b.signature)
	})
	if !ok && subjectErr != nil {
		return releaseKey{}, false, subjectErr
	}
	return key, ok, nil
}

// releaseBundle is what the check needs from a Sigstore bundle v0.3: either
// a DSSE envelope or a message signature.
type releaseBundle struct {
	envelope  *dsse.Envelope
	digestAlg string
	digest    []byte
	signature []byte
}

// maxBundle bounds a Sigstore bundle read from a layout.
const maxBundle = 4 << 20

// parseReleaseBundle decodes a Sigstore bundle v0.3 (protobuf-specs
// sigstore_bundle.proto, JSON mapping) holding exactly one of dsseEnvelope
// and messageSignature. verificationMaterial is not interpreted: trust comes
// from the release keys alone, never from material inside the bundle.
func parseReleaseBundle(data []byte) (*releaseBundle, error) {
	if len(data) > maxBundle {
		return nil, fmt.Errorf("bundle of %d bytes exceeds %d", len(data), maxBundle)
	}
	var top struct {
		MediaType            string          `json:"mediaType"`
		VerificationMaterial json.RawMessage `json:"verificationMaterial"`
		DSSEEnvelope         json.RawMessage `json:"dsseEnvelope"`
		MessageSignature     *struct {
			MessageDigest *struct {
				Algorithm string `json:"algorithm"`
				Digest    string `json:"digest"`
			} `json:"messageDigest"`
			Signature string `json:"signature"`
		} `json:"messageSignature"`
	}
	if err := decodeJSON(data, &top, true); err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	if top.MediaType != MediaTypeBundle && top.MediaType != mediaTypeBundleAlt {
		return nil, fmt.Errorf("bundle: mediaType %q is not a Sigstore bundle v0.3", trunc(top.MediaType))
	}
	hasEnv := len(top.DSSEEnvelope) > 0 && !bytes.Equal(top.DSSEEnvelope, []byte("null"))
	if hasEnv == (top.MessageSignature != nil) {
		return nil, errors.New("bundle: want exactly one of dsseEnvelope and messageSignature")
	}
	b := &releaseBundle{}
	if hasEnv {
		env, err := dsse.Parse(top.DSSEEnvelope)
		if err != nil {
			return nil, fmt.Errorf("bundle: dsseEnvelope: %w", err)
		}
		b.envelope = env
		return b, nil
	}
	ms := top.MessageSignature
	if ms.MessageDigest == nil {
		return nil, errors.New("bundle: messageSignature.messageDigest missing")
	}
	var err error
	b.digestAlg = ms.MessageDigest.Algorithm
	if b.digest, err = decodeBase64(ms.MessageDigest.Digest, maxSignatureLen); err != nil {
		return nil, fmt.Errorf("bundle: messageSignature.messageDigest.digest: %w", err)
	}
	if b.signature, err = decodeBase64(ms.Signature, maxSignatureLen); err != nil {
		return nil, fmt.Errorf("bundle: messageSignature.signature: %w", err)
	}
	if len(b.signature) == 0 {
		return nil, errors.New("bundle: messageSignature.signature: empty")
	}
	return b, nil
}

// decodeBase64 accepts standard or URL-safe base64, padded or not (the
// protobuf JSON mapping accepts all four), of at most max characters.
func decodeBase64(s string, max int) ([]byte, error) {
	if len(s) > max {
		return nil, fmt.Errorf("base64 value of %d characters exceeds %d", len(s), max)
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.Strict().DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not valid base64")
}
