package kit

// Limits bounds what a Reader accepts and what a Writer produces. A zero
// field takes its default.
type Limits struct {
	// MaxEntries is the most content files (manifest entries excluded);
	// default 100,000.
	MaxEntries int
	// MaxFileSize is the largest content file in bytes; default 256 MiB.
	MaxFileSize int64
	// MaxTotalSize is the largest sum of content file sizes; default 2 GiB.
	MaxTotalSize int64
	// MaxManifestSize is the largest manifest.json in bytes; default 32 MiB.
	// manifest.dsse.json may be 4/3 of it plus 1 MiB (base64 and signatures).
	MaxManifestSize int64
}

// Default limits.
const (
	DefaultMaxEntries      = 100_000
	DefaultMaxFileSize     = 256 << 20
	DefaultMaxTotalSize    = 2 << 30
	DefaultMaxManifestSize = 32 << 20
)

// MaxSignatures is the most signatures manifest.dsse.json may carry: every
// trusted key is tried against every signature, so the count is bounded.
const MaxSignatures = 64

func (l Limits) withDefaults() Limits {
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultMaxEntries
	}
	if l.MaxFileSize <= 0 {
		l.MaxFileSize = DefaultMaxFileSize
	}
	if l.MaxTotalSize <= 0 {
		l.MaxTotalSize = DefaultMaxTotalSize
	}
	if l.MaxManifestSize <= 0 {
		l.MaxManifestSize = DefaultMaxManifestSize
	}
	return l
}

func (l Limits) maxEnvelopeSize() int64 { return l.MaxManifestSize/3*4 + 4 + 1<<20 }

// checkManifest applies the limits to a verified manifest before any file is
// read, so that an oversized kit is refused without expanding it.
func (l Limits) checkManifest(m *Manifest) error {
	if len(m.Files) > l.MaxEntries {
		return errorf(ErrLimit, ManifestPath, "%d files, limit %d", len(m.Files), l.MaxEntries)
	}
	var total int64
	for _, f := range m.Files {
		if f.Size > l.MaxFileSize {
			return errorf(ErrLimit, f.Path, "%d bytes, file size limit %d", f.Size, l.MaxFileSize)
		}
		total += f.Size
		if total > l.MaxTotalSize {
			return errorf(ErrLimit, f.Path, "total size exceeds limit %d", l.MaxTotalSize)
		}
	}
	return nil
}
