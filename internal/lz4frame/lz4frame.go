// Package lz4frame compresses Kafka record batches into LZ4 frames with the
// block compressor of github.com/pierrec/lz4, without that package's frame
// writer.
//
// franz-go's default lz4 compressor goes through lz4.Writer, which copies
// each batch into a pooled 4 MiB block buffer, compresses it into a second
// one, copies the result into the produce buffer and hashes the whole batch
// for the frame's content checksum. Compression was the largest single cost
// of a small-row stream to Kafka, and those copies and the checksum were a
// quarter of it (BENCHMARKS.md, "The lz4 frame written directly"). Here a
// batch is compressed straight into the produce buffer, and the frame
// carries no content checksum, as the frames of Kafka's Java producer
// (KafkaLZ4BlockOutputStream) carry none: Kafka checks a batch with its own
// CRC32C. The block compression, and so the compressed bytes, are the
// library's.
package lz4frame

import (
	"bytes"
	"encoding/binary"
	"sync"

	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kgo"
)

// header is an LZ4 frame's magic number and descriptor: version 01,
// independent blocks, no block or content checksum, no content size, no
// dictionary (FLG 0x60); blocks of at most 4 MiB (BD 0x70); and the
// descriptor's checksum, the second byte of xxh32(FLG, BD).
var header = [...]byte{0x04, 0x22, 0x4d, 0x18, 0x60, 0x70, 0x73}

// blockMax is the largest block the descriptor allows (BD 0x70). A batch
// is at most kgo.ProducerBatchMaxBytes, 1 MB by default, so it is one block.
const blockMax = 4 << 20

// uncompressed marks a block stored as is: lz4 did not make it smaller.
const uncompressed = 1 << 31

// Compressor is a kgo.Compressor that writes LZ4 frames. The zero value is
// ready to use, and it is safe for concurrent use.
type Compressor struct {
	pool sync.Pool // *lz4.Compressor; each holds a 136 KiB hash table
}

// Compress writes src as one LZ4 frame into dst and returns the frame. It
// never fails: a block lz4 cannot shrink is stored uncompressed, as the
// frame format allows.
func (c *Compressor) Compress(dst *bytes.Buffer, src []byte, _ ...kgo.CompressFlag) ([]byte, kgo.CompressionCodecType) {
	blocks := (len(src) + blockMax - 1) / blockMax
	dst.Grow(len(header) + len(src) + 4*blocks + 4)
	out := dst.AvailableBuffer()
	out = append(out, header[:]...)
	lc, _ := c.pool.Get().(*lz4.Compressor)
	if lc == nil {
		lc = new(lz4.Compressor)
	}
	for len(src) > 0 {
		block := src[:min(len(src), blockMax)]
		src = src[len(block):]
		at := len(out)
		out = out[:at+4+len(block)]
		// A destination as long as the block makes CompressBlock
		// return 0 when the block does not compress (lz4.Compressor).
		n, err := lc.CompressBlock(block, out[at+4:])
		if n == 0 || err != nil {
			binary.LittleEndian.PutUint32(out[at:], uint32(len(block))|uncompressed)
			copy(out[at+4:], block)
			continue
		}
		binary.LittleEndian.PutUint32(out[at:], uint32(n))
		out = out[:at+4+n]
	}
	c.pool.Put(lc)
	return append(out, 0, 0, 0, 0), kgo.CodecLz4
}
