package filter

import (
	"fmt"
	"reflect"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// lazyMap is a CEL map whose entries are worked out when an expression reads
// them: xmatch.CATALOG searches a catalog, lcfit.BAND fits a band, and
// their fields. Reading an entry that has no value (no counterpart, no fit)
// marks the alert as missing a value, as an absent field does, and
// has(m.key) is false for it.
type lazyMap struct {
	name string // how expressions spell it, for errors: "xmatch", "lcfit.r"
	// lookup returns key's value, or ok false when it has none; err is for
	// a key no alert could have (not a string, no such field).
	lookup func(key ref.Val) (v ref.Val, ok bool, err error)
	// absent says why a key can have no value, after its name in the
	// error of reading it: " (no counterpart)".
	absent string
	// id tells two maps apart for ==: equal ids, equal maps.
	id any
}

func (m *lazyMap) Get(key ref.Val) ref.Val {
	v, ok, err := m.lookup(key)
	if err != nil {
		return types.WrapErr(err)
	}
	if !ok {
		return types.WrapErr(&missingField{field: fmt.Sprintf("%s.%v%s", m.name, key, m.absent)})
	}
	return v
}

func (m *lazyMap) IsSet(key ref.Val) ref.Val {
	_, ok, err := m.lookup(key)
	if err != nil {
		return types.WrapErr(err)
	}
	return types.Bool(ok)
}

func (m *lazyMap) ConvertToNative(t reflect.Type) (any, error) {
	return nil, fmt.Errorf("%s cannot be converted to %s", m.name, t)
}

func (m *lazyMap) ConvertToType(t ref.Type) ref.Val {
	if t == types.TypeType {
		return types.MapType
	}
	return types.NewErr("type conversion error from %s to %s", m.name, t)
}

func (m *lazyMap) Equal(other ref.Val) ref.Val {
	o, ok := other.(*lazyMap)
	return types.Bool(ok && o.name == m.name && o.id == m.id)
}

func (m *lazyMap) Type() ref.Type { return types.MapType }
func (m *lazyMap) Value() any     { return m.id }
