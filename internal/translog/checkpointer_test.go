package translog

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/transparency-dev/merkle/proof"
)

// TestExtend checks the in-memory proofs of extend against the root of the whole tree,
// recomputed from scratch, for every split [0,m)+[m,m+k) up to 70 leaves (crossing several
// perfect-subtree boundaries on both sides of m).
func TestExtend(t *testing.T) {
	const maxLeaves = 70
	leaves := make([][]byte, maxLeaves)
	for i := range leaves {
		leaves[i] = hasher.HashLeaf(fmt.Appendf(nil, "leaf %d", i))
	}
	for m := 0; m < maxLeaves; m++ {
		for k := 1; m+k <= maxLeaves; k++ {
			r := rangeFactory.NewEmptyRange(0)
			for _, h := range leaves[:m] {
				if err := r.Append(h, nil); err != nil {
					t.Fatal(err)
				}
			}
			// Start from a range rebuilt from its hashes only, as after a restart.
			r, err := rangeFactory.NewRange(0, uint64(m), r.Hashes())
			if err != nil {
				t.Fatal(err)
			}
			root, proofs, err := extend(r, leaves[m:m+k])
			if err != nil {
				t.Fatalf("extend(%d, %d): %v", m, k, err)
			}
			want := rangeFactory.NewEmptyRange(0)
			for _, h := range leaves[:m+k] {
				_ = want.Append(h, nil)
			}
			wantRoot, _ := want.GetRootHash(nil)
			if !bytes.Equal(root, wantRoot) {
				t.Fatalf("extend(%d, %d): root %x, want %x", m, k, root, wantRoot)
			}
			for i, p := range proofs {
				idx := uint64(m + i)
				if err := proof.VerifyInclusion(hasher, idx, uint64(m+k), leaves[idx], p, wantRoot); err != nil {
					t.Fatalf("extend(%d, %d): proof of %d: %v", m, k, idx, err)
				}
			}
		}
	}
}

func BenchmarkExtend(b *testing.B) {
	for _, k := range []int{1, 64, 256} {
		b.Run(fmt.Sprintf("leaves=%d", k), func(b *testing.B) {
			base := rangeFactory.NewEmptyRange(0)
			for i := range 1_000_003 {
				_ = base.Append(hasher.HashLeaf(fmt.Appendf(nil, "%d", i)), nil)
			}
			leaves := make([][]byte, k)
			for i := range leaves {
				leaves[i] = hasher.HashLeaf(fmt.Appendf(nil, "new %d", i))
			}
			b.ResetTimer()
			for b.Loop() {
				r, _ := rangeFactory.NewRange(0, base.End(), append([][]byte(nil), base.Hashes()...))
				if _, _, err := extend(r, leaves); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*k), "ns/leaf")
		})
	}
}
