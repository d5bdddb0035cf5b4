package kit

import (
	"io"
)

// Kit is a verified kit held in memory: the manifest, the exact signed
// manifest bytes, the envelope, which trusted keys signed, and every file's
// verified content. It is read-only after Verify returns; the caller must not
// modify what its methods return.
type Kit struct {
	// Manifest is the verified manifest.
	Manifest *Manifest
	// ManifestJSON holds the exact bytes of manifest.json.
	ManifestJSON []byte
	// Envelope holds manifest.dsse.json as read.
	Envelope []byte
	// Signers are the indices in VerifyOptions.Keys of the keys that verified
	// the manifest.
	Signers []int

	files map[string][]byte
}

// File returns the verified content of the file at path.
func (k *Kit) File(path string) ([]byte, bool) {
	b, ok := k.files[path]
	return b, ok
}

// Verify reads a whole kit from r and returns it only if everything checks:
// the gzip and tar framing, the manifest signature (at least Threshold
// distinct keys of Keys, checked before the manifest is parsed), the
// manifest, the limits, and every file's presence, size and SHA-256, with no
// entry beyond the manifest and no data after the archive. Memory use is
// bounded by opts.Limits. Errors are *Error values naming the entry and
// wrapping a sentinel (ErrSignature, ErrDigest, ErrLimit, ErrPath, ...);
// on error no part of the kit is returned.
func Verify(r io.Reader, opts VerifyOptions) (*Kit, error) {
	rd, err := NewReader(r, opts)
	if err != nil {
		return nil, err
	}
	k := &Kit{
		Manifest:     rd.Manifest(),
		ManifestJSON: rd.ManifestJSON(),
		Envelope:     rd.Envelope(),
		Signers:      rd.Signers(),
		files:        make(map[string][]byte, len(rd.Manifest().Files)),
	}
	for {
		f, err := rd.Next()
		if err == io.EOF {
			return k, nil
		}
		if err != nil {
			return nil, err
		}
		b := make([]byte, f.Size)
		if _, err := io.ReadFull(rd, b); err != nil {
			return nil, rd.streamError(f.Path, err)
		}
		k.files[f.Path] = b // its digest is checked by the next Next
	}
}

// Open is Verify: a kit is only ever opened verified.
func Open(r io.Reader, opts VerifyOptions) (*Kit, error) { return Verify(r, opts) }
