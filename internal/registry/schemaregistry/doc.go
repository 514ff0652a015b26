// Package schemaregistry is the Kafka sink's client of a Confluent-compatible
// schema registry (Confluent Schema Registry, Apicurio Registry's
// /apis/ccompat/v7, Redpanda, Karapace) for the Avro serialization.
//
// Every Avro record carries, in Confluent's wire format (AppendHeader), the
// id the registry gave its schema. Three choices shape the package:
//
//   - The hot path never calls the registry. A schema's id is fetched once
//     per subject and schema text and then served from a cache that
//     allocates nothing on a hit; a new table or a schema change costs one
//     request.
//   - The registry being down makes the pipeline wait, never drop or fail
//     events silently. ID retries with backoff while the registry is
//     unreachable or answers 5xx or 429, until its context ends; meanwhile
//     Ready reports why, so /ready turns red.
//   - A refusal that a retry cannot change is returned at once: an
//     incompatible schema (409, *IncompatibleError), an invalid schema
//     (422, ErrInvalidSchema), refused credentials (401/403,
//     ErrUnauthorized), a schema or subject the registry does not have
//     when auto_register is off (ErrNotRegistered). ID does not retry
//     these; errors.go says which a replay can never fix.
package schemaregistry
