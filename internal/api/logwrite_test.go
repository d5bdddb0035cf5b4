package api

import (
	"testing"
	"time"
)

func TestSourceLimits(t *testing.T) {
	l := newSourceLimits(10, 3)
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for i := range 3 {
		if ok, _ := l.allow("10.0.0.1", t0); !ok {
			t.Fatalf("request %d within the burst refused", i)
		}
	}
	ok, wait := l.allow("10.0.0.1", t0)
	if ok || wait <= 0 || wait > 100*time.Millisecond {
		t.Fatalf("beyond the burst: ok %v, wait %v; want a refusal for about 100 ms", ok, wait)
	}
	if ok, _ := l.allow("10.0.0.2", t0); !ok {
		t.Fatal("another source shares the first one's bucket")
	}
	// The refusal took no token: after 100 ms exactly one more request passes.
	if ok, _ := l.allow("10.0.0.1", t0.Add(100*time.Millisecond)); !ok {
		t.Fatal("a token did not come back after 1/rate")
	}
	if ok, _ := l.allow("10.0.0.1", t0.Add(100*time.Millisecond)); ok {
		t.Fatal("two tokens came back after 1/rate")
	}
	// Idle sources are forgotten after a minute.
	l.allow("10.0.0.3", t0.Add(2*time.Minute))
	l.mu.Lock()
	n := len(l.m)
	l.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d buckets kept after a minute of idleness, want 1", n)
	}
}

func TestLogWriteConfig(t *testing.T) {
	for _, tc := range []struct {
		mode    string
		want    string
		wantErr bool
	}{
		{"", LogWriteToken, false},
		{LogWriteOpen, LogWriteOpen, false},
		{LogWriteMTLS, LogWriteMTLS, false},
		{LogWriteOff, LogWriteOff, false},
		{"anyone", "", true},
	} {
		c := LogWrite{Mode: tc.mode}
		err := c.fill()
		if (err != nil) != tc.wantErr || (err == nil && c.Mode != tc.want) {
			t.Errorf("mode %q: %q, %v", tc.mode, c.Mode, err)
		}
		if err == nil && (c.Tenant != "default" || c.Rate != 50 || c.Burst != 100) {
			t.Errorf("mode %q: defaults %+v", tc.mode, c)
		}
	}
}
