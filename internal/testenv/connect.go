package testenv

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// ValidateConnect checks a record key or value in Kafka Connect's JSON
// form, {"schema":…,"payload":…}, against its own schema, walking both
// together as JsonConverter does when it reads the record: every field of
// a struct schema is in the payload or may be null (optional, or with a
// default), no payload member lacks a field in the schema (a consumer
// reading with the schema would drop it), every value has its schema's
// type (integers in their type's range, bytes as base64, floats as
// numbers or "NaN"/"Infinity"/"-Infinity"), and every element of an
// array has the items' type. The error names the first problem's path.
func ValidateConnect(b []byte) error {
	doc, err := ParseJSON(b)
	if err != nil {
		return err
	}
	if doc.Kind != '{' || len(doc.Keys) != 2 || doc.Keys[0] != "schema" || doc.Keys[1] != "payload" {
		return errors.New(`not {"schema":…,"payload":…}`)
	}
	return validate("payload", doc.Vals[0], doc.Vals[1])
}

func validate(path string, schema, v *JSONNode) error {
	if schema == nil || schema.Kind != '{' {
		return fmt.Errorf("%s: schema is not an object", path)
	}
	typ := schema.Get("type").Str()
	if v == nil || v.Kind == 'n' {
		if o := schema.Get("optional"); o != nil && o.Kind == 't' || schema.Get("default") != nil {
			return nil
		}
		return fmt.Errorf("%s: null for a required %s%s", path, typ, named(schema))
	}
	bad := func() error {
		return fmt.Errorf("%s: %s is not a %s%s", path, clip(v.String(), 80), typ, named(schema))
	}
	switch typ {
	case "struct":
		if v.Kind != '{' {
			return bad()
		}
		fields := schema.Get("fields")
		if fields == nil || fields.Kind != '[' {
			return fmt.Errorf("%s: struct schema without fields", path)
		}
		known := map[string]bool{}
		for _, f := range fields.Vals {
			name := f.Get("field").Str()
			known[name] = true
			if err := validate(path+"."+name, f, v.Get(name)); err != nil {
				return err
			}
		}
		for _, k := range v.Keys {
			if !known[k] {
				return fmt.Errorf("%s.%s: in the payload but not in the schema%s", path, k, named(schema))
			}
		}
	case "array":
		if v.Kind != '[' {
			return bad()
		}
		for i, e := range v.Vals {
			if err := validate(fmt.Sprintf("%s[%d]", path, i), schema.Get("items"), e); err != nil {
				return err
			}
		}
	case "map":
		switch v.Kind {
		case '{':
			for i, k := range v.Keys {
				if err := validate(path+"["+k+"]", schema.Get("values"), v.Vals[i]); err != nil {
					return err
				}
			}
		case '[':
			for i, e := range v.Vals {
				if e.Kind != '[' || len(e.Vals) != 2 {
					return fmt.Errorf("%s[%d]: a map entry is not [key,value]", path, i)
				}
				if err := validate(fmt.Sprintf("%s[%d].key", path, i), schema.Get("keys"), e.Vals[0]); err != nil {
					return err
				}
				if err := validate(fmt.Sprintf("%s[%d].value", path, i), schema.Get("values"), e.Vals[1]); err != nil {
					return err
				}
			}
		default:
			return bad()
		}
	case "int8", "int16", "int32", "int64":
		if v.Kind != '0' || strings.ContainsAny(string(v.Raw), ".eE") {
			return bad()
		}
		n, ok := new(big.Int).SetString(string(v.Raw), 10)
		bits := map[string]uint{"int8": 8, "int16": 16, "int32": 32, "int64": 64}[typ]
		lim := new(big.Int).Lsh(big.NewInt(1), bits-1)
		if !ok || n.Cmp(lim) >= 0 || n.Cmp(new(big.Int).Neg(lim)) < 0 {
			return fmt.Errorf("%s: %s is out of the range of %s%s", path, v.Raw, typ, named(schema))
		}
	case "float", "double":
		if v.Kind == '"' {
			switch v.Str() {
			case "NaN", "Infinity", "-Infinity":
				return nil
			}
		}
		if v.Kind != '0' {
			return bad()
		}
	case "boolean":
		if v.Kind != 't' && v.Kind != 'f' {
			return bad()
		}
	case "string":
		if v.Kind != '"' {
			return bad()
		}
	case "bytes":
		if v.Kind != '"' {
			return bad()
		}
		if _, err := base64.StdEncoding.DecodeString(v.Str()); err != nil {
			return fmt.Errorf("%s: %s is not base64 bytes%s", path, clip(v.String(), 80), named(schema))
		}
	default:
		return fmt.Errorf("%s: unknown schema type %q", path, typ)
	}
	return nil
}

func named(schema *JSONNode) string {
	if n := schema.Get("name").Str(); n != "" {
		return " (" + n + ")"
	}
	return ""
}
