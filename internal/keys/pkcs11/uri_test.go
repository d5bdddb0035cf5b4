package pkcs11

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseURI(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    *URI
		wantErr string // substring; "" means success
	}{
		{"TokenObject", "pkcs11:token=stellad;object=dsse",
			&URI{Token: "stellad", Object: "dsse"}, ""},
		{"Full", "pkcs11:token=t;object=o;id=%01%02%ff;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin",
			&URI{Token: "t", Object: "o", ID: []byte{1, 2, 0xff}, Type: "private", ModulePath: "/usr/lib/softhsm/libsofthsm2.so", PINSource: "file:/run/pin"}, ""},
		{"PercentDecoding", "pkcs11:token=My%20token%25;object=a%3Bb",
			&URI{Token: "My token%", Object: "a;b"}, ""},
		{"LowerAndUpperHex", "pkcs11:id=%Ab%cD",
			&URI{ID: []byte{0xab, 0xcd}}, ""},
		{"PathResAvail", "pkcs11:object=:[]@!$'()*+,=&",
			&URI{Object: ":[]@!$'()*+,=&"}, ""},
		{"QueryResAvail", "pkcs11:token=t?pin-source=/a/b?c|d:e",
			&URI{Token: "t", PINSource: "/a/b?c|d:e"}, ""},
		{"SlotSerial", "pkcs11:slot-id=42;serial=ABC123",
			&URI{SlotID: 42, HasSlotID: true, Serial: "ABC123"}, ""},
		{"PINValue", "pkcs11:token=t?pin-value=1234",
			&URI{Token: "t", PINValue: "1234"}, ""},
		{"Empty", "pkcs11:", &URI{}, ""},
		{"EmptyQuery", "pkcs11:token=t?", &URI{Token: "t"}, ""},
		{"SchemeCase", "PKCS11:token=t", &URI{Token: "t"}, ""},

		{"WrongScheme", "pkcs12:token=t", nil, "does not start with"},
		{"UnknownPath", "pkcs11:token=t;manufacturer=x", nil, `unknown path attribute "manufacturer"`},
		{"UnknownQuery", "pkcs11:token=t?module-name=softhsm2", nil, `unknown query attribute "module-name"`},
		{"VendorAttr", "pkcs11:x-foo=bar", nil, `unknown path attribute "x-foo"`},
		{"DuplicatePath", "pkcs11:token=a;token=b", nil, `duplicate attribute "token"`},
		{"DuplicateQuery", "pkcs11:token=a?pin-source=/a&pin-source=/b", nil, `duplicate attribute "pin-source"`},
		{"NoEquals", "pkcs11:token", nil, `has no "="`},
		{"EmptyAttr", "pkcs11:token=a;;object=b", nil, "empty attribute"},
		{"EmptyValue", "pkcs11:object=", nil, `"object" has an empty value`},
		{"BadEscape", "pkcs11:object=%zz", nil, "invalid percent escape"},
		{"TruncatedEscape", "pkcs11:object=ab%4", nil, "truncated percent escape"},
		{"Space", "pkcs11:object=a b", nil, `contains " ", which must be percent-encoded`},
		{"SlashInPath", "pkcs11:object=a/b", nil, "must be percent-encoded"},
		{"AmpInQuery", "pkcs11:token=t?pin-source=/a&b", nil, `has no "="`},
		{"TypeCert", "pkcs11:type=cert", nil, `type="cert" is not supported`},
		{"SlotNotNumber", "pkcs11:slot-id=-1", nil, "not a decimal number"},
		{"SlotOverflow", "pkcs11:slot-id=99999999999999999999999", nil, "slot-id"},
		{"BadPINValueEscape", "pkcs11:token=t?pin-value=12%3", nil, `"pin-value" is not correctly percent-encoded`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseURI(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrInvalidURI) {
					t.Fatalf("ParseURI(%q) error %v; want ErrInvalidURI containing %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseURI(%q): %v", tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParseURI(%q) = %+v; want %+v", tc.in, got, tc.want)
			}
			again, err := ParseURI(got.String())
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Fatalf("String() %q re-parses to %+v, %v", got.String(), again, err)
			}
		})
	}
}

func TestURIString(t *testing.T) {
	u := &URI{Token: "a b", Object: "k;1", ID: []byte{0xca, 0xfe}, Type: "private",
		ModulePath: "/usr/lib/x.so", PINSource: "/run/a&b", PINValue: "12 34"}
	const want = "pkcs11:token=a%20b;object=k%3B1;id=%ca%fe;type=private?module-path=/usr/lib/x.so&pin-source=/run/a%26b&pin-value=12%2034"
	if got := u.String(); got != want {
		t.Errorf("String() = %s; want %s", got, want)
	}
	r := u.Redacted()
	if strings.Contains(r.String(), "pin-value") || u.PINValue == "" {
		t.Errorf("Redacted() = %s keeps the pin-value or changed the original", r)
	}
	r.ID[0] = 0
	if u.ID[0] != 0xca {
		t.Error("Redacted shares ID bytes with the original")
	}
}

func TestParseURIErrorHidesPIN(t *testing.T) {
	_, err := ParseURI("pkcs11:token=t?pin-value=s3cr%et")
	if err == nil || strings.Contains(err.Error(), "s3cr") {
		t.Fatalf("error %v; want an error without the PIN", err)
	}
}

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	pinFile := writeFile(t, dir, "pin", "  1234  \nsecond line\n", 0o600)
	tests := []struct {
		name    string
		cfg     Config
		uri     string
		wantPIN string
		wantErr string
	}{
		{"PINSourcePath", Config{}, "pkcs11:token=t;object=o?module-path=/m.so&pin-source=" + pinFile, "1234", ""},
		{"PINSourceFileURI", Config{}, "pkcs11:token=t;object=o?module-path=/m.so&pin-source=file://" + pinFile, "1234", ""},
		{"DefaultModule", Config{DefaultModule: "/m.so"}, "pkcs11:token=t;object=o?pin-source=" + pinFile, "1234", ""},
		{"PINValueDev", Config{AllowPINValue: true}, "pkcs11:token=t;object=o?module-path=/m.so&pin-value=77", "77", ""},
		{"PINValueProd", Config{}, "pkcs11:token=t;object=o?module-path=/m.so&pin-value=77", "", "pin-value is refused"},
		{"BothPINs", Config{AllowPINValue: true}, "pkcs11:token=t;object=o?module-path=/m.so&pin-value=77&pin-source=" + pinFile, "", "not both"},
		{"NoPIN", Config{}, "pkcs11:token=t;object=o?module-path=/m.so", "", `no PIN for token "t"`},
		{"NoModule", Config{}, "pkcs11:token=t;object=o?pin-source=" + pinFile, "", "no PKCS#11 module"},
		{"RelativeModule", Config{}, "pkcs11:token=t;object=o?module-path=m.so&pin-source=" + pinFile, "", "not an absolute path"},
		{"NoToken", Config{}, "pkcs11:object=o?module-path=/m.so&pin-source=" + pinFile, "", "exactly one of token=, serial= or slot-id="},
		{"TwoTokenSelectors", Config{}, "pkcs11:token=t;slot-id=1;object=o?module-path=/m.so&pin-source=" + pinFile, "", "exactly one of"},
		{"NoObject", Config{}, "pkcs11:token=t?module-path=/m.so&pin-source=" + pinFile, "", "names no key"},
		{"MissingPINFile", Config{}, "pkcs11:token=t;object=o?module-path=/m.so&pin-source=/nonexistent/pin", "", "/nonexistent/pin"},
		{"LoosePINFile", Config{}, "pkcs11:token=t;object=o?module-path=/m.so&pin-source=" + writeFile(t, dir, "loose", "1", 0o640), "", "mode 0640; want 0600"},
		{"EmptyPINFile", Config{}, "pkcs11:token=t;object=o?module-path=/m.so&pin-source=" + writeFile(t, dir, "empty", "\n", 0o600), "", "first line is empty"},
		{"RemotePINSource", Config{}, "pkcs11:token=t;object=o?module-path=/m.so&pin-source=file://host/pin", "", "remote host"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tg, err := resolve(&tc.cfg, tc.uri, true)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v; want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tg.pin != tc.wantPIN {
				t.Fatalf("PIN %q; want %q", tg.pin, tc.wantPIN)
			}
		})
	}
}

func FuzzParseURI(f *testing.F) {
	for _, s := range []string{
		"pkcs11:token=stellad;object=dsse?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=/run/pin",
		"pkcs11:token=My%20token%25;id=%01%02%ff;type=private",
		"pkcs11:slot-id=0;serial=abc?pin-value=1234",
		"pkcs11:object=:[]@!$'()*+,=&?pin-source=file:///a/b?c|d",
		"pkcs11:",
		"pkcs11:token=a;token=b",
		"pkcs11:object=%zz",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURI(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidURI) {
				t.Fatalf("error %v does not wrap ErrInvalidURI", err)
			}
			return
		}
		out := u.String()
		again, err := ParseURI(out)
		if err != nil {
			t.Fatalf("String() %q of parsed %q does not re-parse: %v", out, s, err)
		}
		if !reflect.DeepEqual(again, u) {
			t.Fatalf("%q -> %+v -> %q -> %+v", s, u, out, again)
		}
		if again.String() != out {
			t.Fatalf("String() not stable: %q then %q", out, again.String())
		}
		if u.Redacted().PINValue != "" {
			t.Fatal("Redacted keeps the pin-value")
		}
	})
}
