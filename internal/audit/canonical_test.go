package audit

import (
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/cyberphone/json-canonicalization/go/src/webpki.org/jsoncanonicalizer"
)

// reference encodes r with encoding/json and canonicalizes the result with
// the RFC 8785 reference implementation.
func reference(t testing.TB, r *Row) []byte {
	m := map[string]any{
		"action": r.Action, "decision": r.Decision, "hash": hex.EncodeToString(r.Hash[:]), "issuer": r.Issuer,
		"key_uri": r.KeyURI, "log_index": r.LogIndex, "poe_state": r.PoEState, "predicate_type": r.PredicateType,
		"prev": hex.EncodeToString(r.Prev[:]), "principal": r.Principal, "quota_state": r.QuotaState,
		"reason": r.Reason, "request_id": r.RequestID, "seq": r.Seq, "subject_digests": r.SubjectDigests,
		"tenant": r.Tenant, "time": r.Time.UTC().Format("2006-01-02T15:04:05.000000000Z"), "uuid": r.UUID,
	}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jsoncanonicalizer.Transform(raw)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sampleRow(s string) Row {
	idx := uint64(MaxSeq)
	return Row{Record: Record{
		Time: time.Date(2026, 11, 25, 4, 5, 6, 7, time.UTC), RequestID: s, Tenant: "t" + s, Principal: s + s,
		Issuer: "i", Action: ActionSign, SubjectDigests: []string{s, "sha256:00"}, PredicateType: s,
		PoEState: "p", QuotaState: "q", KeyURI: "k", Decision: DecisionDeny, Reason: s, LogIndex: &idx, UUID: "u",
	}, Seq: 1<<53 - 1, Prev: [32]byte{1}, Hash: [32]byte{2}}
}

func TestCanonicalMatchesRFC8785(t *testing.T) {
	for _, s := range []string{"", "plain", "quote \" backslash \\ slash /", "\b\f\n\r\t\x00\x01\x1f\x7f",
		"<>&", "\u2028\u2029", "é€𝄞", "\uFFFD", "\U0010FFFF"} {
		r := sampleRow(s)
		if got, want := r.MarshalCanonical(), reference(t, &r); string(got) != string(want) {
			t.Errorf("%q:\n got %s\nwant %s", s, got, want)
		}
	}
	r := sampleRow("x")
	r.LogIndex, r.SubjectDigests = nil, []string{}
	if got, want := r.MarshalCanonical(), reference(t, &r); string(got) != string(want) {
		t.Errorf("null log index:\n got %s\nwant %s", got, want)
	}
}

// TestRowHashKnownAnswer pins the hash of one row, so that a change to the
// encoding (which would break every stored chain) fails here.
func TestRowHashKnownAnswer(t *testing.T) {
	r := Row{Record: Record{
		Time: time.Date(2026, 11, 25, 4, 5, 6, 0, time.UTC), RequestID: "req-1", Tenant: "acme",
		Principal: "alice", Issuer: "https://authority.example", Action: ActionSign,
		SubjectDigests: []string{"sha256:" + hex.EncodeToString(make([]byte, 32))},
		PredicateType:  "https://slsa.dev/provenance/v1", PoEState: "valid", QuotaState: "ok",
		KeyURI: "file:keys/acme.pem", Decision: DecisionAllow, Reason: "ok", UUID: "ab",
	}, Seq: 1}
	body := `{"action":"sign","decision":"allow","issuer":"https://authority.example","key_uri":"file:keys/acme.pem",` +
		`"log_index":null,"poe_state":"valid","predicate_type":"https://slsa.dev/provenance/v1","principal":"alice",` +
		`"quota_state":"ok","reason":"ok","request_id":"req-1","seq":1,"subject_digests":["sha256:` +
		hex.EncodeToString(make([]byte, 32)) + `"],"tenant":"acme","time":"2026-11-25T04:05:06.000000000Z","uuid":"ab"}`
	if got := string(r.MarshalBody()); got != body {
		t.Fatalf("MarshalBody =\n%s\nwant\n%s", got, body)
	}
	const want = "b6deba723e1fecd80c7244b74f0ceade230994d1f5803becf010672a6fd42498" // computed independently (Python hashlib)
	if got := hex.EncodeToString(func() []byte { h := r.ComputeHash(); return h[:] }()); got != want {
		t.Fatalf("ComputeHash = %s, want %s", got, want)
	}
}
