package testenv

// JavaPartition is the partition the Java producer picks for a keyed
// record (BuiltInPartitioner.partitionForKey): toPositive(murmur2(key)) % n.
// It is written independently of franz-go so tests check sluice's
// partitioning against Java's, not against itself.
func JavaPartition(key []byte, n int32) int32 {
	return (JavaMurmur2(key) & 0x7fffffff) % n
}

// JavaMurmur2 is Kafka's org.apache.kafka.common.utils.Utils.murmur2.
func JavaMurmur2(data []byte) int32 {
	const (
		seed = int32(-1756908916) // 0x9747b28c
		m    = int32(0x5bd1e995)
		r    = 24
	)
	length := len(data)
	h := seed ^ int32(length)
	for i := 0; i+4 <= length; i += 4 {
		k := int32(data[i]) | int32(data[i+1])<<8 | int32(data[i+2])<<16 | int32(data[i+3])<<24
		k *= m
		k ^= int32(uint32(k) >> r) // Java: k ^= k >>> r
		k *= m
		h *= m
		h ^= k
	}
	tail := length &^ 3
	switch length % 4 {
	case 3:
		h ^= int32(data[tail+2]) << 16
		fallthrough
	case 2:
		h ^= int32(data[tail+1]) << 8
		fallthrough
	case 1:
		h ^= int32(data[tail])
		h *= m
	}
	h ^= int32(uint32(h) >> 13)
	h *= m
	h ^= int32(uint32(h) >> 15)
	return h
}
