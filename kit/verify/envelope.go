package verify

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/sigstore/sigstore/pkg/signature"
)

// PayloadTypeInToto is the DSSE payload type of an in-toto statement.
const PayloadTypeInToto = "application/vnd.in-toto+json"

// statement is the part of an in-toto Statement (v1, or v0.1 as cosign writes)
// that verification reads.
type statement struct {
	Type          string          `json:"_type"`
	Subject       []Subject       `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

// pae is the DSSE v1 pre-authentication encoding of payloadType and payload.
func pae(payloadType string, payload []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(payloadType) + len(payload) + 32)
	b.WriteString("DSSEv1 ")
	b.WriteString(strconv.Itoa(len(payloadType)))
	b.WriteByte(' ')
	b.WriteString(payloadType)
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(len(payload)))
	b.WriteByte(' ')
	b.Write(payload)
	return b.Bytes()
}

// checkEnvelope verifies the envelope's single signature over the PAE with the
// trusted key, then (only then) parses the payload as an in-toto statement.
func checkEnvelope(in *input) (*statement, error) {
	env := in.raw.GetDsseEnvelope()
	if n := len(env.GetSignatures()); n != 1 {
		return nil, failf("DSSE envelope carries %d signatures, a bundle must carry exactly one", n)
	}
	if env.GetPayloadType() != PayloadTypeInToto {
		return nil, failf("DSSE payload type is %q, want %q", env.GetPayloadType(), PayloadTypeInToto)
	}
	v, err := signature.LoadDefaultVerifier(in.key)
	if err != nil {
		return nil, fmt.Errorf("%w: loading a verifier for the public key: %v", ErrInvalidInput, err)
	}
	sig := env.GetSignatures()[0].GetSig()
	if err := v.VerifySignature(bytes.NewReader(sig), bytes.NewReader(pae(env.GetPayloadType(), env.GetPayload()))); err != nil {
		return nil, failf("DSSE envelope signature does not verify with the given key (key id %s): %v", in.keyID, err)
	}
	var st statement
	if err := json.Unmarshal(env.GetPayload(), &st); err != nil {
		return nil, failf("DSSE payload is not an in-toto statement: %v", err)
	}
	switch st.Type {
	case "https://in-toto.io/Statement/v1", "https://in-toto.io/Statement/v0.1":
	default:
		return nil, failf("DSSE payload _type is %q, not an in-toto statement", st.Type)
	}
	if st.PredicateType == "" {
		return nil, failf("in-toto statement has no predicateType")
	}
	if len(st.Subject) == 0 {
		return nil, failf("in-toto statement has no subject")
	}
	return &st, nil
}

// checkStatement checks that a subject carries the artifact's SHA-256 and, when
// wantType is set, that the predicate type is wantType.
func checkStatement(st *statement, digest []byte, wantType string) error {
	want := hex.EncodeToString(digest)
	found := false
	for _, s := range st.Subject {
		if strings.EqualFold(s.Digest["sha256"], want) {
			found = true
			break
		}
	}
	if !found {
		names := make([]string, 0, len(st.Subject))
		for _, s := range st.Subject {
			names = append(names, fmt.Sprintf("%s (sha256:%s)", s.Name, s.Digest["sha256"]))
		}
		return failf("the artifact sha256:%s is not a subject of the statement; subjects: %s", want, strings.Join(names, ", "))
	}
	if wantType != "" && st.PredicateType != wantType {
		return failf("predicate type is %q, want %q", st.PredicateType, wantType)
	}
	return nil
}
