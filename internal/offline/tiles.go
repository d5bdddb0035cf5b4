package offline

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api/layout"
)

const tileWidth = layout.TileWidth

var hasher = rfc6962.DefaultHasher

// tilePathRE matches a C2SP tlog-tiles resource path without its leading
// slash; canonical form is checked by re-encoding.
var tilePathRE = regexp.MustCompile(`^tile/(entries|[0-9]{1,2})/((?:x[0-9]{3}/){0,6}[0-9]{3})(?:\.p/([0-9]{1,3}))?$`)

// tileID names one tile or entry bundle; width 0 means a full one.
type tileID struct {
	entries bool
	level   uint64
	index   uint64
	width   uint8
}

// parseTilePath parses a canonical tlog-tiles path such as
// "tile/0/x001/234.p/5" or "tile/entries/000".
func parseTilePath(p string) (tileID, error) {
	m := tilePathRE.FindStringSubmatch(p)
	if m == nil {
		return tileID{}, fmt.Errorf("not a tlog-tiles path: %q", p)
	}
	var t tileID
	if m[1] == "entries" {
		t.entries = true
	} else {
		lvl, err := strconv.ParseUint(m[1], 10, 8)
		if err != nil || lvl > 63 {
			return tileID{}, fmt.Errorf("tile level %q", m[1])
		}
		t.level = lvl
	}
	idx, err := strconv.ParseUint(strings.NewReplacer("x", "", "/", "").Replace(m[2]), 10, 64)
	if err != nil {
		return tileID{}, fmt.Errorf("tile index %q: %w", m[2], err)
	}
	t.index = idx
	if m[3] != "" {
		w, err := strconv.ParseUint(m[3], 10, 8)
		if err != nil || w == 0 || w >= tileWidth {
			return tileID{}, fmt.Errorf("partial width %q", m[3])
		}
		t.width = uint8(w)
	}
	if got := t.path(); got != p {
		return tileID{}, fmt.Errorf("non-canonical tlog-tiles path %q (want %q)", p, got)
	}
	return t, nil
}

func (t tileID) path() string {
	if t.entries {
		return layout.EntriesPath(t.index, t.width)
	}
	return layout.TilePath(t.level, t.index, t.width)
}

// count is how many hashes (or entries) the tile holds.
func (t tileID) count() uint64 {
	if t.width == 0 {
		return tileWidth
	}
	return uint64(t.width)
}

// validFor reports whether the tile is part of the tree of the given size:
// every hash it holds is a node of that tree.
func (t tileID) validFor(size uint64) bool {
	lvl := t.level
	if t.entries {
		lvl = 0
	}
	var atLevel uint64
	if lvl*8 < 64 {
		atLevel = size >> (lvl * 8)
	}
	if t.index > atLevel/tileWidth {
		return false
	}
	return t.index*tileWidth+t.count() <= atLevel
}

// tileSource finds tile content: the kit's files first, then the mirror.
type tileSource struct {
	kit    map[string][]byte // by tile path
	mirror string            // the origin's mirror directory ("" for none)
}

// hashes returns the first n hashes of the level-lvl tile idx, from a full
// tile or a partial one at least n wide.
func (s *tileSource) hashes(lvl, idx uint64, n int) ([]byte, error) {
	want := n * 32
	full := tileID{level: lvl, index: idx}
	cands := []tileID{full}
	if n < tileWidth {
		cands = append(cands, tileID{level: lvl, index: idx, width: uint8(n)})
	}
	for _, c := range cands {
		if b, ok := s.kit[c.path()]; ok && len(b) >= want {
			return b[:want], nil
		}
	}
	if s.mirror != "" {
		if b, err := readWide(s.mirror, full, n); err == nil && len(b) >= want {
			return b[:want], nil
		}
	}
	return nil, fmt.Errorf("tile %s (%d hashes) is neither in the kit nor in the mirror", tileID{level: lvl, index: idx, width: uint8(n % tileWidth)}.path(), n)
}

// readWide reads the full tile or any partial tile of width >= n from dir.
func readWide(dir string, full tileID, n int) ([]byte, error) {
	if b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(full.path()))); err == nil {
		return b, nil
	}
	pdir := filepath.Join(dir, filepath.FromSlash(full.path())+".p")
	des, err := os.ReadDir(pdir)
	if err != nil {
		return nil, err
	}
	for _, de := range des {
		w, err := strconv.Atoi(de.Name())
		if err == nil && w >= n && w < tileWidth {
			return os.ReadFile(filepath.Join(pdir, de.Name()))
		}
	}
	return nil, os.ErrNotExist
}

// tree holds every node of a log at heights 0, 8, 16, ... (the rows tiles
// store) up to a size, rebuilt from level-0 tiles.
type tree struct {
	size   uint64
	levels [][][]byte
}

// maxMirrorSize bounds the trees rebuilt in memory (32 bytes per leaf).
const maxMirrorSize = 1 << 24

// buildTree reads the level-0 hashes of [0, size) from src and computes the
// rows above.
func buildTree(src *tileSource, size uint64) (*tree, error) {
	if size > maxMirrorSize {
		return nil, fmt.Errorf("tree size %d exceeds the mirror limit %d", size, maxMirrorSize)
	}
	t := &tree{size: size}
	leaves := make([][]byte, 0, size)
	for idx := uint64(0); idx*tileWidth < size; idx++ {
		n := int(min(tileWidth, size-idx*tileWidth))
		b, err := src.hashes(0, idx, n)
		if err != nil {
			return nil, err
		}
		for j := 0; j < n; j++ {
			leaves = append(leaves, b[j*32:(j+1)*32])
		}
	}
	t.levels = append(t.levels, leaves)
	for prev := leaves; len(prev) >= tileWidth; {
		row := make([][]byte, 0, len(prev)/tileWidth)
		for i := 0; i+tileWidth <= len(prev); i += tileWidth {
			row = append(row, perfectRoot(prev[i:i+tileWidth]))
		}
		t.levels = append(t.levels, row)
		prev = row
	}
	return t, nil
}

// perfectRoot is the RFC 6962 root of a power-of-two number of nodes.
func perfectRoot(hs [][]byte) []byte {
	if len(hs) == 1 {
		return hs[0]
	}
	h := len(hs) / 2
	return hasher.HashChildren(perfectRoot(hs[:h]), perfectRoot(hs[h:]))
}

// check verifies a kit tile or entry bundle against the tree.
func (t *tree) check(id tileID, data []byte) error {
	if !id.validFor(t.size) {
		return fmt.Errorf("beyond tree size %d", t.size)
	}
	lvl := id.level
	if id.entries {
		lvl = 0
	}
	if lvl >= uint64(len(t.levels)) {
		return fmt.Errorf("level %d is above the tree", lvl)
	}
	row := t.levels[lvl]
	first := id.index * tileWidth
	n := id.count()
	if first+n > uint64(len(row)) {
		return fmt.Errorf("covers nodes the tree does not have")
	}
	if !id.entries {
		if uint64(len(data)) != n*32 {
			return fmt.Errorf("%d bytes, want %d", len(data), n*32)
		}
		for j := uint64(0); j < n; j++ {
			if !bytes.Equal(data[j*32:(j+1)*32], row[first+j]) {
				return fmt.Errorf("hash %d differs from the tree", j)
			}
		}
		return nil
	}
	entries, err := splitBundle(data)
	if err != nil {
		return err
	}
	if uint64(len(entries)) != n {
		return fmt.Errorf("%d entries, want %d", len(entries), n)
	}
	for j, e := range entries {
		if !bytes.Equal(hasher.HashLeaf(e), row[first+uint64(j)]) {
			return fmt.Errorf("entry %d does not hash to the tree's leaf", j)
		}
	}
	return nil
}

// splitBundle splits a C2SP tlog-tiles entry bundle (2-byte big-endian
// length, then the entry, repeated).
func splitBundle(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 2 {
			return nil, errors.New("entry bundle: dangling byte")
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			return nil, errors.New("entry bundle: truncated entry")
		}
		out = append(out, b[2:2+n])
		b = b[2+n:]
		if len(out) > tileWidth {
			return nil, errors.New("entry bundle: more than 256 entries")
		}
	}
	return out, nil
}

// joinBundle is the inverse of splitBundle.
func joinBundle(entries [][]byte) []byte {
	var out []byte
	for _, e := range entries {
		out = binary.BigEndian.AppendUint16(out, uint16(len(e)))
		out = append(out, e...)
	}
	return out
}

// rootsAt returns the tree's root hash at each of sizes (each <= t.size,
// > 0), computed over the leaves in one pass.
func (t *tree) rootsAt(sizes ...uint64) (map[uint64][]byte, error) {
	want := map[uint64]bool{}
	var top uint64
	for _, s := range sizes {
		if s == 0 || s > t.size {
			return nil, fmt.Errorf("root at size %d of a tree of %d", s, t.size)
		}
		want[s] = true
		top = max(top, s)
	}
	rf := &compact.RangeFactory{Hash: hasher.HashChildren}
	r := rf.NewEmptyRange(0)
	out := map[uint64][]byte{}
	for i := uint64(0); i < top; i++ {
		if err := r.Append(t.levels[0][i], nil); err != nil {
			return nil, err
		}
		if want[i+1] {
			root, err := r.GetRootHash(nil)
			if err != nil {
				return nil, err
			}
			out[i+1] = root
		}
	}
	return out, nil
}
