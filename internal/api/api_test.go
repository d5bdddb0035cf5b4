package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stellaops/stellad/internal/apitype"
	"github.com/stellaops/stellad/internal/attest"
	"github.com/stellaops/stellad/kit/dsse"
)

func TestDecodeSignRequest(t *testing.T) {
	digest := strings.Repeat("ab", 32)
	tests := []struct {
		name    string
		body    string
		want    int // number of subjects
		wantErr bool
		keyless bool
	}{
		{"subjects", `{"subjects":[{"name":"a","digest":{"sha256":"` + digest + `"}}],"predicateType":"https://x.example/p","predicate":{}}`, 1, false, false},
		{"statement", `{"statement":{"_type":"https://in-toto.io/Statement/v1"}}`, 0, false, false},
		{"keyless", `{"statement":{"_type":"https://in-toto.io/Statement/v1"},"keyless":true}`, 0, false, true},
		{"keyless false", `{"statement":{"_type":"https://in-toto.io/Statement/v1"},"keyless":false}`, 0, false, false},
		{"keyless not a bool", `{"keyless":"yes"}`, 0, true, false},
		{"unknown field", `{"subjectz":[]}`, 0, true, false},
		{"trailing data", `{"predicateType":"x"} {}`, 0, true, false},
		{"not an object", `[]`, 0, true, false},
		{"truncated", `{"subjects":[`, 0, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, keyless, err := decodeSignRequest([]byte(tc.body))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil {
				if status, code := classify(err); status != http.StatusBadRequest || code != apitype.CodeBadRequest {
					t.Errorf("classified as %d %s, want 400 bad_request", status, code)
				}
				return
			}
			if len(req.Subjects) != tc.want {
				t.Errorf("%d subjects, want %d", len(req.Subjects), tc.want)
			}
			if keyless != tc.keyless {
				t.Errorf("keyless = %v, want %v", keyless, tc.keyless)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		err        error
		wantStatus int
		wantCode   string
	}{
		{attest.ErrInvalidRequest, 400, apitype.CodeBadRequest},
		{attest.ErrInvalidStatement, 400, apitype.CodeInvalidStatement},
		{attest.ErrInvalidEnvelope, 400, apitype.CodeInvalidEnvelope},
		{attest.ErrUntrusted, 422, apitype.CodeUntrustedSignature},
		{attest.ErrNotFound, 404, apitype.CodeNotFound},
		{attest.ErrUnavailable, 503, apitype.CodeUnavailable},
		{fmt.Errorf("signing: %w", attest.ErrKeylessUnavailable), 409, apitype.CodeNotConfigured},
		{&http.MaxBytesError{Limit: 10}, 413, apitype.CodePayloadTooLarge},
		{errors.New("disk on fire"), 500, apitype.CodeInternal},
	}
	for _, tc := range tests {
		status, code := classify(tc.err)
		if status != tc.wantStatus || code != tc.wantCode {
			t.Errorf("classify(%v) = %d %s, want %d %s", tc.err, status, code, tc.wantStatus, tc.wantCode)
		}
	}
}

// FuzzDecodeSignRequest feeds arbitrary bodies through the sign request
// decoder and the statement construction or parsing that follows it in
// attest: nothing may panic, and every refusal is a 400.
func FuzzDecodeSignRequest(f *testing.F) {
	digest := strings.Repeat("ab", 32)
	f.Add([]byte(`{"subjects":[{"name":"a","digest":{"sha256":"` + digest + `"}}],"predicateType":"https://x.example/p","predicate":{"k":[1,2]}}`))
	f.Add([]byte(`{"statement":{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"` + digest + `"}}],"predicateType":"https://x.example/p","predicate":{}}}`))
	f.Add([]byte(`{"subjects":null,"predicate":"\u0000"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, _, err := decodeSignRequest(body)
		if err != nil {
			if status, _ := classify(err); status != http.StatusBadRequest {
				t.Fatalf("decode error classified %d: %v", status, err)
			}
			return
		}
		if len(req.Statement) > 0 {
			_, _ = dsse.ParseStatement(req.Statement)
			return
		}
		if payload, err := dsse.NewStatement(req.Subjects, req.PredicateType, req.Predicate); err == nil {
			if _, err := dsse.ParseStatement(payload); err != nil {
				t.Fatalf("a statement built from an accepted request does not parse: %v\n%s", err, payload)
			}
			if !json.Valid(payload) {
				t.Fatalf("built statement is not JSON: %s", payload)
			}
		}
	})
}
