package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestExposition(t *testing.T) {
	m := New()
	m.Sign("ok", 3*time.Millisecond)
	m.Decision("sign", "deny", "quota_rate")
	m.KeyUsed("file:/var/lib/stellad/keys/signing.pem")
	m.Submission("logged")
	m.Verified(time.Millisecond)
	m.Appended("ok")
	m.Timestamp("badAlg")
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`stellad_sign_seconds_count{outcome="ok"} 1`,
		`stellad_decisions_total{action="sign",decision="deny",reason="quota_rate"} 1`,
		`stellad_key_signatures_total{key_uri="file:/var/lib/stellad/keys/signing.pem"} 1`,
		`attestor_submission_total{outcome="logged"} 1`,
		`attestor_verify_seconds_count 1`,
		`stellad_log_appends_total{outcome="ok"} 1`,
		`stellad_timestamps_total{outcome="badAlg"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
}

func TestNilRecordsNothing(t *testing.T) {
	var m *Metrics
	m.Sign("ok", time.Second)
	m.Decision("a", "b", "c")
	m.KeyUsed("k")
	m.Submission("x")
	m.Verified(time.Second)
	m.Appended("ok")
}
