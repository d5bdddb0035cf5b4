package kit

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/stellaops/stellad/kit/dsse"
)

// WriterOptions describes the kit a Writer produces.
type WriterOptions struct {
	// Kind, CreatedBy, Source and Sequence go into the manifest (see
	// Manifest).
	Kind      string
	CreatedBy string
	Source    string
	Sequence  uint64
	// ModTime is the modification time of every entry; zero means the Unix
	// epoch. It must be whole seconds between the epoch and 8^11-1 seconds
	// after it, so that the plain ustar header holds it.
	ModTime time.Time
	// Limits the kit must respect so that a Reader with the same limits
	// accepts it; zero fields take the defaults.
	Limits Limits
	// Rand is passed to the signers; nil means crypto/rand.Reader.
	Rand io.Reader
}

// Writer builds a kit. Add files, then Close with the kit signers: Close
// writes the whole archive, manifest first, to the underlying writer. A
// Writer keeps the added data (or the io.ReaderAt) until Close; it is not
// safe for concurrent use.
type Writer struct {
	w      io.Writer
	opts   WriterOptions
	files  []pending
	set    *pathSet
	total  int64
	closed bool
}

type pending struct {
	File
	data []byte
	ra   io.ReaderAt
}

// NewWriter returns a Writer that will write a kit to w on Close. It checks
// the options (the manifest fields as Manifest.Validate does, ModTime).
func NewWriter(w io.Writer, opts WriterOptions) (*Writer, error) {
	if w == nil {
		return nil, errors.New("kit: new writer: nil io.Writer")
	}
	if opts.ModTime.IsZero() {
		opts.ModTime = time.Unix(0, 0)
	}
	if t := opts.ModTime; t.Nanosecond() != 0 || t.Unix() < 0 || t.Unix() >= 1<<33 {
		return nil, fmt.Errorf("kit: new writer: ModTime %s is not whole seconds in the ustar range", t)
	}
	opts.ModTime = time.Unix(opts.ModTime.Unix(), 0)
	opts.Limits = opts.Limits.withDefaults()
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	m := Manifest{KitVersion: Version, Kind: opts.Kind, CreatedBy: opts.CreatedBy, Source: opts.Source, Sequence: opts.Sequence}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("kit: new writer: %w", err)
	}
	return &Writer{w: w, opts: opts, set: newPathSet()}, nil
}

// Add adds a content file. It checks the path (ValidatePath, duplicates and
// collisions), the media type and the limits. The Writer keeps data, which
// the caller must not modify until Close returns.
func (w *Writer) Add(path, mediaType string, data []byte) error {
	sum := sha256.Sum256(data)
	return w.add(pending{File: File{Path: path, MediaType: mediaType, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}, data: data})
}

// AddReaderAt adds a content file of size bytes read from r, for files too
// large to hold in memory. It reads r once now to hash it and again during
// Close to write it; Close fails if the content changed in between.
func (w *Writer) AddReaderAt(path, mediaType string, r io.ReaderAt, size int64) error {
	if size < 0 {
		return fmt.Errorf("kit: add %s: negative size", path)
	}
	if size > w.opts.Limits.MaxFileSize {
		return errorf(ErrLimit, path, "%d bytes, file size limit %d", size, w.opts.Limits.MaxFileSize)
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(r, 0, size)); err != nil {
		return fmt.Errorf("kit: add %s: reading: %w", path, err)
	}
	return w.add(pending{File: File{Path: path, MediaType: mediaType, Size: size, SHA256: hex.EncodeToString(h.Sum(nil))}, ra: r})
}

func (w *Writer) add(p pending) error {
	if w.closed {
		return errors.New("kit: add after Close")
	}
	if err := ValidatePath(p.Path); err != nil {
		return err
	}
	if !validMediaType(p.MediaType) {
		return errorf(ErrFormat, p.Path, "media type %q is not type/subtype", p.MediaType)
	}
	l := w.opts.Limits
	if len(w.files) >= l.MaxEntries {
		return errorf(ErrLimit, p.Path, "more than %d files", l.MaxEntries)
	}
	if p.Size > l.MaxFileSize {
		return errorf(ErrLimit, p.Path, "%d bytes, file size limit %d", p.Size, l.MaxFileSize)
	}
	if w.total+p.Size > l.MaxTotalSize {
		return errorf(ErrLimit, p.Path, "total size would exceed limit %d", l.MaxTotalSize)
	}
	if err := w.set.add(p.Path); err != nil {
		return err
	}
	w.total += p.Size
	w.files = append(w.files, p)
	return nil
}

// Close signs the manifest with every signer (one DSSE signature each, in
// order, keyid the hex SHA-256 of the signer's PKIX public key) and writes
// the archive: manifest.json, manifest.dsse.json, then the files sorted by
// path, as a tar stream with fixed metadata inside a gzip stream with a fixed
// header. It needs at least one signer. It does not close the underlying
// writer. The Writer cannot be used afterwards. If Close fails, what it
// wrote is not a valid kit and must be discarded.
func (w *Writer) Close(signers ...crypto.Signer) error {
	if w.closed {
		return errors.New("kit: Close called twice")
	}
	w.closed = true
	if len(signers) == 0 {
		return errors.New("kit: close: no signer")
	}
	if len(signers) > MaxSignatures {
		return fmt.Errorf("kit: close: %d signers, at most %d", len(signers), MaxSignatures)
	}
	slices.SortFunc(w.files, func(a, b pending) int { return strings.Compare(a.Path, b.Path) })
	m := Manifest{KitVersion: Version, Kind: w.opts.Kind, CreatedBy: w.opts.CreatedBy, Source: w.opts.Source,
		Sequence: w.opts.Sequence, Files: make([]File, len(w.files))}
	for i, f := range w.files {
		m.Files[i] = f.File
	}
	manifest, err := m.Marshal()
	if err != nil {
		return fmt.Errorf("kit: close: %w", err)
	}
	if int64(len(manifest)) > w.opts.Limits.MaxManifestSize {
		return errorf(ErrLimit, ManifestPath, "%d bytes, limit %d", len(manifest), w.opts.Limits.MaxManifestSize)
	}
	ks := make([]dsse.KeySigner, len(signers))
	for i, s := range signers {
		if s == nil {
			return fmt.Errorf("kit: close: signer %d is nil", i)
		}
		ks[i] = dsse.KeySigner{KeyID: keyID(s.Public()), Signer: s}
	}
	env, err := dsse.Sign(w.opts.Rand, PayloadType, manifest, ks...)
	if err != nil {
		return fmt.Errorf("kit: close: signing manifest: %w", err)
	}
	envJSON, err := env.Marshal()
	if err != nil {
		return fmt.Errorf("kit: close: encoding envelope: %w", err)
	}

	// A gzip header with no name, no comment, MTIME 0 and OS 255 (unknown),
	// and the default compression level (XFL 0): see gzipHeader.
	zw, err := gzip.NewWriterLevel(w.w, gzip.DefaultCompression)
	if err != nil {
		return fmt.Errorf("kit: close: %w", err)
	}
	zw.OS = 255
	tw := tar.NewWriter(zw)
	if err := w.writeEntry(tw, ManifestPath, int64(len(manifest)), bytes.NewReader(manifest)); err != nil {
		return err
	}
	if err := w.writeEntry(tw, SignaturePath, int64(len(envJSON)), bytes.NewReader(envJSON)); err != nil {
		return err
	}
	for _, f := range w.files {
		if f.ra == nil {
			if err := w.writeEntry(tw, f.Path, f.Size, bytes.NewReader(f.data)); err != nil {
				return err
			}
			continue
		}
		h := sha256.New()
		if err := w.writeEntry(tw, f.Path, f.Size, io.TeeReader(io.NewSectionReader(f.ra, 0, f.Size), h)); err != nil {
			return err
		}
		if hex.EncodeToString(h.Sum(nil)) != f.SHA256 {
			return errorf(ErrDigest, f.Path, "content changed between AddReaderAt and Close")
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("kit: close: ending tar stream: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("kit: close: ending gzip stream: %w", err)
	}
	return nil
}

func (w *Writer) writeEntry(tw *tar.Writer, name string, size int64, r io.Reader) error {
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		Size:     size,
		Mode:     0o644,
		ModTime:  w.opts.ModTime,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("kit: close: writing %s header: %w", name, err)
	}
	n, err := io.Copy(tw, r)
	if err != nil {
		return fmt.Errorf("kit: close: writing %s: %w", name, err)
	}
	if n != size {
		return errorf(ErrDigest, name, "wrote %d bytes, expected %d", n, size)
	}
	return nil
}

// keyID is the keyid hint written next to a signature: the hex SHA-256 of the
// PKIX encoding of the public key, or empty if it has none. Verifiers ignore
// it.
func keyID(pub crypto.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}
