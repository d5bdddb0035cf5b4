package audit

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/stellaops/stellad/kit/dsse"
)

// AnchorPredicateType is the predicate type of a chain head statement.
const AnchorPredicateType = "https://stellaops.dev/attestations/audit-head/v1"

// AnchorSubjectName is the name of a chain head statement's one subject.
const AnchorSubjectName = "stellad-audit-chain"

// anchorPredicate is the predicate of a chain head statement.
type anchorPredicate struct {
	Origin string `json:"origin"`
	Seq    uint64 `json:"seq"`
}

// AnchorStatement returns the in-toto Statement v1 (RFC 8785 canonical JSON)
// that anchors the chain head (seq, hash) in the transparency log: subject
// {name AnchorSubjectName, digest {sha256: hex(hash)}}, predicate type
// AnchorPredicateType, predicate {origin, seq}. origin names the appliance
// (its log's checkpoint origin). It fails for seq 0 or above MaxSeq and an
// empty origin.
func AnchorStatement(seq uint64, hash [32]byte, origin string) ([]byte, error) {
	if seq == 0 || seq > MaxSeq {
		return nil, fmt.Errorf("audit: anchor statement: seq %d out of range", seq)
	}
	if origin == "" {
		return nil, errors.New("audit: anchor statement: empty origin")
	}
	pred, err := json.Marshal(anchorPredicate{Origin: origin, Seq: seq})
	if err != nil {
		return nil, fmt.Errorf("audit: anchor statement: %w", err)
	}
	st, err := dsse.NewStatement([]dsse.ResourceDescriptor{{
		Name:   AnchorSubjectName,
		Digest: map[string]string{"sha256": hex.EncodeToString(hash[:])},
	}}, AnchorPredicateType, pred)
	if err != nil {
		return nil, fmt.Errorf("audit: anchor statement: %w", err)
	}
	return st, nil
}

// ParseAnchorStatement reads a statement written by AnchorStatement (the
// payload of the anchor's DSSE envelope, verified by the caller) and returns
// the chain head it anchors and the origin. It refuses any other statement:
// another predicate type, not exactly one subject named AnchorSubjectName
// with exactly a sha256 digest, or a predicate other than {origin, seq}.
func ParseAnchorStatement(payload []byte) (seq uint64, hash [32]byte, origin string, err error) {
	st, err := dsse.ParseStatement(payload)
	if err != nil {
		return 0, hash, "", fmt.Errorf("audit: anchor statement: %w", err)
	}
	switch {
	case st.Type != dsse.StatementTypeV1:
		return 0, hash, "", fmt.Errorf("audit: anchor statement: type %q", st.Type)
	case st.PredicateType != AnchorPredicateType:
		return 0, hash, "", fmt.Errorf("audit: anchor statement: predicate type %q", st.PredicateType)
	case len(st.Subject) != 1 || st.Subject[0].Name != AnchorSubjectName || len(st.Subject[0].Digest) != 1:
		return 0, hash, "", errors.New("audit: anchor statement: want one subject named " + AnchorSubjectName + " with one digest")
	}
	if err := decodeHash(&hash, st.Subject[0].Digest["sha256"]); err != nil {
		return 0, hash, "", fmt.Errorf("audit: anchor statement: subject sha256 digest: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(st.Predicate))
	dec.DisallowUnknownFields()
	var p anchorPredicate
	if err := dec.Decode(&p); err != nil {
		return 0, hash, "", fmt.Errorf("audit: anchor statement: predicate: %w", err)
	}
	if p.Seq == 0 || p.Seq > MaxSeq || p.Origin == "" {
		return 0, hash, "", errors.New("audit: anchor statement: predicate: seq out of range or empty origin")
	}
	return p.Seq, hash, p.Origin, nil
}
