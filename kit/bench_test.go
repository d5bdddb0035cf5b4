package kit

import (
	"bytes"
	"crypto"
	"fmt"
	"testing"
)

// bundles1000 returns 1,000 bundle-sized (about 4 KiB) files.
func bundles1000() []content {
	files := make([]content, 1000)
	for i := range files {
		data := bytes.Repeat([]byte(fmt.Sprintf(`{"bundle":%d,"pad":"%064x"}`, i, i)), 48)
		files[i] = content{fmt.Sprintf("attestations/%06d.sigstore.json", i), MediaTypeBundle, data}
	}
	return files
}

func BenchmarkWrite1000Bundles(b *testing.B) {
	files := bundles1000()
	k := seededKey(1)
	var size int
	b.ReportAllocs()
	for b.Loop() {
		size = len(buildKit(b, testOptions(), files, k))
	}
	b.ReportMetric(float64(size), "archive-bytes")
}

func BenchmarkVerify1000Bundles(b *testing.B) {
	k := seededKey(1)
	files := bundles1000()
	archive := buildKit(b, testOptions(), files, k)
	opts := VerifyOptions{Keys: []crypto.PublicKey{pub(k)}}
	var content int64
	for _, f := range files {
		content += int64(len(f.data))
	}
	b.SetBytes(content) // content bytes verified per second
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(bytes.NewReader(archive), opts); err != nil {
			b.Fatal(err)
		}
	}
}
