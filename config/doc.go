// Package config loads the daemon's YAML file: the list of pipelines, each
// with a source, transforms and sinks. It decodes strictly (unknown keys and
// wrong types are errors that name the key and, where the YAML parser gives
// one, the line), applies SLUICE_… environment overrides, and validates
// without connecting to anything.
//
// The file is read with yaml.v3 alone, not through viper: viper lower-cases
// every key and drops empty blocks, and keys here are data — table names in
// a column list, pipeline names that become topic prefixes, a sink written
// as `stdout: {}`. What the file says is what the plugins get, case and all.
package config
