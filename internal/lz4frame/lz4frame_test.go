package lz4frame

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kgo"
)

// batch returns n bytes of JSON change events much like a record batch of
// small rows: repetitive text with changing numbers.
func batch(n int) []byte {
	var b []byte
	for i := 0; len(b) < n; i++ {
		b = fmt.Appendf(b, `{"before":null,"after":{"id":%d,"name":"name-%d","qty":%d},"source":{"lsn":%d,"txId":%d},"op":"c"}`, i, i*7, i%97, 23000000+i*120, 900+i/100)
	}
	return b[:n]
}

// noise returns n bytes lz4 cannot shrink.
func noise(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestCompressRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		src  []byte
	}{
		{"empty", nil},
		{"one byte", []byte{'x'}},
		{"short text", []byte(`{"id":1}`)},
		{"small batch", batch(20 << 10)},
		{"full batch", batch(1 << 20)},
		{"noise", noise(64 << 10)},
		{"noise then text", append(noise(10<<10), batch(50<<10)...)},
		{"two blocks", batch(blockMax + 12345)},
		{"two blocks, last one incompressible", append(batch(blockMax), noise(3000)...)},
	}
	var c Compressor
	dec := kgo.DefaultDecompressor()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var dst bytes.Buffer
			frame, codec := c.Compress(&dst, tc.src)
			if codec != kgo.CodecLz4 {
				t.Fatalf("codec %v, want lz4", codec)
			}
			if !bytes.HasPrefix(frame, header[:]) {
				t.Fatalf("frame starts % x", frame[:min(len(frame), 7)])
			}
			// pierrec's reader checks the descriptor's checksum and
			// every block's framing.
			got, err := io.ReadAll(lz4.NewReader(bytes.NewReader(frame)))
			if err != nil {
				t.Fatalf("lz4 reader: %v", err)
			}
			if !bytes.Equal(got, tc.src) {
				t.Fatalf("lz4 reader: %d bytes back, want %d", len(got), len(tc.src))
			}
			got, err = dec.Decompress(frame, kgo.CodecLz4)
			if err != nil {
				t.Fatalf("franz-go decompressor: %v", err)
			}
			if !bytes.Equal(got, tc.src) {
				t.Fatalf("franz-go decompressor: %d bytes back, want %d", len(got), len(tc.src))
			}
		})
	}
}

// TestCompressSizes holds the frame to the library's block compression:
// text comes out as small as franz-go's own lz4 frames make it (those add
// a 4-byte content checksum), and noise costs only the frame's bytes.
func TestCompressSizes(t *testing.T) {
	var c Compressor
	def, err := kgo.DefaultCompressor(kgo.Lz4Compression())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{700, 20 << 10, 1 << 20} {
		src := batch(n)
		ours, _ := c.Compress(new(bytes.Buffer), src)
		theirs, _ := def.Compress(new(bytes.Buffer), src)
		if len(ours) != len(theirs)-4 {
			t.Errorf("%d bytes of text: frame of %d bytes, franz-go's %d", n, len(ours), len(theirs))
		}
		if len(ours) >= n/2 {
			t.Errorf("%d bytes of text: frame of %d bytes", n, len(ours))
		}
	}
	src := noise(100 << 10)
	if f, _ := c.Compress(new(bytes.Buffer), src); len(f) != len(src)+len(header)+4+4 {
		t.Errorf("noise of %d bytes: frame of %d bytes", len(src), len(f))
	}
}

// TestCompressReusesBuffer checks the frame is written into the buffer
// franz-go pools, so a warm buffer costs no allocation.
func TestCompressReusesBuffer(t *testing.T) {
	var c Compressor
	var dst bytes.Buffer
	src := batch(64 << 10)
	c.Compress(&dst, src)
	allocs := testing.AllocsPerRun(100, func() {
		dst.Reset()
		c.Compress(&dst, src)
	})
	if allocs > 0 {
		t.Errorf("%.1f allocations per batch, want 0", allocs)
	}
}

func BenchmarkCompress(b *testing.B) {
	def, err := kgo.DefaultCompressor(kgo.Lz4Compression())
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{16 << 10, 128 << 10, 1 << 20} {
		src := batch(n)
		for _, cc := range []struct {
			name string
			c    kgo.Compressor
		}{{"frame", new(Compressor)}, {"franz-go", def}} {
			b.Run(fmt.Sprintf("%s/%dKiB", cc.name, n>>10), func(b *testing.B) {
				var dst bytes.Buffer
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					dst.Reset()
					cc.c.Compress(&dst, src)
				}
			})
		}
	}
}
