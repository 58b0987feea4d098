package framing

import (
	"encoding/json"
	"fmt"

	"github.com/hamba/avro/v2"
)

// lenientReader returns the reader schema with a zero default on every field
// that has none. Avro resolution fails when a reader field is missing from an
// older writer and has no default (ZTF 4.02 added drbversion, a plain string,
// which 3.x packets lack); alertbeam decodes such fields as their zero value
// instead, so every older packet still decodes. Types are untouched, so the
// same Go structs fit.
func lenientReader(reader avro.Schema) (avro.Schema, error) {
	raw, err := json.Marshal(reader)
	if err != nil {
		return nil, err
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	named := map[string]any{}
	addZeroDefaults(doc, "", named)
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return avro.ParseBytesWithCache(out, "", &avro.SchemaCache{})
}

// addZeroDefaults walks a schema document, recording named types so that a
// field typed by name gets the right zero value.
func addZeroDefaults(n any, ns string, named map[string]any) {
	switch t := n.(type) {
	case map[string]any:
		if space, ok := t["namespace"].(string); ok {
			ns = space
		}
		if name, ok := t["name"].(string); ok && t["type"] != nil {
			if kind, _ := t["type"].(string); kind == "record" || kind == "enum" || kind == "fixed" {
				named[name] = t
				if ns != "" {
					named[ns+"."+name] = t
				}
			}
		}
		if fields, ok := t["fields"].([]any); ok {
			for _, f := range fields {
				fm, ok := f.(map[string]any)
				if !ok {
					continue
				}
				addZeroDefaults(fm["type"], ns, named)
				if _, has := fm["default"]; !has {
					if z, ok := zeroValue(fm["type"], named); ok {
						fm["default"] = z
					}
				}
			}
			return
		}
		for k, v := range t {
			if k != "fields" {
				addZeroDefaults(v, ns, named)
			}
		}
	case []any:
		for _, v := range t {
			addZeroDefaults(v, ns, named)
		}
	}
}

func zeroValue(typ any, named map[string]any) (any, bool) {
	switch t := typ.(type) {
	case string:
		switch t {
		case "null":
			return nil, true
		case "boolean":
			return false, true
		case "int", "long", "float", "double":
			return 0, true
		case "string", "bytes":
			return "", true
		}
		if def, ok := named[t]; ok {
			return zeroValue(def, named)
		}
	case []any:
		if len(t) > 0 {
			return zeroValue(t[0], named)
		}
	case map[string]any:
		switch t["type"] {
		case "array":
			return []any{}, true
		case "map":
			return map[string]any{}, true
		case "enum":
			if syms, ok := t["symbols"].([]any); ok && len(syms) > 0 {
				return syms[0], true
			}
		case "fixed":
			if size, ok := t["size"].(float64); ok {
				return string(make([]byte, int(size))), true
			}
		case "record":
			rec := map[string]any{}
			fields, _ := t["fields"].([]any)
			for _, f := range fields {
				fm, _ := f.(map[string]any)
				if d, has := fm["default"]; has {
					rec[fm["name"].(string)] = d
					continue
				}
				z, ok := zeroValue(fm["type"], named)
				if !ok {
					return nil, false
				}
				rec[fm["name"].(string)] = z
			}
			return rec, true
		default:
			if s, ok := t["type"].(string); ok {
				return zeroValue(s, named)
			}
		}
	}
	return nil, false
}

// promotesIntoUnion reports whether resolving writer against reader turns a
// plain writer value into a reader union (LSST v11 made diaSource.psfNdata a
// plain int where v10 readers have ["null","int"]). hamba/avro's resolved
// schema then has the plain type while the Go field is a pointer, which it
// cannot decode into; such writers are decoded generically and re-encoded
// with the reader schema instead (see Codec.decodeDatum).
func promotesIntoUnion(reader, writer avro.Schema) bool {
	return promotes(reader, writer, map[string]bool{})
}

func promotes(reader, writer avro.Schema, seen map[string]bool) bool {
	reader, writer = deref(reader), deref(writer)
	if reader.Type() == avro.Union && writer.Type() != avro.Union {
		return writer.Type() != avro.Null
	}
	switch r := reader.(type) {
	case *avro.RecordSchema:
		w, ok := writer.(*avro.RecordSchema)
		if !ok {
			return false
		}
		key := fmt.Sprintf("%s|%x", r.FullName(), w.Fingerprint())
		if seen[key] {
			return false
		}
		seen[key] = true
		for _, rf := range r.Fields() {
			for _, wf := range w.Fields() {
				if wf.Name() == rf.Name() && promotes(rf.Type(), wf.Type(), seen) {
					return true
				}
			}
		}
	case *avro.ArraySchema:
		if w, ok := writer.(*avro.ArraySchema); ok {
			return promotes(r.Items(), w.Items(), seen)
		}
	case *avro.MapSchema:
		if w, ok := writer.(*avro.MapSchema); ok {
			return promotes(r.Values(), w.Values(), seen)
		}
	case *avro.UnionSchema:
		w, ok := writer.(*avro.UnionSchema)
		if !ok {
			return false
		}
		for _, wt := range w.Types() {
			for _, rt := range r.Types() {
				if sameKind(rt, wt) && promotes(rt, wt, seen) {
					return true
				}
			}
		}
	}
	return false
}

func deref(s avro.Schema) avro.Schema {
	if r, ok := s.(*avro.RefSchema); ok {
		return r.Schema()
	}
	return s
}

func sameKind(a, b avro.Schema) bool {
	a, b = deref(a), deref(b)
	if a.Type() != b.Type() {
		return false
	}
	an, aok := a.(avro.NamedSchema)
	bn, bok := b.(avro.NamedSchema)
	if aok && bok {
		return an.Name() == bn.Name()
	}
	return true
}
