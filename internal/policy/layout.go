package policy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path"
	"slices"
	"strings"
)

// OCI media types and annotations the layout reader knows (OCI image-spec
// v1.1: media-types.md, annotations.md; Docker image manifest v2 schema 2).
const (
	// MediaTypeImageIndex is an OCI image index.
	MediaTypeImageIndex = "application/vnd.oci.image.index.v1+json"
	// MediaTypeImageManifest is an OCI image manifest.
	MediaTypeImageManifest = "application/vnd.oci.image.manifest.v1+json"
	// MediaTypeDockerManifest is a Docker image manifest, read like an OCI one.
	MediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	// MediaTypeDockerList is a Docker manifest list, read like an OCI index.
	MediaTypeDockerList = "application/vnd.docker.distribution.manifest.list.v2+json"
	// AnnotationRefName is the OCI annotation naming a manifest in index.json
	// (a tag, for cosign classic signatures "sha256-<hex>.sig").
	AnnotationRefName = "org.opencontainers.image.ref.name"
)

// layoutVersion is the only imageLayoutVersion of OCI image-spec v1.x.
const layoutVersion = "1.0.0"

// Limits bounds what OpenLayout and the manifest walk accept, so that a
// hostile or damaged layout costs bounded time and memory. Zero fields take
// the Default values.
type Limits struct {
	// MaxFiles is the most directory entries under blobs/ (DefaultMaxFiles).
	MaxFiles int
	// MaxBlobSize is the largest blob that is read: manifests, indexes,
	// signature payloads and bundles (DefaultMaxBlobSize). Blobs that are
	// never read, such as image layers, may be larger.
	MaxBlobSize int64
	// MaxIndexSize is the largest index.json (DefaultMaxIndexSize).
	MaxIndexSize int64
	// MaxDepth is how many image indexes may be nested below index.json
	// (DefaultMaxDepth).
	MaxDepth int
	// MaxManifests is the most manifests and indexes one walk visits
	// (DefaultMaxManifests).
	MaxManifests int
	// MaxTotalRead bounds the bytes of all blobs read through one Layout,
	// counting a blob again each time it is read (DefaultMaxTotalRead).
	MaxTotalRead int64
}

// Default limits, applied to zero Limits fields.
const (
	DefaultMaxFiles     = 100_000  // entries under blobs/
	DefaultMaxBlobSize  = 16 << 20 // bytes of one blob read
	DefaultMaxIndexSize = 4 << 20  // bytes of index.json
	DefaultMaxDepth     = 4        // nested image indexes
	DefaultMaxManifests = 10_000   // manifests and indexes visited
	DefaultMaxTotalRead = 1 << 30  // bytes read from blobs in all
)

func (l Limits) withDefaults() Limits {
	if l.MaxFiles <= 0 {
		l.MaxFiles = DefaultMaxFiles
	}
	if l.MaxBlobSize <= 0 {
		l.MaxBlobSize = DefaultMaxBlobSize
	}
	if l.MaxIndexSize <= 0 {
		l.MaxIndexSize = DefaultMaxIndexSize
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxManifests <= 0 {
		l.MaxManifests = DefaultMaxManifests
	}
	if l.MaxTotalRead <= 0 {
		l.MaxTotalRead = DefaultMaxTotalRead
	}
	return l
}

// Descriptor is an OCI content descriptor (image-spec descriptor.md). Fields
// the reader does not use (urls, platform, data) are ignored.
type Descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

// validate checks the digest syntax (sha256 only) and the size.
func (d *Descriptor) validate(what string) error {
	if !ValidDigest(d.Digest) {
		return fmt.Errorf("%w: %s: digest %q is not sha256:<64 lowercase hex>", ErrInvalidLayout, what, trunc(d.Digest))
	}
	if d.Size < 0 {
		return fmt.Errorf("%w: %s: negative size %d", ErrInvalidLayout, what, d.Size)
	}
	return nil
}

// Manifest is an image manifest found in a layout: the descriptor that led
// to it (from index.json or a nested index, with that entry's annotations),
// its decoded fields and its exact bytes.
type Manifest struct {
	Descriptor   Descriptor
	MediaType    string
	ArtifactType string
	Config       Descriptor
	Layers       []Descriptor
	Subject      *Descriptor
	Annotations  map[string]string
	Raw          []byte
}

// manifestJSON is the wire form of an image manifest or an image index.
type manifestJSON struct {
	SchemaVersion *int              `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	ArtifactType  string            `json:"artifactType"`
	Config        *Descriptor       `json:"config"`
	Layers        []Descriptor      `json:"layers"`
	Manifests     []Descriptor      `json:"manifests"`
	Subject       *Descriptor       `json:"subject"`
	Annotations   map[string]string `json:"annotations"`
}

// Layout is an OCI image layout directory opened by OpenLayout. It reads
// through an os.Root, so no path it reads can leave the directory, and it
// re-hashes every blob it reads. Close it when done. A Layout is not safe
// for concurrent use.
type Layout struct {
	dir    string
	root   *os.Root
	limits Limits
	index  []Descriptor
	read   int64 // bytes read by Blob so far
}

// OpenLayout opens the OCI image layout in dir (image-spec image-layout.md):
// it checks oci-layout (imageLayoutVersion "1.0.0"), parses index.json, and
// lists blobs/, refusing symlinks and other non-regular files anywhere in it,
// blob names that are not digests, and more than lim.MaxFiles entries.
// Errors wrap ErrInvalidLayout and name the file. Blob contents are checked
// when read (Blob, Manifests).
func OpenLayout(dir string, lim Limits) (*Layout, error) {
	lim = lim.withDefaults()
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: opening %s: %w", ErrInvalidLayout, dir, err)
	}
	l := &Layout{dir: dir, root: root, limits: lim}
	if err := l.open(); err != nil {
		root.Close()
		return nil, fmt.Errorf("layout %s: %w", dir, err)
	}
	return l, nil
}

func (l *Layout) open() error {
	data, err := l.readFile("oci-layout", 4096)
	if err != nil {
		return err
	}
	var marker struct {
		ImageLayoutVersion string `json:"imageLayoutVersion"`
	}
	if err := decodeJSON(data, &marker, false); err != nil {
		return fmt.Errorf("%w: oci-layout: %w", ErrInvalidLayout, err)
	}
	if marker.ImageLayoutVersion != layoutVersion {
		return fmt.Errorf("%w: oci-layout: imageLayoutVersion %q, want %q", ErrInvalidLayout, trunc(marker.ImageLayoutVersion), layoutVersion)
	}
	if err := l.scanBlobs(); err != nil {
		return err
	}
	data, err = l.readFile("index.json", l.limits.MaxIndexSize)
	if err != nil {
		return err
	}
	idx, err := parseIndex(data, "index.json")
	if err != nil {
		return err
	}
	l.index = idx
	return nil
}

// parseIndex decodes an image index (index.json or a nested index blob) and
// validates its descriptors.
func parseIndex(data []byte, name string) ([]Descriptor, error) {
	var m manifestJSON
	if err := decodeJSON(data, &m, false); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidLayout, name, err)
	}
	if m.SchemaVersion == nil || *m.SchemaVersion != 2 {
		return nil, fmt.Errorf("%w: %s: schemaVersion is not 2", ErrInvalidLayout, name)
	}
	if m.MediaType != "" && m.MediaType != MediaTypeImageIndex && m.MediaType != MediaTypeDockerList {
		return nil, fmt.Errorf("%w: %s: mediaType %q is not an image index", ErrInvalidLayout, name, trunc(m.MediaType))
	}
	if m.Config != nil || m.Layers != nil {
		return nil, fmt.Errorf("%w: %s: an index with config or layers", ErrInvalidLayout, name)
	}
	for i := range m.Manifests {
		if err := m.Manifests[i].validate(fmt.Sprintf("%s: manifests[%d]", name, i)); err != nil {
			return nil, err
		}
	}
	return m.Manifests, nil
}

// parseManifest decodes an image manifest that desc points to.
func parseManifest(data []byte, desc Descriptor, name string) (*Manifest, error) {
	var m manifestJSON
	if err := decodeJSON(data, &m, false); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidLayout, name, err)
	}
	if m.SchemaVersion == nil || *m.SchemaVersion != 2 {
		return nil, fmt.Errorf("%w: %s: schemaVersion is not 2", ErrInvalidLayout, name)
	}
	// image-spec manifest.md: mediaType, when present, must match the
	// descriptor's, so a blob cannot be read as another kind of document.
	if m.MediaType != "" && m.MediaType != desc.MediaType {
		return nil, fmt.Errorf("%w: %s: mediaType %q differs from its descriptor's %q", ErrInvalidLayout, name, trunc(m.MediaType), trunc(desc.MediaType))
	}
	if m.Manifests != nil {
		return nil, fmt.Errorf("%w: %s: a manifest with manifests", ErrInvalidLayout, name)
	}
	if m.Config == nil {
		return nil, fmt.Errorf("%w: %s: config missing", ErrInvalidLayout, name)
	}
	if err := m.Config.validate(name + ": config"); err != nil {
		return nil, err
	}
	for i := range m.Layers {
		if err := m.Layers[i].validate(fmt.Sprintf("%s: layers[%d]", name, i)); err != nil {
			return nil, err
		}
	}
	if m.Subject != nil {
		if err := m.Subject.validate(name + ": subject"); err != nil {
			return nil, err
		}
	}
	return &Manifest{
		Descriptor:   desc,
		MediaType:    desc.MediaType,
		ArtifactType: m.ArtifactType,
		Config:       *m.Config,
		Layers:       m.Layers,
		Subject:      m.Subject,
		Annotations:  m.Annotations,
		Raw:          data,
	}, nil
}

// Dir returns the directory the layout was opened from.
func (l *Layout) Dir() string { return l.dir }

// Index returns the descriptors listed in index.json, in file order. The
// slice is the layout's own: do not modify it.
func (l *Layout) Index() []Descriptor { return l.index }

// Close releases the directory handle.
func (l *Layout) Close() error { return l.root.Close() }

// readFile reads a top-level regular file of at most max bytes.
func (l *Layout) readFile(name string, max int64) ([]byte, error) {
	fi, err := l.root.Lstat(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidLayout, name, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s: not a regular file (%s)", ErrInvalidLayout, name, fi.Mode().Type())
	}
	if fi.Size() > max {
		return nil, fmt.Errorf("%w: %s: %d bytes exceeds the limit of %d", ErrInvalidLayout, name, fi.Size(), max)
	}
	f, err := l.root.Open(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidLayout, name, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading %s: %w", ErrInvalidLayout, name, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%w: %s: exceeds the limit of %d bytes", ErrInvalidLayout, name, max)
	}
	return data, nil
}

// scanBlobs lists blobs/<alg>/<encoded>: every entry must be a directory
// (level one) or a regular file (level two) with a well-formed name.
func (l *Layout) scanBlobs() error {
	fi, err := l.root.Lstat("blobs")
	if err != nil {
		return fmt.Errorf("%w: blobs: %w", ErrInvalidLayout, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: blobs: not a directory (%s)", ErrInvalidLayout, fi.Mode().Type())
	}
	n := 0
	count := func(name string) error {
		n++
		if n > l.limits.MaxFiles {
			return fmt.Errorf("%w: blobs: more than %d entries (at %s)", ErrInvalidLayout, l.limits.MaxFiles, name)
		}
		return nil
	}
	algs, err := l.readDir("blobs", l.limits.MaxFiles)
	if err != nil {
		return err
	}
	for _, a := range algs {
		name := "blobs/" + a.Name()
		if err := count(name); err != nil {
			return err
		}
		if a.Type() != fs.ModeDir {
			return fmt.Errorf("%w: %s: not a directory (%s)", ErrInvalidLayout, name, a.Type())
		}
		if !validAlgorithm(a.Name()) {
			return fmt.Errorf("%w: %s: not a digest algorithm name", ErrInvalidLayout, name)
		}
		files, err := l.readDir(name, l.limits.MaxFiles-n)
		if err != nil {
			return err
		}
		for _, f := range files {
			fname := name + "/" + f.Name()
			if err := count(fname); err != nil {
				return err
			}
			if !f.Type().IsRegular() {
				return fmt.Errorf("%w: %s: not a regular file (%s)", ErrInvalidLayout, fname, f.Type())
			}
			if a.Name() == "sha256" && !validHex64(f.Name()) {
				return fmt.Errorf("%w: %s: blob name is not 64 lowercase hex digits", ErrInvalidLayout, fname)
			}
		}
	}
	return nil
}

// readDir reads at most max+1 entries of a directory (Lstat semantics).
func (l *Layout) readDir(name string, max int) ([]fs.DirEntry, error) {
	d, err := l.root.Open(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidLayout, name, err)
	}
	defer d.Close()
	entries, err := d.ReadDir(max + 1)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: listing %s: %w", ErrInvalidLayout, name, err)
	}
	if len(entries) > max {
		return nil, fmt.Errorf("%w: blobs: more than %d entries (in %s)", ErrInvalidLayout, l.limits.MaxFiles, name)
	}
	return entries, nil
}

// blobPath is the layout-relative file of a sha256 digest.
func blobPath(digest string) string {
	return "blobs/sha256/" + strings.TrimPrefix(digest, "sha256:")
}

// Blob reads the blob d names and checks that it is a regular file of
// exactly d.Size bytes, at most Limits.MaxBlobSize (and within what is left
// of Limits.MaxTotalRead), whose SHA-256 is d.Digest. Errors wrap ErrInvalidLayout and name the file.
func (l *Layout) Blob(d Descriptor) ([]byte, error) {
	if err := d.validate("descriptor"); err != nil {
		return nil, err
	}
	name := blobPath(d.Digest)
	if d.Size > l.limits.MaxBlobSize {
		return nil, fmt.Errorf("%w: %s: descriptor size %d exceeds the blob limit of %d", ErrInvalidLayout, name, d.Size, l.limits.MaxBlobSize)
	}
	if l.read+d.Size > l.limits.MaxTotalRead {
		return nil, fmt.Errorf("%w: %s: reading it would exceed the limit of %d bytes read from the layout", ErrInvalidLayout, name, l.limits.MaxTotalRead)
	}
	l.read += d.Size
	fi, err := l.root.Lstat(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidLayout, name, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s: not a regular file (%s)", ErrInvalidLayout, name, fi.Mode().Type())
	}
	if fi.Size() != d.Size {
		return nil, fmt.Errorf("%w: %s: file has %d bytes, its descriptor says %d", ErrInvalidLayout, name, fi.Size(), d.Size)
	}
	f, err := l.root.Open(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidLayout, name, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, d.Size+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading %s: %w", ErrInvalidLayout, name, err)
	}
	if int64(len(data)) != d.Size {
		return nil, fmt.Errorf("%w: %s: read %d bytes, its descriptor says %d", ErrInvalidLayout, name, len(data), d.Size)
	}
	sum := sha256.Sum256(data)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != d.Digest {
		return nil, fmt.Errorf("%w: %s: content hashes to %s, not to its name (tampered or damaged)", ErrInvalidLayout, name, got)
	}
	return data, nil
}

// HasBlob reports whether the layout holds a blob file for digest, without
// reading it.
func (l *Layout) HasBlob(digest string) bool {
	if !ValidDigest(digest) {
		return false
	}
	fi, err := l.root.Lstat(blobPath(digest))
	return err == nil && fi.Mode().IsRegular()
}

// Manifests iterates over every image manifest reachable from index.json,
// descending into nested image indexes (at most Limits.MaxDepth deep) and
// visiting at most Limits.MaxManifests documents. A manifest listed twice
// under the same descriptor annotations is yielded once. Each manifest blob
// is read with Blob (size and digest checked). Descriptors of other media
// types are skipped. On the first error the iterator yields (nil, err) and
// stops.
func (l *Layout) Manifests() iter.Seq2[*Manifest, error] {
	return func(yield func(*Manifest, error) bool) {
		w := walker{l: l, yield: yield, seen: map[string]bool{}}
		w.walk(l.index, "index.json", 0)
	}
}

type walker struct {
	l       *Layout
	yield   func(*Manifest, error) bool
	seen    map[string]bool
	visited int
	stopped bool
}

func (w *walker) fail(err error) {
	if !w.stopped {
		w.stopped = true
		w.yield(nil, err)
	}
}

func (w *walker) walk(descs []Descriptor, from string, depth int) {
	for _, d := range descs {
		if w.stopped {
			return
		}
		key := d.Digest + "\x00" + annotationsKey(d.Annotations)
		if w.seen[key] {
			continue
		}
		w.seen[key] = true
		switch d.MediaType {
		case MediaTypeImageIndex, MediaTypeDockerList, MediaTypeImageManifest, MediaTypeDockerManifest:
		default:
			continue
		}
		w.visited++
		if w.visited > w.l.limits.MaxManifests {
			w.fail(fmt.Errorf("layout %s: %w: more than %d manifests", w.l.dir, ErrInvalidLayout, w.l.limits.MaxManifests))
			return
		}
		data, err := w.l.Blob(d)
		if err != nil {
			w.fail(fmt.Errorf("layout %s: manifest listed in %s: %w", w.l.dir, from, err))
			return
		}
		name := blobPath(d.Digest)
		switch d.MediaType {
		case MediaTypeImageIndex, MediaTypeDockerList:
			if depth+1 > w.l.limits.MaxDepth {
				w.fail(fmt.Errorf("layout %s: %w: %s: indexes nested deeper than %d", w.l.dir, ErrInvalidLayout, name, w.l.limits.MaxDepth))
				return
			}
			sub, err := parseIndex(data, name)
			if err != nil {
				w.fail(fmt.Errorf("layout %s: %w", w.l.dir, err))
				return
			}
			w.walk(sub, name, depth+1)
		default:
			m, err := parseManifest(data, d, name)
			if err != nil {
				w.fail(fmt.Errorf("layout %s: %w", w.l.dir, err))
				return
			}
			if !w.yield(m, nil) {
				w.stopped = true
				return
			}
		}
	}
}

// annotationsKey is a deterministic rendering of annotations for
// de-duplication.
func annotationsKey(a map[string]string) string {
	if len(a) == 0 {
		return ""
	}
	var b bytes.Buffer
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%q=%q;", k, a[k])
	}
	return b.String()
}

// ValidDigest reports whether s is "sha256:" followed by 64 lowercase hex
// digits, the only digest form the scanner release check accepts.
func ValidDigest(s string) bool {
	hexPart, ok := strings.CutPrefix(s, "sha256:")
	return ok && validHex64(hexPart)
}

func validHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// validAlgorithm checks an algorithm directory name against image-spec
// descriptor.md's algorithm grammar (components of [a-z0-9]).
func validAlgorithm(s string) bool {
	if s == "" || len(s) > 64 || path.Base(s) != s {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '+' && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// trunc shortens outside strings quoted in error messages.
func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
