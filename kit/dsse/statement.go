package dsse

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/stellaops/stellad/kit/internal/strictjson"

	"github.com/cyberphone/json-canonicalization/go/src/webpki.org/jsoncanonicalizer"
)

// StatementTypeV1 is the _type of an in-toto Statement v1.
const StatementTypeV1 = "https://in-toto.io/Statement/v1"

// StatementTypeV01 is the _type of an in-toto Statement v0.1, which cosign
// still writes. ParseStatement accepts it; NewStatement never writes it.
const StatementTypeV01 = "https://in-toto.io/Statement/v0.1"

// ResourceDescriptor is an in-toto v1 ResourceDescriptor (spec/v1/
// resource_descriptor.md). Digest maps algorithm names to lowercase hex.
type ResourceDescriptor struct {
	Name             string            `json:"name,omitempty"`
	URI              string            `json:"uri,omitempty"`
	Digest           map[string]string `json:"digest,omitempty"`
	Content          []byte            `json:"content,omitempty"`
	DownloadLocation string            `json:"downloadLocation,omitempty"`
	MediaType        string            `json:"mediaType,omitempty"`
	Annotations      map[string]any    `json:"annotations,omitempty"`
}

// Statement is an in-toto Statement. Type reports which version was parsed
// (StatementTypeV1 or StatementTypeV01). Predicate holds the predicate's JSON
// as it appeared (nil when absent).
type Statement struct {
	Type          string               `json:"_type"`
	Subject       []ResourceDescriptor `json:"subject"`
	PredicateType string               `json:"predicateType"`
	Predicate     json.RawMessage      `json:"predicate,omitempty"`
}

// MaxStatementSize is the largest statement ParseStatement accepts.
const MaxStatementSize = 32 << 20

// digestHexLen lists the algorithms whose digest length is checked.
var digestHexLen = map[string]int{
	"sha1": 40, "sha224": 56, "sha256": 64, "sha384": 96, "sha512": 128,
	"sha512_224": 56, "sha512_256": 64,
	"sha3_224": 56, "sha3_256": 64, "sha3_384": 96, "sha3_512": 128,
}

// ParseStatement decodes and validates an in-toto Statement: _type is v1 or
// v0.1, there is at least one subject, each subject has at least one digest,
// digests of known algorithms (sha1, sha2 and sha3 families) are lowercase
// hex of the right length, predicateType is an absolute URI and predicate,
// when present, is a JSON object. Unknown fields and duplicate keys are
// refused. Errors name the field.
func ParseStatement(payload []byte) (*Statement, error) {
	if len(payload) > MaxStatementSize {
		return nil, fmt.Errorf("in-toto: statement of %d bytes exceeds %d", len(payload), MaxStatementSize)
	}
	if err := strictjson.Check(payload, "statement"); err != nil {
		return nil, fmt.Errorf("in-toto: %w", err)
	}
	m, err := strictjson.ReadObject(payload, "statement", "_type", "subject", "predicateType", "predicate")
	if err != nil {
		return nil, fmt.Errorf("in-toto: %w", err)
	}
	var s Statement
	raw, ok := m["_type"]
	if !ok {
		return nil, errors.New("in-toto: statement._type: missing")
	}
	if s.Type, err = strictjson.ReadString(raw, "statement._type"); err != nil {
		return nil, fmt.Errorf("in-toto: %w", err)
	}
	if s.Type != StatementTypeV1 && s.Type != StatementTypeV01 {
		return nil, fmt.Errorf("in-toto: statement._type: unsupported %q", s.Type)
	}
	raw, ok = m["subject"]
	if !ok {
		return nil, errors.New("in-toto: statement.subject: missing")
	}
	subs, err := strictjson.ReadArray(raw, "statement.subject")
	if err != nil {
		return nil, fmt.Errorf("in-toto: %w", err)
	}
	if len(subs) == 0 {
		return nil, errors.New("in-toto: statement.subject: empty")
	}
	s.Subject = make([]ResourceDescriptor, len(subs))
	for i, r := range subs {
		what := fmt.Sprintf("statement.subject[%d]", i)
		if _, err := strictjson.ReadObject(r, what, "name", "uri", "digest", "content", "downloadLocation", "mediaType", "annotations"); err != nil {
			return nil, fmt.Errorf("in-toto: %w", err)
		}
		rd := &s.Subject[i]
		if err := json.Unmarshal(r, rd); err != nil {
			return nil, fmt.Errorf("in-toto: %s: %w", what, err)
		}
		if err := validateDigests(rd.Digest, what); err != nil {
			return nil, fmt.Errorf("in-toto: %w", err)
		}
	}
	raw, ok = m["predicateType"]
	if !ok {
		return nil, errors.New("in-toto: statement.predicateType: missing")
	}
	if s.PredicateType, err = strictjson.ReadString(raw, "statement.predicateType"); err != nil {
		return nil, fmt.Errorf("in-toto: %w", err)
	}
	if err := validateURI(s.PredicateType); err != nil {
		return nil, fmt.Errorf("in-toto: statement.predicateType: %w", err)
	}
	if raw, ok := m["predicate"]; ok {
		if !bytes.HasPrefix(raw, []byte("{")) {
			return nil, errors.New("in-toto: statement.predicate: not a JSON object")
		}
		s.Predicate = raw
	}
	return &s, nil
}

func validateDigests(d map[string]string, what string) error {
	if len(d) == 0 {
		return fmt.Errorf("%s.digest: missing or empty", what)
	}
	for alg, h := range d {
		if alg == "" || h == "" {
			return fmt.Errorf("%s.digest: empty algorithm or value", what)
		}
		n, known := digestHexLen[alg]
		if !known {
			continue
		}
		if len(h) != n {
			return fmt.Errorf("%s.digest.%s: %d hex digits, want %d", what, alg, len(h), n)
		}
		for i := 0; i < len(h); i++ {
			if c := h[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return fmt.Errorf("%s.digest.%s: not lowercase hex", what, alg)
			}
		}
	}
	return nil
}

func validateURI(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("not a URI: %w", err)
	}
	if !u.IsAbs() {
		return fmt.Errorf("%q is not an absolute URI", s)
	}
	return nil
}

// NewStatement returns the RFC 8785 canonical JSON of an in-toto Statement
// v1 with the given subjects, predicate type and predicate. The predicate
// must be a JSON object ({} when empty). The result passes ParseStatement;
// the same inputs always give the same bytes.
func NewStatement(subjects []ResourceDescriptor, predicateType string, predicate json.RawMessage) ([]byte, error) {
	if len(subjects) == 0 {
		return nil, errors.New("in-toto: new statement: no subjects")
	}
	for i := range subjects {
		if err := validateDigests(subjects[i].Digest, fmt.Sprintf("subject[%d]", i)); err != nil {
			return nil, fmt.Errorf("in-toto: new statement: %w", err)
		}
	}
	if err := validateURI(predicateType); err != nil {
		return nil, fmt.Errorf("in-toto: new statement: predicateType: %w", err)
	}
	if len(bytes.TrimSpace(predicate)) == 0 {
		predicate = json.RawMessage("{}")
	}
	if err := strictjson.Check(predicate, "predicate"); err != nil {
		return nil, fmt.Errorf("in-toto: new statement: %w", err)
	}
	if !bytes.HasPrefix(bytes.TrimSpace(predicate), []byte("{")) {
		return nil, errors.New("in-toto: new statement: predicate is not a JSON object")
	}
	raw, err := json.Marshal(Statement{Type: StatementTypeV1, Subject: subjects, PredicateType: predicateType, Predicate: predicate})
	if err != nil {
		return nil, fmt.Errorf("in-toto: new statement: %w", err)
	}
	out, err := jsoncanonicalizer.Transform(raw)
	if err != nil {
		return nil, fmt.Errorf("in-toto: new statement: canonicalizing: %w", err)
	}
	return out, nil
}

// HasSubjectDigest reports whether some subject carries digest hexDigest
// (compared case-insensitively) for algorithm alg.
func (s *Statement) HasSubjectDigest(alg, hexDigest string) bool {
	if hexDigest == "" {
		return false
	}
	for _, rd := range s.Subject {
		if v, ok := rd.Digest[alg]; ok && strings.EqualFold(v, hexDigest) {
			return true
		}
	}
	return false
}
