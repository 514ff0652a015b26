package avro

// Node is one type of a schema, for a writer that writes some values
// straight into Avro and transcodes the others from their JSON.
type Node struct{ n *node }

// Root is the schema's top type.
func (s *Schema) Root() Node { return Node{s.root} }

// Valid reports whether n is a type (the zero Node is not).
func (n Node) Valid() bool { return n.n != nil }

// NullIndex is the union index of null when n is optional, else -1.
func (n Node) NullIndex() int { return int(n.n.union) }

// NumFields is the number of fields of a record type, 0 for others.
func (n Node) NumFields() int { return len(n.n.fields) }

// Field is the type of field i of a record type, and its name.
func (n Node) Field(i int) (Node, string) { return Node{n.n.fields[i].n}, n.n.fields[i].name }

// Append appends the Avro encoding of the JSON value js of type n.
func (n Node) Append(dst, js []byte) ([]byte, error) {
	p := parser{b: js}
	return p.value(dst, n.n)
}

// AppendLong appends v as Avro's int or long (a zig-zag varint), and
// union indexes.
func AppendLong(dst []byte, v int64) []byte { return appendLong(dst, v) }
