package config

// Defaulter is implemented by a plugin's config struct whose zero value is
// not its default. Defaults returns a fresh struct with every default filled
// in (the receiver is ignored); DecodeOver decodes the file's keys over it,
// so a key the file leaves out keeps its default and validation only ever
// sees the final values.
type Defaulter[C any] interface {
	Defaults() C
}

// DecodeOver decodes raw strictly (see Decode) over C's defaults: those of
// its Defaults method when C has one, else the zero value. On a decoding
// error it still returns the struct as far as it decoded, so the caller can
// validate the rest and report every problem at once.
func DecodeOver[C any](raw map[string]any, path string) (C, error) {
	var cfg C
	if d, ok := any(cfg).(Defaulter[C]); ok {
		cfg = d.Defaults()
	}
	err := Decode(raw, &cfg, path)
	return cfg, err
}
