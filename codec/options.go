package codec

import (
	"fmt"
	"strings"
	"time"
)

// Every option is a Debezium connector or converter property under its
// name in snake_case, with Debezium's default: a Debezium configuration
// translates key for key (README "Debezium compatibility"). Profile
// "lossless" changes the defaults to sluice's lossless choices.

// Profile selects a set of defaults; options set explicitly win.
type Profile string

// Profiles.
const (
	// ProfileDebezium (the default) is Debezium's defaults: the bytes
	// Debezium Server writes for the same change.
	ProfileDebezium Profile = "debezium"
	// ProfileLossless is sluice's recommendation for new consumers:
	// decimals as exact strings, intervals as exact ISO-8601 strings,
	// unchanged TOAST columns left out (named in the sluice.unchanged
	// header) instead of a placeholder, multi-dimensional arrays nested
	// (without schemas).
	ProfileLossless Profile = "lossless"
)

// DecimalMode is Debezium's decimal.handling.mode.
type DecimalMode string

// Decimal handling modes.
const (
	DecimalPrecise DecimalMode = "precise" // base64 of the unscaled big-endian integer (Debezium's default)
	DecimalString  DecimalMode = "string"  // exact decimal text, e.g. "12.30"; NaN and the infinities as "NAN", "POSITIVE_INFINITY", "NEGATIVE_INFINITY" (profile lossless)
	DecimalDouble  DecimalMode = "double"  // JSON number via float64 (lossy)
)

// TimeMode is Debezium's time.precision.mode.
type TimeMode string

// Time precision modes.
const (
	// TimeAdaptive: TIME, TIMESTAMP and DATETIME of precision 0-3 in
	// milliseconds (io.debezium.time.Time, Timestamp), 4-6 in microseconds
	// (MicroTime, MicroTimestamp). Debezium's PostgreSQL default.
	TimeAdaptive TimeMode = "adaptive"
	// TimeAdaptiveMicros is TimeAdaptive with every TIME in microseconds
	// (MicroTime). Debezium's MySQL/MariaDB default.
	TimeAdaptiveMicros TimeMode = "adaptive_time_microseconds"
	// TimeConnect: Kafka Connect's own logical types, in milliseconds
	// (org.apache.kafka.connect.data.Date, Time, Timestamp).
	TimeConnect TimeMode = "connect"
)

// IntervalMode is Debezium's interval.handling.mode.
type IntervalMode string

// Interval handling modes.
const (
	IntervalNumeric IntervalMode = "numeric" // microseconds, a month as 365.25/12 days (MicroDuration; Debezium's default)
	// IntervalString is Debezium's ISO-8601 string "P1Y2M3DT4H5M6.78S",
	// its seconds computed in floating point ("1.234999999" for 1.235).
	IntervalString IntervalMode = "string"
	// IntervalExact is the same form with the exact seconds (profile
	// lossless).
	IntervalExact IntervalMode = "exact"
)

// BinaryMode is Debezium's binary.handling.mode.
type BinaryMode string

// Binary handling modes.
const (
	BinaryBytes     BinaryMode = "bytes"  // base64, as Kafka Connect's JsonConverter writes BYTES (default)
	BinaryBase64    BinaryMode = "base64" // base64 string
	BinaryBase64URL BinaryMode = "base64-url-safe"
	BinaryHex       BinaryMode = "hex"
)

// BigintMode is Debezium's bigint.unsigned.handling.mode (MySQL).
type BigintMode string

// BIGINT UNSIGNED handling modes.
const (
	BigintLong    BigintMode = "long"    // int64: values above 2^63-1 wrap to negative numbers (Debezium's default)
	BigintPrecise BigintMode = "precise" // Decimal with scale 0 (exact)
)

// HstoreMode is Debezium's hstore.handling.mode (PostgreSQL).
type HstoreMode string

// hstore handling modes.
const (
	HstoreJSON HstoreMode = "json" // the pairs as a JSON object in a string (io.debezium.data.Json; default)
	HstoreMap  HstoreMode = "map"  // a JSON object (a Connect map of strings)
)

// MultidimMode says what the rows of a multi-dimensional array become.
type MultidimMode string

// Multi-dimensional array handling modes.
const (
	// MultidimNull writes each row of a multi-dimensional array as null
	// ({{1,2},{3,4}} is [null,null]), as Debezium does (default).
	MultidimNull MultidimMode = "null"
	// MultidimNested writes nested JSON arrays ([[1,2],[3,4]]) with an
	// array-of-arrays schema (profile lossless).
	MultidimNested MultidimMode = "nested"
)

// ToastMode says what an unchanged TOASTed column becomes.
type ToastMode string

// TOAST handling modes.
const (
	// ToastPlaceholder writes Placeholder in its place, typed per column
	// as Debezium's unavailable.value.placeholder does (default).
	ToastPlaceholder ToastMode = "placeholder"
	// ToastOmit leaves the column out of "after"; its name is listed in
	// the event's unchanged-columns header (profile lossless).
	ToastOmit ToastMode = "omit"
)

// DefaultPlaceholder is Debezium's unavailable.value.placeholder.
const DefaultPlaceholder = "__debezium_unavailable_value"

// Connector names for Options.Connector (Debezium's source.connector).
const (
	ConnectorPostgres = "postgresql"
	ConnectorMySQL    = "mysql"
	ConnectorMariaDB  = "mariadb"
)

// Version is written into source.version.
const Version = "sluice-0.1.0"

// Options configure an Encoder. The zero value of each mode field means
// the profile's default.
type Options struct {
	// Name is the logical server name (Debezium's topic.prefix), written
	// into source.name and used in schema names.
	Name string `yaml:"-"`
	// Connector is source.connector: "postgresql", "mysql" or "mariadb".
	Connector string `yaml:"-"`
	// DB is the database name, written into source.db of events that
	// belong to no table (logical messages).
	DB string `yaml:"-"`

	// Profile is "debezium" (default: Debezium's defaults) or "lossless"
	// (sluice's lossless defaults, see ProfileLossless).
	Profile Profile `yaml:"profile"`
	// Schemas wraps key and value in Kafka Connect's {"schema","payload"}
	// form. Default false. Debezium: the converters'
	// key.converter.schemas.enable and value.converter.schemas.enable
	// (Debezium Server: debezium.format.key|value.schemas.enable).
	Schemas bool `yaml:"schemas"`
	// Typed makes payloads follow their Connect schema where a schema-less
	// payload may say more (nested multi-dimensional arrays), without
	// the {"schema","payload"} wrapper: set by sinks that write a
	// schema-bound format (Avro) from the JSON.
	Typed bool `yaml:"-"`
	// Decimal: precise (default), string or double. Debezium:
	// decimal.handling.mode.
	Decimal DecimalMode `yaml:"decimal_handling_mode"`
	// Time: adaptive (PostgreSQL default), adaptive_time_microseconds
	// (MySQL default) or connect. Debezium: time.precision.mode.
	Time TimeMode `yaml:"time_precision_mode"`
	// Interval: numeric (default), string or exact. Debezium:
	// interval.handling.mode.
	Interval IntervalMode `yaml:"interval_handling_mode"`
	// Binary: bytes (default), base64, base64-url-safe or hex. Debezium:
	// binary.handling.mode.
	Binary BinaryMode `yaml:"binary_handling_mode"`
	// BigintUnsigned: long (default) or precise. Debezium:
	// bigint.unsigned.handling.mode.
	BigintUnsigned BigintMode `yaml:"bigint_unsigned_handling_mode"`
	// Hstore: json (default) or map. Debezium: hstore.handling.mode.
	Hstore HstoreMode `yaml:"hstore_handling_mode"`
	// MultidimArrays: null (default, Debezium's) or nested. sluice's own
	// (Debezium 3.6.1 drops the values).
	MultidimArrays MultidimMode `yaml:"multidimensional_array_handling_mode"`
	// Toast: placeholder (default) or omit. sluice's own (Debezium always
	// writes the placeholder).
	Toast ToastMode `yaml:"toast_handling_mode"`
	// Placeholder is the unchanged-TOAST placeholder. Default
	// __debezium_unavailable_value. Debezium:
	// unavailable.value.placeholder.
	Placeholder string `yaml:"unavailable_value_placeholder"`
	// TransactionMetadata fills the envelope's transaction block (null
	// otherwise) and has sinks write BEGIN and END records to the
	// transaction topic. Default false. Debezium:
	// provide.transaction.metadata.
	TransactionMetadata bool `yaml:"provide_transaction_metadata"`
	// SkippedOperations are the operations not written at all: a
	// comma-separated list of c, u, d, t (truncate), or "none". Default
	// "t". Debezium: skipped.operations.
	SkippedOperations string `yaml:"skipped_operations"`

	// Clock supplies the envelope's ts_ms/ts_us/ts_ns (processing time);
	// time.Now when nil. Tests fix it to get stable bytes.
	Clock func() time.Time `yaml:"-"`

	skip [256]bool // the parsed SkippedOperations, by op byte
}

// withDefaults fills unset modes from the profile and checks the set ones.
// Each error names its key.
func (o Options) withDefaults() (Options, error) {
	switch o.Profile {
	case "", ProfileDebezium:
		o.Profile = ProfileDebezium
		def(&o.Decimal, DecimalPrecise)
		def(&o.Interval, IntervalNumeric)
		def(&o.Toast, ToastPlaceholder)
		def(&o.MultidimArrays, MultidimNull)
	case ProfileLossless:
		def(&o.Decimal, DecimalString)
		def(&o.Interval, IntervalExact)
		def(&o.Toast, ToastOmit)
		def(&o.MultidimArrays, MultidimNested)
	default:
		return o, fmt.Errorf("profile: %q is not one of debezium, lossless", o.Profile)
	}
	if o.Time == "" {
		o.Time = TimeAdaptive
		if o.mysqlFamily() {
			o.Time = TimeAdaptiveMicros
		}
	}
	def(&o.Binary, BinaryBytes)
	def(&o.BigintUnsigned, BigintLong)
	def(&o.Hstore, HstoreJSON)
	def(&o.Placeholder, DefaultPlaceholder)
	def(&o.SkippedOperations, "t")
	check := func(key, got string, allowed ...string) error {
		for _, a := range allowed {
			if got == a {
				return nil
			}
		}
		return fmt.Errorf("%s: %q is not one of %s", key, got, strings.Join(allowed, ", "))
	}
	for _, err := range []error{
		check("decimal_handling_mode", string(o.Decimal), "precise", "string", "double"),
		check("time_precision_mode", string(o.Time), "adaptive", "adaptive_time_microseconds", "connect"),
		check("interval_handling_mode", string(o.Interval), "numeric", "string", "exact"),
		check("binary_handling_mode", string(o.Binary), "bytes", "base64", "base64-url-safe", "hex"),
		check("bigint_unsigned_handling_mode", string(o.BigintUnsigned), "long", "precise"),
		check("hstore_handling_mode", string(o.Hstore), "json", "map"),
		check("toast_handling_mode", string(o.Toast), "placeholder", "omit"),
		check("multidimensional_array_handling_mode", string(o.MultidimArrays), "null", "nested"),
	} {
		if err != nil {
			return o, err
		}
	}
	o.skip = [256]bool{}
	if s := strings.TrimSpace(o.SkippedOperations); s != "none" {
		for _, op := range strings.Split(s, ",") {
			switch op = strings.TrimSpace(op); op {
			case "c", "u", "d", "t":
				o.skip[op[0]] = true
			default:
				return o, fmt.Errorf("skipped_operations: %q is not a comma-separated list of c, u, d, t, or none", o.SkippedOperations)
			}
		}
	}
	return o, nil
}

func def[T ~string](p *T, v T) {
	if *p == "" {
		*p = v
	}
}

// mysqlFamily reports whether the connector is MySQL's or MariaDB's.
func (o *Options) mysqlFamily() bool {
	return o.Connector == ConnectorMySQL || o.Connector == ConnectorMariaDB
}
