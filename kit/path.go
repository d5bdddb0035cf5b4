package kit

import (
	"strings"
)

// Names of the two entries every kit starts with, in this order.
const (
	ManifestPath  = "manifest.json"
	SignaturePath = "manifest.dsse.json"
)

// The roots content files live under. A content path is ROOT/REST with REST
// non-empty.
const (
	RootTrust        = "trust"
	RootCheckpoints  = "checkpoints"
	RootAttestations = "attestations"
	RootEntitlements = "entitlements"
	RootTiles        = "tiles"
)

// MaxPathLen is the longest content path accepted, in bytes.
const MaxPathLen = 1024

func isRoot(s string) bool {
	switch s {
	case RootTrust, RootCheckpoints, RootAttestations, RootEntitlements, RootTiles:
		return true
	}
	return false
}

// pathByte reports whether c may appear in a path element: ASCII letters,
// digits and . _ - + @ = , ~ %. Everything else (space, backslash, colon,
// control and non-ASCII bytes, shell and Windows metacharacters) is refused.
func pathByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("._-+@=,~%", c) >= 0
}

// ValidatePath reports whether p may name a content file in a kit: relative,
// clean (no empty, "." or ".." element), at most MaxPathLen bytes of the
// allowed ASCII characters, and below one of the known roots. The error is an
// *Error wrapping ErrPath.
func ValidatePath(p string) error {
	if p == "" {
		return errorf(ErrPath, p, "empty")
	}
	if len(p) > MaxPathLen {
		return errorf(ErrPath, truncate(p), "longer than %d bytes", MaxPathLen)
	}
	if p[0] == '/' {
		return errorf(ErrPath, p, "absolute path")
	}
	if strings.IndexByte(p, '\\') >= 0 {
		return errorf(ErrPath, p, "backslash")
	}
	elems := strings.Split(p, "/")
	for _, e := range elems {
		switch e {
		case "":
			return errorf(ErrPath, p, "empty path element")
		case ".":
			return errorf(ErrPath, p, "\".\" element")
		case "..":
			return errorf(ErrPath, p, "\"..\" element")
		}
		for i := 0; i < len(e); i++ {
			if !pathByte(e[i]) {
				return errorf(ErrPath, p, "character %q not allowed", e[i])
			}
		}
	}
	if !isRoot(elems[0]) {
		return errorf(ErrPath, p, "not under trust/, checkpoints/, attestations/, entitlements/ or tiles/")
	}
	if len(elems) < 2 {
		return errorf(ErrPath, p, "a root is not a file")
	}
	return nil
}

func truncate(p string) string {
	if len(p) > 64 {
		return p[:64] + "..."
	}
	return p
}

// pathSet detects duplicates and paths that would collide when extracted: the
// same path up to ASCII case (case-insensitive file systems), and a file that
// is also a directory of another file.
type pathSet struct {
	folded map[string]string // lower-cased path -> path
	dirs   map[string]bool   // lower-cased directory prefixes of added paths
}

func newPathSet() *pathSet {
	return &pathSet{folded: map[string]string{}, dirs: map[string]bool{}}
}

func (s *pathSet) add(p string) error {
	f := strings.ToLower(p)
	if prev, ok := s.folded[f]; ok {
		if prev == p {
			return errorf(ErrDuplicate, p, "listed twice")
		}
		return errorf(ErrPath, p, "collides with %s on a case-insensitive file system", prev)
	}
	if s.dirs[f] {
		return errorf(ErrPath, p, "is also a directory of another file")
	}
	for i := len(f) - 1; i > 0; i-- {
		if f[i] == '/' {
			d := f[:i]
			if prev, ok := s.folded[d]; ok {
				return errorf(ErrPath, p, "is below the file %s", prev)
			}
			if s.dirs[d] {
				break // its parents are recorded already
			}
			s.dirs[d] = true
		}
	}
	s.folded[f] = p
	return nil
}
