package schemaregistry

// AppendHeader appends Confluent's wire-format header to dst: the magic
// byte 0, then id as 4 bytes big-endian. The Avro binary encoding of the
// record follows it.
func AppendHeader(dst []byte, id int) []byte {
	return append(dst, 0, byte(id>>24), byte(id>>16), byte(id>>8), byte(id))
}
