package filter

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"time"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"
	"github.com/hamba/avro/v2"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// This file exposes the generated alert structs to CEL without converting
// them: each Avro record becomes a CEL message type whose name is the
// record's Avro full name (ztf.alert.candidate, lsst.v10_0.diaSource), whose
// fields and their CEL types come from the Avro schema, and whose values are
// read from the Go struct on demand, one field at a time. An expression
// that reads three fields of a 100-field candidate touches three fields.
//
// Value mapping: int and long → int; float and double → double; string →
// string; boolean → bool; bytes → bytes; timestamp-micros → timestamp;
// record → message; array → list. A float (float32) field reads as the
// double nearest its shortest decimal form, the value a packet prints as,
// so "candidate.magdiff <= 0.1" holds for a magdiff printed as 0.1 exactly
// as the Go built-ins' float32 comparisons do.
//
// Absent values: a null field, and in ZTF records a numeric field equal to
// -999 or an ssnamenr equal to "null", is absent. has(x.f) is false for an
// absent field; reading one is an error that marks the alert as missing a
// value (ErrMissing), which drops it. CEL's && and || absorb such errors
// when the other side decides (false && err is false, true || err is true),
// so "has(candidate.drb) && candidate.drb > 0.9" and
// "candidate.drb > 0.9 || candidate.rb > 0.9" both work without surprises.
// An absent array reads as an empty list (has() still tells it apart).

// missingField is the evaluation error of reading an absent value.
type missingField struct{ field string }

func (e *missingField) Error() string { return e.field + " is null" }

// Is makes errors.Is(err, ErrMissing) hold through CEL's error wrapping.
func (e *missingField) Is(target error) bool { return target == ErrMissing }

// recType is one Avro record exposed as a CEL message type.
type recType struct {
	name    string
	goType  reflect.Type
	celType *types.Type
	fields  map[string]*celField
	order   []string
}

// celField reads one field of a record.
type celField struct {
	name    string
	owner   *recType
	index   int
	celType *types.Type
	isList  bool
	// get converts the Go field value; ok is false when it is absent.
	get func(f reflect.Value) (v ref.Val, ok bool)
	ft  *types.FieldType
}

// celSchema is every record type of one survey's schema.
type celSchema struct {
	survey string
	root   *recType
	types  map[string]*recType
	base   *types.Registry
}

// newCELSchema derives the CEL types from an Avro reader schema and the Go
// struct type generated from it. It fails if the two disagree.
func newCELSchema(survey string, s avro.Schema, goType reflect.Type, sentinels bool) (*celSchema, error) {
	base, err := types.NewRegistry()
	if err != nil {
		return nil, err
	}
	cs := &celSchema{survey: survey, types: map[string]*recType{}, base: base}
	rs, ok := s.(*avro.RecordSchema)
	if !ok {
		return nil, fmt.Errorf("reader schema is %s, not a record", s.Type())
	}
	if cs.root, err = cs.record(rs, goType, sentinels); err != nil {
		return nil, err
	}
	return cs, nil
}

func (cs *celSchema) record(rs *avro.RecordSchema, goType reflect.Type, sentinels bool) (*recType, error) {
	if rt, ok := cs.types[rs.FullName()]; ok {
		if rt.goType != goType {
			return nil, fmt.Errorf("record %s maps to both %s and %s", rs.FullName(), rt.goType, goType)
		}
		return rt, nil
	}
	rt := &recType{name: rs.FullName(), goType: goType, celType: types.NewObjectType(rs.FullName()), fields: map[string]*celField{}}
	cs.types[rt.name] = rt
	if len(rs.Fields()) != countTagged(goType) {
		return nil, fmt.Errorf("record %s has %d fields, Go struct %s has %d", rt.name, len(rs.Fields()), goType, countTagged(goType))
	}
	for _, af := range rs.Fields() {
		sf, ok := avroField(goType, af.Name())
		if !ok {
			return nil, fmt.Errorf("no field of %s holds %s.%s", goType, rt.name, af.Name())
		}
		f := &celField{name: af.Name(), owner: rt, index: sf.Index[0]}
		t, nullable := unwrapNull(af.Type())
		gt := sf.Type
		if nullable {
			if gt.Kind() != reflect.Pointer {
				return nil, fmt.Errorf("%s.%s is nullable but %s.%s is not a pointer", rt.name, af.Name(), goType, sf.Name)
			}
			gt = gt.Elem()
		}
		sentinel := sentinels && af.Name() == "ssnamenr"
		conv, ct, isList, err := cs.converter(t, gt, sentinels, sentinel)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", rt.name, af.Name(), err)
		}
		f.celType, f.isList = ct, isList
		if nullable {
			f.get = func(v reflect.Value) (ref.Val, bool) {
				if v.IsNil() {
					return nil, false
				}
				return conv(v.Elem())
			}
		} else {
			f.get = conv
		}
		f.ft = &types.FieldType{Type: ct, IsSet: f.isSet, GetFrom: f.getFrom}
		rt.fields[f.name] = f
		rt.order = append(rt.order, f.name)
	}
	return rt, nil
}

func countTagged(t reflect.Type) int {
	n := 0
	for i := range t.NumField() {
		if t.Field(i).Tag.Get("avro") != "" {
			n++
		}
	}
	return n
}

// unwrapNull turns ["null", T] or [T, "null"] into T, nullable.
func unwrapNull(s avro.Schema) (avro.Schema, bool) {
	u, ok := s.(*avro.UnionSchema)
	if !ok || !u.Nullable() || len(u.Types()) != 2 {
		return deref(s), false
	}
	_, typ := u.Indices()
	return deref(u.Types()[typ]), true
}

func deref(s avro.Schema) avro.Schema {
	if r, ok := s.(*avro.RefSchema); ok {
		return r.Schema()
	}
	return s
}

type converter func(reflect.Value) (ref.Val, bool)

// converter returns how to read a Go value of Avro type s as a CEL value.
// sentinels enables ZTF's -999 numbers as absent; nullName ZTF's "null"
// string.
func (cs *celSchema) converter(s avro.Schema, gt reflect.Type, sentinels, nullName bool) (converter, *types.Type, bool, error) {
	mismatch := func() (converter, *types.Type, bool, error) {
		return nil, nil, false, fmt.Errorf("the Avro type %s does not match the Go type %s", s.Type(), gt)
	}
	switch s.Type() {
	case avro.Int, avro.Long:
		if p, ok := s.(*avro.PrimitiveSchema); ok && p.Logical() != nil {
			lt := p.Logical().Type()
			if (lt == avro.TimestampMicros || lt == avro.TimestampMillis) && gt == reflect.TypeFor[time.Time]() {
				return func(v reflect.Value) (ref.Val, bool) {
					return types.Timestamp{Time: v.Interface().(time.Time)}, true
				}, types.TimestampType, false, nil
			}
		}
		switch gt.Kind() {
		case reflect.Int, reflect.Int32, reflect.Int64:
		default:
			return mismatch()
		}
		return func(v reflect.Value) (ref.Val, bool) {
			i := v.Int()
			if sentinels && i == Sentinel {
				return nil, false
			}
			return types.Int(i), true
		}, types.IntType, false, nil
	case avro.Float, avro.Double:
		// A float reads as the shortest decimal it prints as, not as its
		// binary expansion.
		kind, double := reflect.Float64, func(x float64) float64 { return x }
		if s.Type() == avro.Float {
			kind, double = reflect.Float32, shortest32
		}
		if gt.Kind() != kind {
			return mismatch()
		}
		return func(v reflect.Value) (ref.Val, bool) {
			x := v.Float()
			if sentinels && x == Sentinel {
				return nil, false
			}
			return types.Double(double(x)), true
		}, types.DoubleType, false, nil
	case avro.String:
		if gt.Kind() != reflect.String {
			return mismatch()
		}
		return func(v reflect.Value) (ref.Val, bool) {
			s := v.String()
			if nullName && s == NullName {
				return nil, false
			}
			return types.String(s), true
		}, types.StringType, false, nil
	case avro.Boolean:
		if gt.Kind() != reflect.Bool {
			return mismatch()
		}
		return func(v reflect.Value) (ref.Val, bool) { return types.Bool(v.Bool()), true }, types.BoolType, false, nil
	case avro.Bytes:
		if gt != reflect.TypeFor[[]byte]() {
			return mismatch()
		}
		return func(v reflect.Value) (ref.Val, bool) { return types.Bytes(v.Bytes()), true }, types.BytesType, false, nil
	case avro.Record:
		if gt.Kind() != reflect.Struct {
			return mismatch()
		}
		rt, err := cs.record(s.(*avro.RecordSchema), gt, sentinels)
		if err != nil {
			return nil, nil, false, err
		}
		return func(v reflect.Value) (ref.Val, bool) { return &object{t: rt, p: v.Addr()}, true }, rt.celType, false, nil
	case avro.Array:
		items, _ := unwrapNull(s.(*avro.ArraySchema).Items())
		if gt.Kind() != reflect.Slice {
			return mismatch()
		}
		conv, ct, _, err := cs.converter(items, gt.Elem(), sentinels, false)
		if err != nil {
			return nil, nil, false, err
		}
		return func(v reflect.Value) (ref.Val, bool) {
			vals := make([]ref.Val, v.Len())
			for i := range vals {
				x, ok := conv(v.Index(i))
				if !ok {
					x = types.NullValue
				}
				vals[i] = x
			}
			return types.NewRefValList(cs, vals), true
		}, types.NewListType(ct), true, nil
	}
	return nil, nil, false, fmt.Errorf("the Avro type %s is not exposed to expressions", s.Type())
}

// shortest32 is the double nearest to the shortest decimal that reads back
// as the float32 x.
func shortest32(x float64) float64 {
	var buf [32]byte
	f, err := strconv.ParseFloat(string(strconv.AppendFloat(buf[:0], x, 'g', -1, 32)), 64)
	if err != nil {
		return x // NaN and infinities round-trip as they are
	}
	return f
}

// structOf turns what GetFrom receives (a pointer to a record struct, nil
// for an absent record) into the struct.
func (f *celField) structOf(obj any) (reflect.Value, bool) {
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Type().Elem() != f.owner.goType {
		return reflect.Value{}, false
	}
	return v.Elem(), true
}

func (f *celField) isSet(obj any) bool {
	sv, ok := f.structOf(obj)
	if !ok {
		return false
	}
	_, ok = f.get(sv.Field(f.index))
	return ok
}

func (f *celField) getFrom(obj any) (any, error) {
	sv, ok := f.structOf(obj)
	if !ok {
		if reflect.ValueOf(obj).Kind() == reflect.Pointer {
			return nil, &missingField{field: f.owner.name + " (the record holding " + f.name + ")"}
		}
		return nil, fmt.Errorf("%s.%s read from a %T", f.owner.name, f.name, obj)
	}
	return f.read(sv)
}

func (f *celField) read(sv reflect.Value) (ref.Val, error) {
	v, ok := f.get(sv.Field(f.index))
	if !ok {
		if f.isList {
			return types.NewRefValList(types.DefaultTypeAdapter, nil), nil
		}
		return nil, &missingField{field: f.owner.name + "." + f.name}
	}
	return v, nil
}

// object is a record value: a pointer to its Go struct, nil when the
// record is absent.
type object struct {
	t *recType
	p reflect.Value
}

func (o *object) ConvertToNative(typeDesc reflect.Type) (any, error) {
	if o.p.Type().AssignableTo(typeDesc) {
		return o.p.Interface(), nil
	}
	return nil, fmt.Errorf("cannot convert %s to %s", o.t.name, typeDesc)
}

func (o *object) ConvertToType(typeVal ref.Type) ref.Val {
	if typeVal == types.TypeType {
		return o.t.celType
	}
	return types.NewErr("type conversion error from %s to %s", o.t.name, typeVal)
}

func (o *object) Equal(other ref.Val) ref.Val {
	p, ok := other.(*object)
	if !ok || p.t != o.t {
		return types.False
	}
	return types.Bool(reflect.DeepEqual(o.p.Interface(), p.p.Interface()))
}

func (o *object) Type() ref.Type { return o.t.celType }

func (o *object) Value() any { return o.p.Interface() }

// Get and IsSet serve dynamic access (a record reached through dyn).
func (o *object) Get(index ref.Val) ref.Val {
	f, err := o.field(index)
	if err != nil {
		return types.WrapErr(err)
	}
	if o.p.IsNil() {
		return types.WrapErr(&missingField{field: o.t.name})
	}
	v, err := f.read(o.p.Elem())
	if err != nil {
		return types.WrapErr(err)
	}
	return v
}

func (o *object) IsSet(field ref.Val) ref.Val {
	f, err := o.field(field)
	if err != nil {
		return types.WrapErr(err)
	}
	return types.Bool(f.isSet(o.p.Interface()))
}

func (o *object) field(index ref.Val) (*celField, error) {
	name, ok := index.(types.String)
	if !ok {
		return nil, fmt.Errorf("%s has no field %v", o.t.name, index)
	}
	f, ok := o.t.fields[string(name)]
	if !ok {
		return nil, fmt.Errorf("%s has no field %q", o.t.name, string(name))
	}
	return f, nil
}

// The celSchema is the environment's type provider and adapter: it knows
// the alert record types and defers everything else to CEL's registry.

func (cs *celSchema) EnumValue(name string) ref.Val { return cs.base.EnumValue(name) }

func (cs *celSchema) FindIdent(name string) (ref.Val, bool) { return cs.base.FindIdent(name) }

func (cs *celSchema) FindStructType(name string) (*types.Type, bool) {
	if rt, ok := cs.types[name]; ok {
		return types.NewTypeTypeWithParam(rt.celType), true
	}
	return cs.base.FindStructType(name)
}

func (cs *celSchema) FindStructFieldNames(name string) ([]string, bool) {
	if rt, ok := cs.types[name]; ok {
		return append([]string(nil), rt.order...), true
	}
	return cs.base.FindStructFieldNames(name)
}

func (cs *celSchema) FindStructFieldType(name, field string) (*types.FieldType, bool) {
	if rt, ok := cs.types[name]; ok {
		f, ok := rt.fields[field]
		if !ok {
			return nil, false
		}
		return f.ft, true
	}
	return cs.base.FindStructFieldType(name, field)
}

// NewValue refuses to build alert records: expressions read alerts, they
// do not make them.
func (cs *celSchema) NewValue(name string, fields map[string]ref.Val) ref.Val {
	if _, ok := cs.types[name]; ok {
		return types.NewErr("expressions cannot construct %s values", name)
	}
	return cs.base.NewValue(name, fields)
}

// RegisterDescriptor and RegisterType let CEL libraries (optional types,
// extensions) register their own types with the underlying registry.
func (cs *celSchema) RegisterDescriptor(fd protoreflect.FileDescriptor) error {
	return cs.base.RegisterDescriptor(fd)
}

func (cs *celSchema) RegisterType(ts ...ref.Type) error { return cs.base.RegisterType(ts...) }

func (cs *celSchema) NativeToValue(value any) ref.Val {
	if v, ok := value.(ref.Val); ok {
		return v
	}
	return cs.base.NativeToValue(value)
}

// activation resolves the expression's variables from one alert, lazily.
type activation struct {
	cs    *celSchema
	root  reflect.Value // pointer to the alert struct
	alert *Alert
}

func (a *activation) ResolveName(name string) (any, bool) {
	if name == rootVar {
		return &object{t: a.cs.root, p: a.root}, true
	}
	if name == xmatchVar {
		return xmatchMap(a.alert), true
	}
	if name == lcfitVar {
		return lcfitMap(a.alert), true
	}
	f, ok := a.cs.root.fields[name]
	if !ok {
		return nil, false
	}
	v, err := f.read(a.root.Elem())
	if err != nil {
		var m *missingField
		if errors.As(err, &m) && f.celType.Kind() == types.StructKind {
			// An absent record variable: has() on its fields is false,
			// reading them is missing.
			return &object{t: a.cs.types[f.celType.TypeName()], p: reflect.Zero(reflect.PointerTo(a.cs.types[f.celType.TypeName()].goType))}, true
		}
		return types.WrapErr(err), true
	}
	return v, true
}

func (a *activation) Parent() interpreter.Activation { return nil }
