package codec

import (
	"fmt"
	"time"
)

// DecimalMode matches Debezium's decimal.handling.mode.
type DecimalMode string

// Decimal handling modes.
const (
	DecimalString  DecimalMode = "string"  // exact decimal text, e.g. "12.30" (sluice default)
	DecimalPrecise DecimalMode = "precise" // base64 of the unscaled big-endian integer (Debezium default)
	DecimalDouble  DecimalMode = "double"  // JSON number via float64 (lossy)
)

// IntervalMode matches Debezium's interval.handling.mode.
type IntervalMode string

// Interval handling modes.
const (
	IntervalString  IntervalMode = "string"  // ISO-8601 duration "P1Y2M3DT4H5M6.78S" (sluice default, exact)
	IntervalNumeric IntervalMode = "numeric" // microseconds, a month as 365.25/12 days (Debezium default)
)

// BinaryMode matches Debezium's binary.handling.mode.
type BinaryMode string

// Binary handling modes.
const (
	BinaryBytes     BinaryMode = "bytes"  // base64, as Kafka Connect's JsonConverter writes BYTES (default)
	BinaryBase64    BinaryMode = "base64" // base64 string
	BinaryBase64URL BinaryMode = "base64-url-safe"
	BinaryHex       BinaryMode = "hex"
)

// ToastMode says what an unchanged TOASTed column becomes.
type ToastMode string

// TOAST handling modes.
const (
	// ToastOmit leaves the column out of "after"; its name is listed in
	// the event's unchanged-columns header (sluice default).
	ToastOmit ToastMode = "omit"
	// ToastPlaceholder writes Placeholder in its place, as Debezium's
	// unavailable.value.placeholder does.
	ToastPlaceholder ToastMode = "placeholder"
)

// DefaultPlaceholder is Debezium's unavailable.value.placeholder.
const DefaultPlaceholder = "__debezium_unavailable_value"

// Connector names for Options.Connector.
const (
	ConnectorPostgres = "postgresql"
	ConnectorMySQL    = "mysql"
)

// Version is written into source.version.
const Version = "sluice-0.1.0"

// Options configure an Encoder. The zero value of each mode field means
// the sluice default.
type Options struct {
	// Name is the logical server name (Debezium's topic.prefix), written
	// into source.name and used in schema names.
	Name string `yaml:"-"`
	// Connector is source.connector: "postgresql" or "mysql".
	Connector string `yaml:"-"`
	// DB is the database name, written into source.db of events that
	// belong to no table (logical messages).
	DB string `yaml:"-"`
	// Schemas wraps key and value in Kafka Connect's {"schema","payload"}
	// form (JsonConverter schemas.enable=true). Default false.
	Schemas     bool         `yaml:"schemas"`
	Decimal     DecimalMode  `yaml:"decimal_handling_mode"`
	Interval    IntervalMode `yaml:"interval_handling_mode"`
	Binary      BinaryMode   `yaml:"binary_handling_mode"`
	Toast       ToastMode    `yaml:"toast_handling_mode"`
	Placeholder string       `yaml:"unavailable_value_placeholder"`
	// Clock supplies the envelope's ts_ms/ts_us/ts_ns (processing time);
	// time.Now when nil. Tests fix it to get stable bytes.
	Clock func() time.Time `yaml:"-"`
}

// withDefaults fills unset modes and checks the set ones.
func (o Options) withDefaults() (Options, error) {
	if o.Decimal == "" {
		o.Decimal = DecimalString
	}
	if o.Interval == "" {
		o.Interval = IntervalString
	}
	if o.Binary == "" {
		o.Binary = BinaryBytes
	}
	if o.Toast == "" {
		o.Toast = ToastOmit
	}
	if o.Placeholder == "" {
		o.Placeholder = DefaultPlaceholder
	}
	switch o.Decimal {
	case DecimalString, DecimalPrecise, DecimalDouble:
	default:
		return o, fmt.Errorf("decimal_handling_mode: %q is not one of string, precise, double", o.Decimal)
	}
	switch o.Interval {
	case IntervalString, IntervalNumeric:
	default:
		return o, fmt.Errorf("interval_handling_mode: %q is not one of string, numeric", o.Interval)
	}
	switch o.Binary {
	case BinaryBytes, BinaryBase64, BinaryBase64URL, BinaryHex:
	default:
		return o, fmt.Errorf("binary_handling_mode: %q is not one of bytes, base64, base64-url-safe, hex", o.Binary)
	}
	switch o.Toast {
	case ToastOmit, ToastPlaceholder:
	default:
		return o, fmt.Errorf("toast_handling_mode: %q is not one of omit, placeholder", o.Toast)
	}
	return o, nil
}
