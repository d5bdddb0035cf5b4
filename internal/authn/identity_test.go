package authn_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stellaops/stellad/internal/authn"
	"github.com/stellaops/stellad/internal/authn/authntest"
)

// idClaims is an OpenID Connect ID token for the CA: audience sigstore, typ JWT.
func idClaims(extra map[string]any) authntest.Claims {
	return authntest.Claims{Typ: "JWT", Audience: []string{authn.AudienceSigstore}, Subject: "build-bot", Scope: authntest.Omit,
		ClientID: authntest.Omit, Tenant: authntest.Omit, Extra: extra}
}

func TestVerifyIdentity(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name     string
		claims   authntest.Claims
		advance  time.Duration
		want     authn.Identity
		wantCode string
	}{
		{name: "verified email", claims: idClaims(map[string]any{"email": "dev@example.com", "email_verified": true}),
			want: authn.Identity{Subject: "dev@example.com", Email: true, Issuer: issuerURL}},
		{name: "sub only", claims: idClaims(nil), want: authn.Identity{Subject: "build-bot", Issuer: issuerURL}},
		{name: "RS256", claims: func() authntest.Claims { c := idClaims(nil); c.Alg = authntest.RS256; return c }(),
			want: authn.Identity{Subject: "build-bot", Issuer: issuerURL}},
		{name: "no typ", claims: func() authntest.Claims { c := idClaims(nil); c.Typ = authntest.Omit; return c }(),
			want: authn.Identity{Subject: "build-bot", Issuer: issuerURL}},
		{name: "tenant kept", claims: func() authntest.Claims { c := idClaims(nil); c.Tenant = "tenant-a"; return c }(),
			want: authn.Identity{Subject: "build-bot", Issuer: issuerURL, Tenant: "tenant-a"}},
		{name: "unverified email", claims: idClaims(map[string]any{"email": "dev@example.com", "email_verified": false}), wantCode: authn.CodeMalformed},
		{name: "email without email_verified", claims: idClaims(map[string]any{"email": "dev@example.com"}), wantCode: authn.CodeMalformed},
		{name: "access token", claims: func() authntest.Claims { c := idClaims(nil); c.Typ = "at+jwt"; return c }(), wantCode: authn.CodeMalformed},
		{name: "wrong audience", claims: func() authntest.Claims { c := idClaims(nil); c.Audience = []string{"signer"}; return c }(), wantCode: authn.CodeWrongAudience},
		{name: "expired", claims: idClaims(nil), advance: time.Hour, wantCode: authn.CodeExpired},
		{name: "unknown issuer", claims: func() authntest.Claims { c := idClaims(nil); c.Issuer = "https://evil.example"; return c }(), wantCode: authn.CodeWrongIssuer},
		{name: "unknown kid", claims: func() authntest.Claims { c := idClaims(nil); c.KID = "nope"; return c }(), wantCode: authn.CodeUnknownKID},
		{name: "no sub", claims: func() authntest.Claims { c := idClaims(nil); c.Subject = authntest.Omit; return c }(), wantCode: authn.CodeMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := f.auth.Token(t, tt.claims)
			f.clock.Advance(tt.advance)
			defer f.clock.Advance(-tt.advance)
			got, err := f.a.VerifyIdentity(tok+"\n", authn.AudienceSigstore)
			if tt.wantCode != "" {
				var ae *authn.Error
				if !errors.As(err, &ae) || ae.Code != tt.wantCode {
					t.Fatalf("err = %v, want code %s", err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.Expiry = time.Time{}
			if *got != tt.want {
				t.Fatalf("identity = %+v, want %+v", *got, tt.want)
			}
		})
	}
	if _, err := f.a.VerifyIdentity("garbage", authn.AudienceSigstore); err == nil {
		t.Fatal("garbage accepted")
	}
}

func FuzzVerifyIdentity(f *testing.F) {
	fx := newFixture(f)
	f.Add(fx.auth.Token(f, idClaims(map[string]any{"email": "a@b", "email_verified": true})))
	f.Add("a.b.c")
	f.Add("")
	f.Fuzz(func(t *testing.T, raw string) {
		id, err := fx.a.VerifyIdentity(raw, authn.AudienceSigstore)
		if err == nil && (id.Subject == "" || id.Issuer != issuerURL) {
			t.Fatalf("accepted an identity without subject or with issuer %q", id.Issuer)
		}
	})
}
