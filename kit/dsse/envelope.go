package dsse

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/stellaops/stellad/kit/internal/strictjson"
)

// PayloadTypeInToto is the DSSE payloadType of an in-toto Statement.
const PayloadTypeInToto = "application/vnd.in-toto+json"

// Signature is one DSSE signature. KeyID is an unauthenticated hint and may
// be empty; Sig is the raw signature bytes.
type Signature struct {
	KeyID string
	Sig   []byte
}

// Envelope is a DSSE v1 envelope. Payload holds the exact bytes that were
// signed (decoded from base64), never a re-encoding of them.
type Envelope struct {
	PayloadType string
	Payload     []byte
	Signatures  []Signature
}

// MaxEnvelopeSize is the largest encoded envelope Parse accepts.
const MaxEnvelopeSize = 64 << 20

// PAE returns the DSSE v1 pre-authentication encoding of payloadType and
// payload (DSSE protocol.md): "DSSEv1" SP LEN(type) SP type SP LEN(body) SP
// body, with lengths as ASCII decimal.
func PAE(payloadType string, payload []byte) []byte {
	buf := make([]byte, 0, 32+len(payloadType)+len(payload))
	buf = append(buf, "DSSEv1 "...)
	buf = strconv.AppendInt(buf, int64(len(payloadType)), 10)
	buf = append(buf, ' ')
	buf = append(buf, payloadType...)
	buf = append(buf, ' ')
	buf = strconv.AppendInt(buf, int64(len(payload)), 10)
	buf = append(buf, ' ')
	return append(buf, payload...)
}

// PAE returns the pre-authentication encoding of e's payload type and payload.
func (e *Envelope) PAE() []byte { return PAE(e.PayloadType, e.Payload) }

// Parse decodes a JSON DSSE envelope strictly: it refuses unknown fields,
// duplicate keys, trailing data, base64 that is neither standard nor URL-safe
// (padding optional, as the DSSE spec allows), an empty payloadType and an
// envelope without signatures. Errors name the offending field.
func Parse(data []byte) (*Envelope, error) {
	if len(data) > MaxEnvelopeSize {
		return nil, fmt.Errorf("dsse: envelope of %d bytes exceeds %d", len(data), MaxEnvelopeSize)
	}
	m, err := strictjson.ReadObject(data, "envelope", "payload", "payloadType", "signatures")
	if err != nil {
		return nil, fmt.Errorf("dsse: %w", err)
	}
	var e Envelope
	for _, f := range []string{"payload", "payloadType", "signatures"} {
		if _, ok := m[f]; !ok {
			return nil, fmt.Errorf("dsse: envelope.%s: missing", f)
		}
	}
	p, err := strictjson.ReadString(m["payload"], "envelope.payload")
	if err != nil {
		return nil, fmt.Errorf("dsse: %w", err)
	}
	if e.Payload, err = strictjson.DecodeBase64(p, "envelope.payload"); err != nil {
		return nil, fmt.Errorf("dsse: %w", err)
	}
	if e.PayloadType, err = strictjson.ReadString(m["payloadType"], "envelope.payloadType"); err != nil {
		return nil, fmt.Errorf("dsse: %w", err)
	}
	if e.PayloadType == "" {
		return nil, errors.New("dsse: envelope.payloadType: empty")
	}
	sigs, err := strictjson.ReadArray(m["signatures"], "envelope.signatures")
	if err != nil {
		return nil, fmt.Errorf("dsse: %w", err)
	}
	if len(sigs) == 0 {
		return nil, errors.New("dsse: envelope.signatures: no signatures")
	}
	e.Signatures = make([]Signature, len(sigs))
	for i, raw := range sigs {
		what := fmt.Sprintf("envelope.signatures[%d]", i)
		sm, err := strictjson.ReadObject(raw, what, "keyid", "sig")
		if err != nil {
			return nil, fmt.Errorf("dsse: %w", err)
		}
		if kraw, ok := sm["keyid"]; ok {
			if e.Signatures[i].KeyID, err = strictjson.ReadString(kraw, what+".keyid"); err != nil {
				return nil, fmt.Errorf("dsse: %w", err)
			}
		}
		sraw, ok := sm["sig"]
		if !ok {
			return nil, fmt.Errorf("dsse: %s.sig: missing", what)
		}
		s, err := strictjson.ReadString(sraw, what+".sig")
		if err != nil {
			return nil, fmt.Errorf("dsse: %w", err)
		}
		if e.Signatures[i].Sig, err = strictjson.DecodeBase64(s, what+".sig"); err != nil {
			return nil, fmt.Errorf("dsse: %w", err)
		}
		if len(e.Signatures[i].Sig) == 0 {
			return nil, fmt.Errorf("dsse: %s.sig: empty", what)
		}
	}
	return &e, nil
}

// Marshal encodes e as compact JSON with the fixed member order
// {"payload","payloadType","signatures":[{"keyid","sig"}]}, standard padded
// base64 and keyid omitted when empty. The output is deterministic and
// Parse(Marshal(e)) gives back e. It refuses an envelope Parse would refuse.
func (e *Envelope) Marshal() ([]byte, error) {
	if e.PayloadType == "" {
		return nil, errors.New("dsse: marshal: empty payloadType")
	}
	if len(e.Signatures) == 0 {
		return nil, errors.New("dsse: marshal: no signatures")
	}
	n := 64 + len(e.PayloadType) + (len(e.Payload)+2)/3*4
	for _, s := range e.Signatures {
		n += 32 + len(s.KeyID) + (len(s.Sig)+2)/3*4
	}
	buf := make([]byte, 0, n)
	buf = append(buf, `{"payload":`...)
	buf = strictjson.AppendBase64(buf, e.Payload)
	buf = append(buf, `,"payloadType":`...)
	var ok bool
	if buf, ok = strictjson.AppendString(buf, e.PayloadType); !ok {
		return nil, errors.New("dsse: marshal: payloadType is not valid UTF-8")
	}
	buf = append(buf, `,"signatures":[`...)
	for i, s := range e.Signatures {
		if len(s.Sig) == 0 {
			return nil, fmt.Errorf("dsse: marshal: signatures[%d]: empty sig", i)
		}
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, '{')
		if s.KeyID != "" {
			buf = append(buf, `"keyid":`...)
			if buf, ok = strictjson.AppendString(buf, s.KeyID); !ok {
				return nil, fmt.Errorf("dsse: marshal: signatures[%d]: keyid is not valid UTF-8", i)
			}
			buf = append(buf, ',')
		}
		buf = append(buf, `"sig":`...)
		buf = strictjson.AppendBase64(buf, s.Sig)
		buf = append(buf, '}')
	}
	return append(buf, "]}"...), nil
}
