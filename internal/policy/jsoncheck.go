package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// maxJSONDepth bounds the nesting of every JSON document read from a layout.
const maxJSONDepth = 32

// checkJSON refuses what encoding/json would silently accept and two readers
// could understand differently: duplicate object keys at any depth (compared
// case-insensitively, as encoding/json matches field names), nesting
// deeper than maxJSONDepth, invalid syntax and trailing data. It does not
// check field names or types; the struct decoders do.
func checkJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := walkJSON(dec, 0); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

func walkJSON(dec *json.Decoder, depth int) error {
	if depth > maxJSONDepth {
		return fmt.Errorf("JSON nested deeper than %d", maxJSONDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("malformed JSON: %w", err)
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch d {
	case '{':
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return fmt.Errorf("malformed JSON: %w", err)
			}
			// encoding/json matches field names case-insensitively, so
			// keys that differ only in case are duplicates too.
			key, _ := k.(string)
			folded := strings.ToLower(key)
			if seen[folded] {
				return fmt.Errorf("duplicate key %q", key)
			}
			seen[folded] = true
			if err := walkJSON(dec, depth+1); err != nil {
				return err
			}
		}
	case '[':
		for dec.More() {
			if err := walkJSON(dec, depth+1); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("malformed JSON: unexpected %v", d)
	}
	if _, err := dec.Token(); err != nil { // the closing delimiter
		return fmt.Errorf("malformed JSON: %w", err)
	}
	return nil
}

// decodeJSON checks data with checkJSON and decodes it into v. With strict,
// unknown fields are refused too.
func decodeJSON(data []byte, v any, strict bool) error {
	if err := checkJSON(data); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decoding JSON: %w", err)
	}
	return nil
}
