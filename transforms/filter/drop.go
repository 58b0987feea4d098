package filter

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/lsst"
	"github.com/alertbeam/alertbeam/schemas/ztf"
)

// fieldPath is a nullable field to clear, as struct field indices from the
// alert struct down.
type fieldPath struct {
	name string
	idx  []int
}

func rootType(survey string) (reflect.Type, error) {
	switch survey {
	case schemas.ZTF:
		return reflect.TypeFor[ztf.Alert](), nil
	case schemas.LSST:
		return reflect.TypeFor[lsst.Alert](), nil
	}
	return nil, fmt.Errorf("unknown survey %q", survey)
}

// avroField finds the struct field tagged with an Avro name.
func avroField(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Tag.Get("avro") == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// resolvePath checks that a dotted Avro path names a nullable field reached
// through records only (not through arrays).
func resolvePath(root reflect.Type, path string) (fieldPath, error) {
	t := root
	var idx []int
	parts := strings.Split(path, ".")
	for i, part := range parts {
		f, ok := avroField(t, part)
		if !ok {
			return fieldPath{}, fmt.Errorf("no field %q in %s", strings.Join(parts[:i+1], "."), t.Name())
		}
		idx = append(idx, f.Index[0])
		last := i == len(parts)-1
		ft := f.Type
		if last {
			if ft.Kind() != reflect.Pointer {
				return fieldPath{}, fmt.Errorf("field %q is not nullable, so it cannot be dropped", path)
			}
			break
		}
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() != reflect.Struct {
			return fieldPath{}, fmt.Errorf("field %q is not a record, so %q cannot be reached", strings.Join(parts[:i+1], "."), path)
		}
		t = ft
	}
	return fieldPath{name: path, idx: idx}, nil
}

func dropFilter(survey string, p Params) (*Filter, error) {
	root, err := rootType(survey)
	if err != nil {
		return nil, err
	}
	var paths []fieldPath
	for _, name := range p.List("fields") {
		fp, err := resolvePath(root, name)
		if err != nil {
			return nil, err
		}
		paths = append(paths, fp)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("parameter fields lists no field")
	}
	doc := "keeps every alert without " + p["fields"]
	return NewTransform("drop", doc, func(a *Alert) (*Alert, error) {
		out := a.Clone()
		var v reflect.Value
		if out.ZTF != nil {
			v = reflect.ValueOf(out.ZTF).Elem()
		} else {
			v = reflect.ValueOf(out.LSST).Elem()
		}
		for _, fp := range paths {
			clearPath(v, fp.idx)
		}
		return out, nil
	}, survey), nil
}

// clearPath sets the nullable field at idx to null. v is a struct the
// transform owns; records behind pointers on the way are shared with the
// original alert, so each is copied before it is changed.
func clearPath(v reflect.Value, idx []int) {
	for _, i := range idx[:len(idx)-1] {
		f := v.Field(i)
		if f.Kind() == reflect.Pointer {
			if f.IsNil() {
				return // the record is absent, and so is the field
			}
			cp := reflect.New(f.Type().Elem())
			cp.Elem().Set(f.Elem())
			f.Set(cp)
			f = cp.Elem()
		}
		v = f
	}
	v.Field(idx[len(idx)-1]).SetZero()
}
