package kit

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	"github.com/stellaops/stellad/kit/dsse"
)

// gzipHeader is the only gzip member header a kit may start with: magic,
// deflate, no flags (no name, comment, extra field or header CRC), MTIME 0,
// XFL 0 (default compression level), OS 255 (unknown). Fixing it makes the
// header part of what two builds must agree on, and leaves no byte of the
// archive that a verifier ignores.
var gzipHeader = [10]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255}

// VerifyOptions says which keys a kit must be signed with and what limits it
// must respect.
type VerifyOptions struct {
	// Keys are the trusted kit keys (ECDSA P-256/P-384/P-521, Ed25519 or
	// RSA public keys).
	Keys []crypto.PublicKey
	// Threshold is how many distinct keys of Keys must each verify a
	// signature of the manifest; 0 means 1.
	Threshold int
	// Limits bound the archive; zero fields take the defaults.
	Limits Limits
}

// Reader reads a kit as a stream and verifies it as it goes. NewReader reads
// and verifies the manifest and its signature before it returns; Next then
// moves to each content file in manifest order and Read reads it. A file's
// size and SHA-256 are checked when its end is reached (Read returns io.EOF
// only for a file that matched; a caller that skips part of a file still has
// it checked by the next Next), and Next returns io.EOF only once every
// listed file was found and the archive ended cleanly. Bytes read from a file
// are not verified until its end: callers that act on content before Next
// returns io.EOF must be ready to discard it (Verify does this for them).
//
// A Reader is not safe for concurrent use. Once it returns an error other
// than io.EOF, every later call returns the same error.
type Reader struct {
	br     *bufio.Reader
	zr     *gzip.Reader
	cr     *countReader
	tr     *tar.Reader
	limits Limits

	manifest     *Manifest
	manifestJSON []byte
	envelope     []byte
	signers      []int

	next    int // index in manifest.Files of the next expected file
	seen    map[string]bool
	cur     *File
	curLeft int64
	curHash hash.Hash
	done    bool
	err     error
}

// countReader counts the bytes the decompressor produced and fails with
// ErrLimit once they exceed max: the stop for decompression bombs.
type countReader struct {
	r   io.Reader
	n   int64
	max int64
}

func (c *countReader) Read(p []byte) (int, error) {
	if c.n >= c.max {
		// Allow a probe for EOF; anything more is over the limit.
		var one [1]byte
		n, err := c.r.Read(one[:])
		if n == 0 {
			return 0, err
		}
		return 0, errorf(ErrLimit, "", "archive expands beyond %d bytes", c.max)
	}
	if int64(len(p)) > c.max-c.n {
		p = p[:c.max-c.n]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// NewReader starts reading the kit in r: it checks the gzip header, reads
// manifest.json and manifest.dsse.json (the first two entries, within the
// manifest size limit), verifies that the envelope signs exactly the
// manifest bytes with at least opts.Threshold distinct keys of opts.Keys,
// then parses the manifest and applies the limits to it. Errors are *Error
// (ErrFormat, ErrSignature, ErrLimit, ErrPath, ErrDuplicate), or a plain
// error for unusable options.
func NewReader(r io.Reader, opts VerifyOptions) (*Reader, error) {
	if len(opts.Keys) == 0 {
		return nil, errors.New("kit: verify: no trusted keys")
	}
	if opts.Threshold == 0 {
		opts.Threshold = 1
	}
	if opts.Threshold < 0 || opts.Threshold > len(opts.Keys) {
		return nil, fmt.Errorf("kit: verify: threshold %d with %d keys", opts.Threshold, len(opts.Keys))
	}
	l := opts.Limits.withDefaults()
	rd := &Reader{limits: l, br: bufio.NewReaderSize(r, 16<<10), seen: map[string]bool{}}

	hdr, err := rd.br.Peek(len(gzipHeader))
	if err != nil || !bytes.Equal(hdr, gzipHeader[:]) {
		return nil, errorf(ErrFormat, "", "not a kit: gzip header must be % x", gzipHeader[:])
	}
	if rd.zr, err = gzip.NewReader(rd.br); err != nil {
		return nil, &Error{Kind: ErrFormat, Reason: "gzip header", Cause: err}
	}
	rd.zr.Multistream(false)
	rd.cr = &countReader{r: rd.zr, max: l.MaxManifestSize + l.maxEnvelopeSize() + 16<<10}
	rd.tr = tar.NewReader(rd.cr)

	if rd.manifestJSON, err = rd.readHead(ManifestPath, l.MaxManifestSize); err != nil {
		return nil, err
	}
	if rd.envelope, err = rd.readHead(SignaturePath, l.maxEnvelopeSize()); err != nil {
		return nil, err
	}
	env, err := dsse.Parse(rd.envelope)
	if err != nil {
		return nil, &Error{Path: SignaturePath, Kind: ErrFormat, Cause: err}
	}
	if len(env.Signatures) > MaxSignatures {
		return nil, errorf(ErrLimit, SignaturePath, "%d signatures, at most %d", len(env.Signatures), MaxSignatures)
	}
	if env.PayloadType != PayloadType {
		return nil, errorf(ErrSignature, SignaturePath, "payloadType %q, want %q", env.PayloadType, PayloadType)
	}
	if !bytes.Equal(env.Payload, rd.manifestJSON) {
		return nil, errorf(ErrSignature, SignaturePath, "payload is not the bytes of %s", ManifestPath)
	}
	accepted, err := dsse.Verify(env, opts.Threshold, opts.Keys...)
	if err != nil {
		return nil, &Error{Path: SignaturePath, Kind: ErrSignature, Cause: err}
	}
	for _, a := range accepted {
		rd.signers = append(rd.signers, a.Index)
	}
	if rd.manifest, err = ParseManifest(rd.manifestJSON); err != nil {
		return nil, err
	}
	if err := l.checkManifest(rd.manifest); err != nil {
		return nil, err
	}
	// From here the stream may hold the listed files, one header (with a
	// PAX record for a long path) and padding each, and the end blocks.
	budget := rd.cr.n + 2048
	for _, f := range rd.manifest.Files {
		budget += f.Size + 2048 + int64(len(f.Path))
	}
	rd.cr.max = budget
	return rd, nil
}

// readHead reads one of the two leading entries, which must be name.
func (rd *Reader) readHead(name string, max int64) ([]byte, error) {
	hdr, err := rd.tr.Next()
	if err != nil {
		return nil, rd.streamError(name, err)
	}
	if hdr.Name != name {
		return nil, errorf(ErrFormat, truncate(hdr.Name), "entry where %s must be", name)
	}
	if err := checkHeader(hdr); err != nil {
		return nil, err
	}
	if hdr.Size > max {
		return nil, errorf(ErrLimit, name, "%d bytes, limit %d", hdr.Size, max)
	}
	// Grow with the data actually read, so that a header claiming a large
	// size costs nothing unless the bytes are there.
	var b bytes.Buffer
	if _, err := io.CopyN(&b, rd.tr, hdr.Size); err != nil {
		return nil, rd.streamError(name, err)
	}
	return b.Bytes(), nil
}

// checkHeader refuses everything but a regular file with no PAX record other
// than a long path (so no sparse files, no extended attributes, no PAX time
// records).
func checkHeader(hdr *tar.Header) error {
	if hdr.Typeflag != tar.TypeReg {
		return errorf(ErrEntryType, truncate(hdr.Name), "%s", typeName(hdr.Typeflag))
	}
	for k := range hdr.PAXRecords {
		if k != "path" {
			return errorf(ErrFormat, truncate(hdr.Name), "PAX record %q not allowed", k)
		}
	}
	if hdr.Size < 0 {
		return errorf(ErrFormat, truncate(hdr.Name), "negative size")
	}
	return nil
}

func typeName(t byte) string {
	switch t {
	case tar.TypeLink:
		return "hard link"
	case tar.TypeSymlink:
		return "symbolic link"
	case tar.TypeChar:
		return "character device"
	case tar.TypeBlock:
		return "block device"
	case tar.TypeDir:
		return "directory"
	case tar.TypeFifo:
		return "FIFO"
	}
	return fmt.Sprintf("tar entry type %q", t)
}

// streamError translates an error of the tar/gzip layers.
func (rd *Reader) streamError(path string, err error) error {
	var ke *Error
	if errors.As(err, &ke) {
		if ke.Path == "" && path != "" {
			c := *ke
			c.Path = path
			return &c
		}
		return ke
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return &Error{Path: path, Kind: ErrFormat, Reason: "reading archive", Cause: err}
}

func (rd *Reader) fail(err error) error {
	rd.err = err
	return err
}

// Manifest returns the verified manifest. The caller must not modify it.
func (rd *Reader) Manifest() *Manifest { return rd.manifest }

// ManifestJSON returns the exact, verified bytes of manifest.json.
func (rd *Reader) ManifestJSON() []byte { return rd.manifestJSON }

// Envelope returns the bytes of manifest.dsse.json as read.
func (rd *Reader) Envelope() []byte { return rd.envelope }

// Signers returns the indices in VerifyOptions.Keys of the keys that
// verified the manifest.
func (rd *Reader) Signers() []int { return rd.signers }

// Next finishes the current file (checking its size and digest) and moves to
// the next one, returning its manifest entry. At the end of the archive it
// checks that no listed file is missing, that the tar stream, the gzip
// stream and the input all end together, and returns io.EOF.
func (rd *Reader) Next() (File, error) {
	if rd.err != nil {
		return File{}, rd.err
	}
	if rd.done {
		return File{}, io.EOF
	}
	if rd.cur != nil {
		if _, err := io.Copy(io.Discard, rd); err != nil {
			return File{}, err
		}
	}
	hdr, err := rd.tr.Next()
	if err == io.EOF {
		return File{}, rd.end()
	}
	if err != nil {
		return File{}, rd.fail(rd.streamError("", err))
	}
	if err := ValidatePath(hdr.Name); err != nil {
		return File{}, rd.fail(err)
	}
	if err := checkHeader(hdr); err != nil {
		return File{}, rd.fail(err)
	}
	p := hdr.Name
	if rd.seen[p] {
		return File{}, rd.fail(errorf(ErrDuplicate, p, "second entry with this path"))
	}
	rd.seen[p] = true
	f, ok := rd.manifest.Lookup(p)
	if !ok {
		return File{}, rd.fail(errorf(ErrUnlisted, p, "archive entry not listed"))
	}
	if want := rd.manifest.Files[rd.next]; want.Path != p {
		if strings.Compare(p, want.Path) > 0 {
			return File{}, rd.fail(errorf(ErrMissing, want.Path, "not found before %s (entries follow manifest order)", p))
		}
		return File{}, rd.fail(errorf(ErrFormat, p, "entry out of manifest order"))
	}
	if hdr.Size != f.Size {
		return File{}, rd.fail(errorf(ErrDigest, p, "archive holds %d bytes, manifest says %d", hdr.Size, f.Size))
	}
	rd.next++
	rd.cur = &f
	rd.curLeft = f.Size
	rd.curHash = sha256.New()
	return f, nil
}

// Read reads from the current file. At the file's end it returns io.EOF if
// the content matched the manifest's SHA-256, and an *Error wrapping
// ErrDigest if not.
func (rd *Reader) Read(p []byte) (int, error) {
	if rd.err != nil {
		return 0, rd.err
	}
	if rd.cur == nil {
		return 0, io.EOF
	}
	if rd.curLeft == 0 {
		f := rd.cur
		rd.cur = nil
		if got := hex.EncodeToString(rd.curHash.Sum(nil)); got != f.SHA256 {
			return 0, rd.fail(errorf(ErrDigest, f.Path, "sha256 %s, manifest says %s", got, f.SHA256))
		}
		return 0, io.EOF
	}
	if int64(len(p)) > rd.curLeft {
		p = p[:rd.curLeft]
	}
	n, err := rd.tr.Read(p)
	rd.curHash.Write(p[:n])
	rd.curLeft -= int64(n)
	if err == io.EOF && rd.curLeft > 0 {
		err = io.ErrUnexpectedEOF
	}
	if err != nil && err != io.EOF {
		return n, rd.fail(rd.streamError(rd.cur.Path, err))
	}
	return n, nil
}

// end checks the end of the archive.
func (rd *Reader) end() error {
	if rd.next < len(rd.manifest.Files) {
		return rd.fail(errorf(ErrMissing, rd.manifest.Files[rd.next].Path, "listed in the manifest, not in the archive"))
	}
	var one [1]byte
	if n, err := io.ReadFull(rd.cr, one[:]); n > 0 {
		return rd.fail(errorf(ErrFormat, "", "data after the end of the tar stream"))
	} else if err != io.EOF {
		// A checksum or length error of the gzip trailer lands here.
		return rd.fail(rd.streamError("", err))
	}
	if _, err := rd.br.ReadByte(); err != io.EOF {
		return rd.fail(errorf(ErrFormat, "", "trailing data after the gzip stream"))
	}
	rd.done = true
	return io.EOF
}
