package kit

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/cyberphone/json-canonicalization/go/src/webpki.org/jsoncanonicalizer"

	"github.com/stellaops/stellad/kit/internal/strictjson"
)

// Version is the kitVersion this package reads and writes.
const Version = 1

// Kinds of kit stellad writes. Any kind matching [a-z][a-z0-9-]{0,63} is
// accepted by the format.
const (
	// KindBuild is a kit assembled on the connected side to carry trust in.
	KindBuild = "build"
	// KindExport is an appliance's export: its checkpoint, tiles and bundles.
	KindExport = "export"
)

// maxSafeInteger is the largest integer RFC 8785 (IEEE 754 double) numbers
// represent exactly: sizes and sequence numbers above it are refused.
const maxSafeInteger = 1<<53 - 1

// Manifest is manifest.json: what the kit is and every content file it holds.
// On the wire it is RFC 8785 canonical JSON:
//
//	{"createdBy":"...","files":[{"mediaType":"...","path":"...","sha256":"...","size":N}],
//	 "kind":"...","kitVersion":1,"sequence":N,"source":"..."}
type Manifest struct {
	// KitVersion is the format version; always Version.
	KitVersion int
	// Kind says what the kit is for (KindBuild, KindExport, ...).
	Kind string
	// CreatedBy names the tool and version that built the kit.
	CreatedBy string
	// Source names who issued the kit (an appliance's log origin, a build
	// host); Sequence increases with every kit from one source.
	Source   string
	Sequence uint64
	// Files lists the content files, sorted by path, paths unique.
	Files []File
}

// File is one content file of a kit.
type File struct {
	Path      string
	SHA256    string // lowercase hex
	Size      int64
	MediaType string
}

// wire forms; json.Marshal then RFC 8785 canonicalisation fixes member order.
type wireManifest struct {
	CreatedBy  string     `json:"createdBy"`
	Files      []wireFile `json:"files"`
	Kind       string     `json:"kind"`
	KitVersion int        `json:"kitVersion"`
	Sequence   uint64     `json:"sequence"`
	Source     string     `json:"source"`
}

type wireFile struct {
	MediaType string `json:"mediaType"`
	Path      string `json:"path"`
	SHA256    string `json:"sha256"`
	Size      int64  `json:"size"`
}

// Validate checks every field: version, kind, createdBy and source
// (printable, 1 to 256 bytes), sequence and sizes within 2^53-1, paths (see
// ValidatePath) sorted, unique and free of collisions, SHA-256 as 64
// lowercase hex digits, and media types of the form type/subtype. Errors are
// *Error wrapping ErrFormat, ErrPath or ErrDuplicate.
func (m *Manifest) Validate() error {
	if m.KitVersion != Version {
		return errorf(ErrFormat, ManifestPath, "kitVersion %d, want %d", m.KitVersion, Version)
	}
	if !validKind(m.Kind) {
		return errorf(ErrFormat, ManifestPath, "kind %q is not [a-z][a-z0-9-]{0,63}", m.Kind)
	}
	if !validText(m.CreatedBy) {
		return errorf(ErrFormat, ManifestPath, "createdBy must be 1 to 256 bytes of printable UTF-8")
	}
	if !validText(m.Source) {
		return errorf(ErrFormat, ManifestPath, "source must be 1 to 256 bytes of printable UTF-8")
	}
	if m.Sequence > maxSafeInteger {
		return errorf(ErrFormat, ManifestPath, "sequence %d exceeds 2^53-1", m.Sequence)
	}
	set := newPathSet()
	for i, f := range m.Files {
		if err := ValidatePath(f.Path); err != nil {
			return err
		}
		if i > 0 && f.Path <= m.Files[i-1].Path {
			if f.Path == m.Files[i-1].Path {
				return errorf(ErrDuplicate, f.Path, "listed twice in the manifest")
			}
			return errorf(ErrFormat, f.Path, "manifest files not sorted by path")
		}
		if err := set.add(f.Path); err != nil {
			return err
		}
		if f.Size < 0 || f.Size > maxSafeInteger {
			return errorf(ErrFormat, f.Path, "size %d out of range", f.Size)
		}
		if len(f.SHA256) != 64 || !isLowerHex(f.SHA256) {
			return errorf(ErrFormat, f.Path, "sha256 must be 64 lowercase hex digits")
		}
		if !validMediaType(f.MediaType) {
			return errorf(ErrFormat, f.Path, "media type %q is not type/subtype", f.MediaType)
		}
	}
	return nil
}

// Marshal validates m and encodes it as RFC 8785 canonical JSON. The output is
// deterministic and ParseManifest(Marshal(m)) gives back m.
func (m *Manifest) Marshal() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	w := wireManifest{CreatedBy: m.CreatedBy, Kind: m.Kind, KitVersion: m.KitVersion,
		Sequence: m.Sequence, Source: m.Source, Files: make([]wireFile, len(m.Files))}
	for i, f := range m.Files {
		w.Files[i] = wireFile{MediaType: f.MediaType, Path: f.Path, SHA256: f.SHA256, Size: f.Size}
	}
	raw, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("kit: encoding manifest: %w", err)
	}
	out, err := jsoncanonicalizer.Transform(raw)
	if err != nil {
		return nil, fmt.Errorf("kit: canonicalizing manifest: %w", err)
	}
	return out, nil
}

// Lookup returns the file listed under path.
func (m *Manifest) Lookup(path string) (File, bool) {
	lo, hi := 0, len(m.Files)
	for lo < hi {
		mid := (lo + hi) / 2
		switch p := m.Files[mid].Path; {
		case p == path:
			return m.Files[mid], true
		case p < path:
			lo = mid + 1
		default:
			hi = mid
		}
	}
	return File{}, false
}

// TotalSize returns the sum of the listed file sizes.
func (m *Manifest) TotalSize() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Size
	}
	return n
}

// ParseManifest decodes manifest.json strictly: one JSON object with exactly
// the known members (no unknown or duplicate ones, at any level), valid
// values (see Validate), and the bytes must be the RFC 8785 canonical
// encoding of the result, so one manifest has one encoding. Errors are
// *Error wrapping ErrFormat, ErrPath or ErrDuplicate.
func ParseManifest(data []byte) (*Manifest, error) {
	fail := func(err error) (*Manifest, error) {
		return nil, &Error{Path: ManifestPath, Kind: ErrFormat, Cause: err}
	}
	if err := strictjson.Check(data, "manifest"); err != nil {
		return fail(err)
	}
	top, err := strictjson.ReadObject(data, "manifest", "createdBy", "files", "kind", "kitVersion", "sequence", "source")
	if err != nil {
		return fail(err)
	}
	var m Manifest
	for _, f := range []string{"createdBy", "files", "kind", "kitVersion", "sequence", "source"} {
		if _, ok := top[f]; !ok {
			return nil, errorf(ErrFormat, ManifestPath, "manifest.%s: missing", f)
		}
	}
	if m.CreatedBy, err = strictjson.ReadString(top["createdBy"], "manifest.createdBy"); err != nil {
		return fail(err)
	}
	if m.Kind, err = strictjson.ReadString(top["kind"], "manifest.kind"); err != nil {
		return fail(err)
	}
	if m.Source, err = strictjson.ReadString(top["source"], "manifest.source"); err != nil {
		return fail(err)
	}
	v, err := readInt(top["kitVersion"], "manifest.kitVersion")
	if err != nil {
		return fail(err)
	}
	if v != Version {
		return nil, errorf(ErrFormat, ManifestPath, "kitVersion %d, want %d", v, Version)
	}
	m.KitVersion = Version
	seq, err := readInt(top["sequence"], "manifest.sequence")
	if err != nil {
		return fail(err)
	}
	m.Sequence = uint64(seq)
	files, err := strictjson.ReadArray(top["files"], "manifest.files")
	if err != nil {
		return fail(err)
	}
	m.Files = make([]File, len(files))
	for i, raw := range files {
		what := fmt.Sprintf("manifest.files[%d]", i)
		fm, err := strictjson.ReadObject(raw, what, "mediaType", "path", "sha256", "size")
		if err != nil {
			return fail(err)
		}
		for _, f := range []string{"mediaType", "path", "sha256", "size"} {
			if _, ok := fm[f]; !ok {
				return nil, errorf(ErrFormat, ManifestPath, "%s.%s: missing", what, f)
			}
		}
		f := &m.Files[i]
		if f.Path, err = strictjson.ReadString(fm["path"], what+".path"); err != nil {
			return fail(err)
		}
		if f.SHA256, err = strictjson.ReadString(fm["sha256"], what+".sha256"); err != nil {
			return fail(err)
		}
		if f.MediaType, err = strictjson.ReadString(fm["mediaType"], what+".mediaType"); err != nil {
			return fail(err)
		}
		if f.Size, err = readInt(fm["size"], what+".size"); err != nil {
			return fail(err)
		}
	}
	canon, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(canon, data) {
		return nil, errorf(ErrFormat, ManifestPath, "not in RFC 8785 canonical form")
	}
	return &m, nil
}

// readInt decodes a non-negative JSON integer up to 2^53-1 written in plain
// decimal (no sign, fraction or exponent).
func readInt(raw json.RawMessage, what string) (int64, error) {
	s := string(bytes.TrimSpace(raw))
	if s == "" || len(s) > 16 {
		return 0, fmt.Errorf("%s: not an integer up to 2^53-1", what)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%s: not a non-negative decimal integer", what)
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > maxSafeInteger {
		return 0, fmt.Errorf("%s: not an integer up to 2^53-1", what)
	}
	return n, nil
}

func validKind(s string) bool {
	if s == "" || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func validText(s string) bool {
	if s == "" || len(s) > 256 || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
