package offline

import (
	"crypto/sha256"
	"encoding/binary"
	"testing"
)

// BenchmarkBuildTree measures rebuilding and checking a mirrored tree of
// 65,536 leaves from level-0 tiles (what an import of a 65k-entry export
// costs beyond I/O).
func BenchmarkBuildTree(b *testing.B) {
	const size = 1 << 16
	kit := map[string][]byte{}
	for idx := uint64(0); idx*tileWidth < size; idx++ {
		var tile []byte
		for j := uint64(0); j < tileWidth; j++ {
			h := sha256.Sum256(binary.BigEndian.AppendUint64(nil, idx*tileWidth+j))
			tile = append(tile, h[:]...)
		}
		kit[tileID{index: idx}.path()] = tile
	}
	src := &tileSource{kit: kit}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t, err := buildTree(src, size)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := t.rootsAt(size, size/2); err != nil {
			b.Fatal(err)
		}
	}
}
