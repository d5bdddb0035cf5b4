package ca

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"strconv"
	"strings"
)

// MaxRequestSize bounds the body of a signing-certificate request. Real ones
// are under 3 KiB (an RSA-4096 CSR); the HTTP handler should read at most
// this many bytes plus one and let DecodeRequest refuse the rest.
const MaxRequestSize = 32 << 10

// maxProofSize bounds a decoded proof of possession (an RSA-4096 signature is
// 512 bytes).
const maxProofSize = 1024

// Request is a decoded Fulcio v2 signing-certificate request: either a public
// key with a proof of possession, or a CSR whose own signature is the proof.
// Its key has passed the CA's key checks. The zero Request holds no key.
type Request struct {
	pub   crypto.PublicKey
	proof []byte                   // publicKeyRequest.proofOfPossession
	csr   *x509.CertificateRequest // certificateSigningRequest, or nil
	token string                   // credentials.oidcIdentityToken, if sent
}

// PublicKey returns the key to certify: *ecdsa.PublicKey, *rsa.PublicKey or
// ed25519.PublicKey.
func (r Request) PublicKey() crypto.PublicKey { return r.pub }

// IdentityToken returns the identity token sent in the body
// (credentials.oidcIdentityToken), which Fulcio accepts as an alternative to
// the Authorization header; "" when absent (cosign sends the header only).
func (r Request) IdentityToken() string { return r.token }

// HasCSR reports whether the request was a certificateSigningRequest.
func (r Request) HasCSR() bool { return r.csr != nil }

// DecodeRequest decodes the JSON body of POST /api/v2/signingCert in either
// shape Fulcio's v2 API accepts:
//
//	{"publicKeyRequest":{"publicKey":{"algorithm":"ECDSA","content":PEM},"proofOfPossession":B64}}
//	{"certificateSigningRequest":B64(PEM or DER CSR)}
//
// optionally with "credentials":{"oidcIdentityToken":TOKEN}. Member names are
// also accepted in their protobuf snake_case form (as grpc-gateway does),
// algorithm as an enum name or number. It refuses, as *refusal.Error, a body
// over MaxRequestSize, unknown or repeated members, trailing data, neither or
// both shapes, bad base64 or PEM (CodeBadRequest), and a key the CA does not
// certify or that contradicts algorithm (CodeBadKey). It does not check the
// proof: call VerifyPossession with the token's subject.
func DecodeRequest(body []byte) (Request, error) {
	if len(body) > MaxRequestSize {
		return Request{}, badRequest("request body is larger than %d bytes", MaxRequestSize)
	}
	top, err := object(body, "request", map[string]string{
		"credentials":                 "credentials",
		"publicKeyRequest":            "publicKeyRequest",
		"public_key_request":          "publicKeyRequest",
		"certificateSigningRequest":   "certificateSigningRequest",
		"certificate_signing_request": "certificateSigningRequest",
	})
	if err != nil {
		return Request{}, err
	}
	var r Request
	if raw, ok := top["credentials"]; ok {
		cred, err := object(raw, "credentials", map[string]string{
			"oidcIdentityToken":   "oidcIdentityToken",
			"oidc_identity_token": "oidcIdentityToken",
		})
		if err != nil {
			return Request{}, err
		}
		if raw, ok := cred["oidcIdentityToken"]; ok {
			if r.token, err = str(raw, "credentials.oidcIdentityToken"); err != nil {
				return Request{}, err
			}
		}
	}
	pkr, hasPKR := top["publicKeyRequest"]
	csr, hasCSR := top["certificateSigningRequest"]
	switch {
	case hasPKR && hasCSR:
		return Request{}, badRequest("request has both publicKeyRequest and certificateSigningRequest")
	case hasPKR:
		err = r.decodePublicKeyRequest(pkr)
	case hasCSR:
		err = r.decodeCSR(csr)
	default:
		return Request{}, badRequest("request has neither publicKeyRequest nor certificateSigningRequest")
	}
	if err != nil {
		return Request{}, err
	}
	return r, nil
}

func (r *Request) decodePublicKeyRequest(raw json.RawMessage) error {
	pkr, err := object(raw, "publicKeyRequest", map[string]string{
		"publicKey":           "publicKey",
		"public_key":          "publicKey",
		"proofOfPossession":   "proofOfPossession",
		"proof_of_possession": "proofOfPossession",
	})
	if err != nil {
		return err
	}
	rawKey, ok := pkr["publicKey"]
	if !ok {
		return badRequest("publicKeyRequest has no publicKey")
	}
	key, err := object(rawKey, "publicKeyRequest.publicKey", map[string]string{
		"algorithm": "algorithm",
		"content":   "content",
	})
	if err != nil {
		return err
	}
	rawContent, ok := key["content"]
	if !ok {
		return badRequest("publicKeyRequest.publicKey has no content")
	}
	content, err := str(rawContent, "publicKeyRequest.publicKey.content")
	if err != nil {
		return err
	}
	pub, err := parsePublicKeyPEM(content)
	if err != nil {
		return err
	}
	if rawAlg, ok := key["algorithm"]; ok {
		alg, err := algorithm(rawAlg)
		if err != nil {
			return err
		}
		if alg != "" && alg != keyAlgorithm(pub) {
			return badKey("publicKey.algorithm is %s but the key is %s", alg, keyAlgorithm(pub))
		}
	}
	rawProof, ok := pkr["proofOfPossession"]
	if !ok {
		return badRequest("publicKeyRequest has no proofOfPossession")
	}
	proof, err := bytesField(rawProof, "publicKeyRequest.proofOfPossession")
	if err != nil {
		return err
	}
	if len(proof) == 0 {
		return badRequest("publicKeyRequest.proofOfPossession is empty")
	}
	if len(proof) > maxProofSize {
		return badRequest("publicKeyRequest.proofOfPossession is longer than %d bytes", maxProofSize)
	}
	r.pub, r.proof = pub, proof
	return nil
}

func (r *Request) decodeCSR(raw json.RawMessage) error {
	b, err := bytesField(raw, "certificateSigningRequest")
	if err != nil {
		return err
	}
	der := b
	if bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("-----BEGIN")) {
		block, rest := pem.Decode(b)
		if block == nil {
			return badRequest("certificateSigningRequest is not valid PEM")
		}
		if block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST" {
			return badRequest("certificateSigningRequest PEM block is %q, want CERTIFICATE REQUEST", block.Type)
		}
		if len(bytes.TrimSpace(rest)) != 0 {
			return badRequest("certificateSigningRequest has data after its PEM block")
		}
		der = block.Bytes
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return badRequest("certificateSigningRequest: %v", err)
	}
	if err := checkPublicKey(csr.PublicKey); err != nil {
		return err
	}
	r.pub, r.csr = csr.PublicKey, csr
	return nil
}

// VerifyPossession checks the proof that the caller holds the private key:
// for a CSR its own signature; otherwise the proof must be a signature over
// subject (the identity token's email or sub claim, as the client read it)
// made the way Fulcio checks it — ECDSA (ASN.1) over SHA-256(subject), and
// for P-384 keys SHA-384(subject) too (what sigstore-go's P-384 key pairs
// sign); RSA PKCS #1 v1.5 over SHA-256(subject); Ed25519 over subject itself.
// A mismatch is a CodeProofFailed refusal; an empty subject or Request a
// CodeBadRequest one.
func (r Request) VerifyPossession(subject string) error {
	if r.pub == nil {
		return badRequest("empty request")
	}
	if r.csr != nil {
		if err := r.csr.CheckSignature(); err != nil {
			return proofFailed("the CSR's signature does not verify: %v", err)
		}
		return nil
	}
	if subject == "" {
		return badRequest("no subject to check the proof of possession against")
	}
	switch k := r.pub.(type) {
	case *ecdsa.PublicKey:
		h := sha256.Sum256([]byte(subject))
		if ecdsa.VerifyASN1(k, h[:], r.proof) {
			return nil
		}
		if k.Curve == elliptic.P384() {
			h := sha512.Sum384([]byte(subject))
			if ecdsa.VerifyASN1(k, h[:], r.proof) {
				return nil
			}
		}
	case *rsa.PublicKey:
		h := sha256.Sum256([]byte(subject))
		if rsa.VerifyPKCS1v15(k, crypto.SHA256, h[:], r.proof) == nil {
			return nil
		}
	case ed25519.PublicKey:
		if ed25519.Verify(k, []byte(subject), r.proof) {
			return nil
		}
	}
	return proofFailed("the proof of possession is not a signature over the token's subject by this key")
}

// parsePublicKeyPEM parses one PEM "PUBLIC KEY" (PKIX) block with nothing but
// whitespace around it, and checks the key.
func parsePublicKeyPEM(content string) (crypto.PublicKey, error) {
	block, rest := pem.Decode([]byte(content))
	if block == nil {
		return nil, badRequest("publicKey.content is not PEM")
	}
	if block.Type != "PUBLIC KEY" {
		return nil, badRequest("publicKey.content PEM block is %q, want PUBLIC KEY", block.Type)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, badRequest("publicKey.content has data after its PEM block")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, badKey("publicKey.content: %v", err)
	}
	if err := checkPublicKey(pub); err != nil {
		return nil, err
	}
	return pub, nil
}

// algorithm reads Fulcio's PublicKeyAlgorithm enum (name or number) and
// returns the key family it names, "" for unspecified.
func algorithm(raw json.RawMessage) (string, error) {
	var name string
	if err := json.Unmarshal(raw, &name); err != nil {
		var n json.Number
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&n); err != nil {
			return "", badRequest("publicKey.algorithm is neither a name nor a number")
		}
		name = n.String()
	}
	switch strings.ToUpper(name) {
	case "", "0", "PUBLIC_KEY_ALGORITHM_UNSPECIFIED":
		return "", nil
	case "1", "RSA_PSS", "RSA":
		return "RSA_PSS", nil
	case "2", "ECDSA":
		return "ECDSA", nil
	case "3", "ED25519":
		return "ED25519", nil
	}
	return "", badRequest("publicKey.algorithm %q is unknown; want ECDSA, RSA_PSS or ED25519", name)
}

// object decodes raw as one JSON object whose member names are keys of names
// (each mapped to its canonical name). It refuses anything else, unknown and
// repeated members (also through an alias), and trailing data; members whose
// value is null count as absent, as in protobuf JSON.
func object(raw []byte, what string, names map[string]string) (map[string]json.RawMessage, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	t, err := d.Token()
	if err != nil {
		return nil, badRequest("%s is not JSON: %v", what, err)
	}
	if t != json.Delim('{') {
		return nil, badRequest("%s is not a JSON object", what)
	}
	out := make(map[string]json.RawMessage, len(names))
	seen := make(map[string]bool, len(names))
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return nil, badRequest("%s is not JSON: %v", what, err)
		}
		key, _ := t.(string)
		name, ok := names[key]
		if !ok {
			return nil, badRequest("%s has unknown member %q", what, truncate(key, 64))
		}
		if seen[name] {
			return nil, badRequest("%s has member %q twice", what, name)
		}
		seen[name] = true
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			return nil, badRequest("%s.%s is not JSON: %v", what, name, err)
		}
		if !bytes.Equal(v, []byte("null")) {
			out[name] = v
		}
	}
	if _, err := d.Token(); err != nil { // the closing brace
		return nil, badRequest("%s is not JSON: %v", what, err)
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return nil, badRequest("%s has data after its JSON object", what)
	}
	return out, nil
}

func str(raw json.RawMessage, what string) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", badRequest("%s is not a JSON string", what)
	}
	return s, nil
}

// bytesField decodes a protobuf JSON bytes member: base64, standard or URL
// alphabet, padded or not.
func bytesField(raw json.RawMessage, what string) ([]byte, error) {
	s, err := str(raw, what)
	if err != nil {
		return nil, err
	}
	enc := base64.StdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.URLEncoding
	}
	if !strings.HasSuffix(s, "=") && len(s)%4 != 0 {
		enc = enc.WithPadding(base64.NoPadding)
	}
	b, err := enc.Strict().DecodeString(s)
	if err != nil {
		return nil, badRequest("%s is not base64: %v", what, err)
	}
	return b, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..." + strconv.Itoa(len(s)-n) + " more bytes"
}
