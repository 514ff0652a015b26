// Package config loads the daemon's YAML file: the list of pipelines, each
// with a source, transforms and sinks. It decodes strictly (unknown keys and
// wrong types are errors that name the key and, where the YAML parser gives
// one, the line), applies SLUICE_… environment overrides, and validates
// without connecting to anything.
package config
