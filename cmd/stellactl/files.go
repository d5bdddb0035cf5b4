package main

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// maxInputFile bounds JSON inputs read whole: predicates, statements, SBOMs,
// reports, bundles, trusted roots (64 MiB).
const maxInputFile = 64 << 20

// readFile reads a whole input file of at most maxInputFile bytes. what names
// the flag or argument in errors, which are bad input.
func readFile(what, path string) ([]byte, error) {
	if path == "" {
		return nil, usageErrorf("%s: empty file name", what)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, badInput(fmt.Errorf("%s: %w", what, err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxInputFile+1))
	if err != nil {
		return nil, badInput(fmt.Errorf("%s: reading %s: %w", what, path, err))
	}
	if len(b) > maxInputFile {
		return nil, usageErrorf("%s: %s is larger than %d bytes", what, path, maxInputFile)
	}
	return b, nil
}

// readJSONFile reads a file that must hold one JSON value.
func readJSONFile(what, path string) ([]byte, error) {
	b, err := readFile(what, path)
	if err != nil {
		return nil, err
	}
	if !json.Valid(b) {
		return nil, usageErrorf("%s: %s is not valid JSON", what, path)
	}
	return b, nil
}

// sha256File streams a file through SHA-256.
func sha256File(what, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, badInput(fmt.Errorf("%s: %w", what, err))
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, badInput(fmt.Errorf("%s: reading %s: %w", what, path, err))
	}
	return h.Sum(nil), nil
}

// writeFileAtomic writes data to path with the given mode through a temporary
// file in the same directory and a rename, so readers never see a partial file.
func writeFileAtomic(what, path string, data []byte, mode os.FileMode) error {
	if path == "" {
		return usageErrorf("%s: empty file name", what)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return badInput(fmt.Errorf("%s: creating a file in %s: %w", what, dir, err))
	}
	name := tmp.Name()
	fail := func(err error) error {
		tmp.Close()
		os.Remove(name)
		return fmt.Errorf("%s: writing %s: %w", what, path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if err := tmp.Chmod(mode); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(name)
		return fmt.Errorf("%s: writing %s: %w", what, path, err)
	}
	if err := os.Rename(name, path); err != nil {
		os.Remove(name)
		return badInput(fmt.Errorf("%s: %w", what, err))
	}
	return nil
}

// parsePublicKeyPEM parses a PEM "PUBLIC KEY" (PKIX) block.
func parsePublicKeyPEM(what string, b []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, usageErrorf("%s: no PEM block found", what)
	}
	if block.Type != "PUBLIC KEY" {
		return nil, usageErrorf("%s: PEM block is %q, want \"PUBLIC KEY\"", what, block.Type)
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, usageErrorf("%s: parsing public key: %v", what, err)
	}
	return k, nil
}

// publicKeyPEM encodes a public key as a PEM "PUBLIC KEY" block.
func publicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
