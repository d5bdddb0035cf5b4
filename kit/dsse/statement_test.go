package dsse

import (
	"encoding/json"
	"strings"
	"testing"
)

const testDigest = "5b3513f580c8397212ff2c8f459c199efc0c90e4354a5f3533adf0a3fff3a530"

func testStatement(tb testing.TB) []byte {
	tb.Helper()
	out, err := NewStatement([]ResourceDescriptor{
		{Name: "artifact.tar.gz", Digest: map[string]string{"sha256": testDigest}},
		{Name: "sbom.json", Digest: map[string]string{"sha512": strings.Repeat("ab", 64)}, Annotations: map[string]any{"z": 1, "a": "<b>"}},
	}, "https://slsa.dev/provenance/v1", json.RawMessage(`{"buildDefinition":{"buildType":"https://example.com/b","externalParameters":{}}, "runDetails":{}}`))
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func TestNewStatementGolden(t *testing.T) {
	out := testStatement(t)
	golden(t, "statement.golden", out)
	s, err := ParseStatement(out)
	if err != nil {
		t.Fatalf("ParseStatement(NewStatement): %v", err)
	}
	if s.Type != StatementTypeV1 || !s.HasSubjectDigest("sha256", strings.ToUpper(testDigest)) || s.HasSubjectDigest("sha1", testDigest) {
		t.Fatalf("parsed %+v", s)
	}
	empty, err := NewStatement([]ResourceDescriptor{{Digest: map[string]string{"sha256": testDigest}}}, "https://example.com/p", nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"_type":"https://in-toto.io/Statement/v1","predicate":{},"predicateType":"https://example.com/p","subject":[{"digest":{"sha256":"` + testDigest + `"}}]}`; string(empty) != want {
		t.Fatalf("NewStatement = %s\nwant %s", empty, want)
	}
}

func TestNewStatementErrors(t *testing.T) {
	sub := []ResourceDescriptor{{Digest: map[string]string{"sha256": testDigest}}}
	tests := []struct {
		name      string
		subjects  []ResourceDescriptor
		predType  string
		predicate string
	}{
		{name: "no subjects", predType: "https://e/p"},
		{name: "no digest", subjects: []ResourceDescriptor{{Name: "x"}}, predType: "https://e/p"},
		{name: "short sha256", subjects: []ResourceDescriptor{{Digest: map[string]string{"sha256": "abc"}}}, predType: "https://e/p"},
		{name: "relative predicateType", subjects: sub, predType: "provenance"},
		{name: "array predicate", subjects: sub, predType: "https://e/p", predicate: `[]`},
		{name: "duplicate key in predicate", subjects: sub, predType: "https://e/p", predicate: `{"a":1,"a":2}`},
		{name: "invalid predicate", subjects: sub, predType: "https://e/p", predicate: `{`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewStatement(tt.subjects, tt.predType, json.RawMessage(tt.predicate)); err == nil {
				t.Fatal("NewStatement succeeded")
			}
		})
	}
}

func TestParseStatement(t *testing.T) {
	d := `{"sha256":"` + testDigest + `"}`
	tests := []struct {
		name     string
		in       string
		wantType string
		wantErr  string
	}{
		{name: "v1", in: `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":` + d + `}],"predicateType":"https://e/p","predicate":{}}`, wantType: StatementTypeV1},
		{name: "v0.1 as cosign writes", in: `{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://cosign.sigstore.dev/attestation/v1","subject":[{"name":"a","digest":` + d + `}],"predicate":{"Data":"x","Timestamp":""}}`, wantType: StatementTypeV01},
		{name: "no predicate", in: `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":` + d + `}],"predicateType":"https://e/p"}`, wantType: StatementTypeV1},
		{name: "unknown digest algorithm kept", in: `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"gitCommit":"abc"}}],"predicateType":"https://e/p"}`, wantType: StatementTypeV1},
		{name: "wrong type", in: `{"_type":"https://in-toto.io/Statement/v2","subject":[{"digest":` + d + `}],"predicateType":"https://e/p"}`, wantErr: "statement._type: unsupported"},
		{name: "no subject", in: `{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"https://e/p"}`, wantErr: "statement.subject: empty"},
		{name: "missing subject", in: `{"_type":"https://in-toto.io/Statement/v1","predicateType":"https://e/p"}`, wantErr: "statement.subject: missing"},
		{name: "subject without digest", in: `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a"}],"predicateType":"https://e/p"}`, wantErr: "statement.subject[0].digest: missing"},
		{name: "uppercase hex", in: `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"` + strings.ToUpper(testDigest) + `"}}],"predicateType":"https://e/p"}`, wantErr: "statement.subject[0].digest.sha256: not lowercase hex"},
		{name: "sha1 wrong length", in: `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha1":"abcd"}}],"predicateType":"https://e/p"}`, wantErr: "digest.sha1: 4 hex digits, want 40"},
		{name: "sha384 wrong length", in: `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha384":"` + testDigest + `"}}],"predicateType":"https://e/p"}`, wantErr: "digest.sha384"},
		{name: "empty predicateType", in: `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":` + d + `}],"predicateType":""}`, wantErr: "statement.predicateType: empty"},
		{name: "relative predicateType", in: `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":` + d + `}],"predicateType":"slsa/v1"}`, wantErr: "statement.predicateType"},
		{name: "predicate not object", in: `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":` + d + `}],"predicateType":"https://e/p","predicate":"x"}`, wantErr: "statement.predicate: not a JSON object"},
		{name: "unknown field", in: `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":` + d + `}],"predicateType":"https://e/p","extra":1}`, wantErr: `unknown field "extra"`},
		{name: "duplicate key in predicate", in: `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":` + d + `}],"predicateType":"https://e/p","predicate":{"a":1,"a":2}}`, wantErr: `duplicate field "a"`},
		{name: "duplicate subject", in: `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":` + d + `}],"subject":[],"predicateType":"https://e/p"}`, wantErr: `duplicate field "subject"`},
		{name: "not JSON", in: `{"_type":`, wantErr: "statement"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseStatement([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseStatement error = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseStatement: %v", err)
			}
			if s.Type != tt.wantType {
				t.Fatalf("Type = %q, want %q", s.Type, tt.wantType)
			}
		})
	}
}
