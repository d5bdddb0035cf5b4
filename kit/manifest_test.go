package kit

import (
	"errors"
	"strings"
	"testing"
)

func TestParseManifest(t *testing.T) {
	const h = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
	good := `{"createdBy":"c","files":[{"mediaType":"text/plain","path":"trust/a","sha256":"` + h + `","size":5}],"kind":"build","kitVersion":1,"sequence":3,"source":"s"}`
	tests := []struct {
		name    string
		in      string
		wantErr error
	}{
		{"canonical", good, nil},
		{"empty files", `{"createdBy":"c","files":[],"kind":"export","kitVersion":1,"sequence":0,"source":"s"}`, nil},
		{"unknown field", strings.Replace(good, `"kind"`, `"extra":1,"kind"`, 1), ErrFormat},
		{"unknown file field", strings.Replace(good, `"size":5`, `"size":5,"x":1`, 1), ErrFormat},
		{"duplicate key", strings.Replace(good, `"kind":"build"`, `"kind":"build","kind":"build"`, 1), ErrFormat},
		{"missing field", strings.Replace(good, `"sequence":3,`, ``, 1), ErrFormat},
		{"not canonical: spaces", strings.Replace(good, `"kind":`, `"kind": `, 1), ErrFormat},
		{"not canonical: order", `{"files":[],"createdBy":"c","kind":"build","kitVersion":1,"sequence":0,"source":"s"}`, ErrFormat},
		{"not canonical: escape", strings.Replace(good, `"c"`, `"\u0063"`, 1), ErrFormat},
		{"float", strings.Replace(good, `"sequence":3`, `"sequence":3.0`, 1), ErrFormat},
		{"exponent", strings.Replace(good, `"sequence":3`, `"sequence":3e0`, 1), ErrFormat},
		{"negative", strings.Replace(good, `"sequence":3`, `"sequence":-3`, 1), ErrFormat},
		{"too large", strings.Replace(good, `"sequence":3`, `"sequence":9007199254740992`, 1), ErrFormat},
		{"version 2", strings.Replace(good, `"kitVersion":1`, `"kitVersion":2`, 1), ErrFormat},
		{"upper hex", strings.Replace(good, h, strings.ToUpper(h), 1), ErrFormat},
		{"short hex", strings.Replace(good, h, h[:62], 1), ErrFormat},
		{"bad path", strings.Replace(good, `trust/a`, `trust/../a`, 1), ErrPath},
		{"bad kind", strings.Replace(good, `"build"`, `"Build"`, 1), ErrFormat},
		{"empty source", strings.Replace(good, `"source":"s"`, `"source":""`, 1), ErrFormat},
		{"control char", strings.Replace(good, `"c"`, `"\u0007"`, 1), ErrFormat},
		{"trailing data", good + " ", ErrFormat},
		{"not an object", `[]`, ErrFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseManifest([]byte(tt.in))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			out, err := m.Marshal()
			if err != nil || string(out) != tt.in {
				t.Fatalf("round trip: %v\n%s", err, out)
			}
		})
	}
	// Unsorted and duplicate files.
	m := Manifest{KitVersion: 1, Kind: "build", CreatedBy: "c", Source: "s", Files: []File{fileFor("trust/b", nil), fileFor("trust/a", nil)}}
	if _, err := m.Marshal(); !errors.Is(err, ErrFormat) {
		t.Errorf("unsorted: %v", err)
	}
	m.Files = []File{fileFor("trust/a", nil), fileFor("trust/a", nil)}
	if _, err := m.Marshal(); !errors.Is(err, ErrDuplicate) {
		t.Errorf("duplicate: %v", err)
	}
}
