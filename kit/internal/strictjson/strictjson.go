// Package strictjson holds the strict JSON reading and canonical writing that
// kit/dsse and kit/bundle share: objects with allowed member names only and no
// duplicates, bounded nesting, the base64 forms the DSSE spec allows, and
// RFC 8785 string escaping. It is internal to kit so that it stays out of the
// public API.
package strictjson

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// ReadObject decodes data as one JSON object whose member names are all in
// allowed (compared exactly, not case-folded) and appear at most once. It
// returns the members' raw values. what names the object in errors.
func ReadObject(data []byte, what string, allowed ...string) (map[string]json.RawMessage, error) {
	if data == nil {
		return nil, fmt.Errorf("%s: missing", what)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("%s: not a JSON object", what)
	}
	out := make(map[string]json.RawMessage, len(allowed))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("%s: malformed object", what)
		}
		if !contains(allowed, key) {
			return nil, fmt.Errorf("%s: unknown field %q", what, key)
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("%s: duplicate field %q", what, key)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("%s.%s: %w", what, key, err)
		}
		out[key] = raw
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%s: trailing data after object", what)
	}
	return out, nil
}

// ReadArray decodes data as a JSON array and returns its elements' raw values.
func ReadArray(data []byte, what string) ([]json.RawMessage, error) {
	if data == nil {
		return nil, fmt.Errorf("%s: missing", what)
	}
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) == 0 || t[0] != '[' {
		return nil, fmt.Errorf("%s: not a JSON array", what)
	}
	var out []json.RawMessage
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// ReadString decodes data as a JSON string.
func ReadString(data []byte, what string) (string, error) {
	if data == nil {
		return "", fmt.Errorf("%s: missing", what)
	}
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) == 0 || t[0] != '"' {
		return "", fmt.Errorf("%s: not a JSON string", what)
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	return s, nil
}

// Check reports an error if data is not exactly one JSON value or if any
// object in it repeats a member name.
func Check(data []byte, what string) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := walk(dec, 0); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%s: trailing data after value", what)
	}
	return nil
}

const maxDepth = 64

var errTooDeep = errors.New("JSON nested too deeply")

func walk(dec *json.Decoder, depth int) error {
	if depth > maxDepth {
		return errTooDeep
	}
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch d {
	case '{':
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := tok.(string)
			if seen[key] {
				return fmt.Errorf("duplicate field %q", key)
			}
			seen[key] = true
			if err := walk(dec, depth+1); err != nil {
				return err
			}
		}
	case '[':
		for dec.More() {
			if err := walk(dec, depth+1); err != nil {
				return err
			}
		}
	}
	_, err = dec.Token() // the closing delimiter
	return err
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// DecodeBase64 decodes s as the DSSE spec allows: standard or URL-safe
// alphabet, with or without padding. Line breaks and non-zero trailing bits
// are refused so that one byte string has few encodings.
func DecodeBase64(s, what string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, fmt.Errorf("%s: line break in base64", what)
	}
	enc := base64.StdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.URLEncoding
	}
	if !strings.HasSuffix(s, "=") {
		enc = enc.WithPadding(base64.NoPadding)
	}
	b, err := enc.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%s: bad base64: %w", what, err)
	}
	return b, nil
}

// AppendString appends s as a JSON string escaped as RFC 8785 section 3.2.2.2
// requires. It reports false if s is not valid UTF-8.
func AppendString(buf []byte, s string) ([]byte, bool) {
	if !utf8.ValidString(s) {
		return buf, false
	}
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		buf = append(buf, s[start:i]...)
		switch c {
		case '"', '\\':
			buf = append(buf, '\\', c)
		case '\b':
			buf = append(buf, '\\', 'b')
		case '\f':
			buf = append(buf, '\\', 'f')
		case '\n':
			buf = append(buf, '\\', 'n')
		case '\r':
			buf = append(buf, '\\', 'r')
		case '\t':
			buf = append(buf, '\\', 't')
		default:
			buf = append(buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"'), true
}

// AppendBase64 appends b as a JSON string in standard padded base64.
func AppendBase64(buf, b []byte) []byte {
	buf = append(buf, '"')
	buf = base64.StdEncoding.AppendEncode(buf, b)
	return append(buf, '"')
}
