package gguf

import (
	"fmt"
	"math"
)

// Value is a typed metadata value. V holds the Go value of the matching type:
// uint8, int8, uint16, int16, uint32, int32, float32, bool, string, uint64,
// int64, float64, or for an array (Type == TypeArray) a slice of the element
// type ([]uint32, []string, ...), or []Value for an array of arrays.
type Value struct {
	Type ValueType
	Elem ValueType // element type of an array
	V    any
}

// KV is one metadata entry.
type KV struct {
	Key   string
	Value Value
}

// Constructors for the value types the exporter writes.
func Uint32(v uint32) Value   { return Value{Type: TypeUint32, V: v} }
func Int32(v int32) Value     { return Value{Type: TypeInt32, V: v} }
func Uint64(v uint64) Value   { return Value{Type: TypeUint64, V: v} }
func Float32(v float32) Value { return Value{Type: TypeFloat32, V: v} }
func Bool(v bool) Value       { return Value{Type: TypeBool, V: v} }
func String(v string) Value   { return Value{Type: TypeString, V: v} }

// Strings is an array of strings.
func Strings(v []string) Value { return Value{Type: TypeArray, Elem: TypeString, V: v} }

// Int32s is an array of int32.
func Int32s(v []int32) Value { return Value{Type: TypeArray, Elem: TypeInt32, V: v} }

// Bools is an array of bools.
func Bools(v []bool) Value { return Value{Type: TypeArray, Elem: TypeBool, V: v} }

// Int returns an integer value of any integer type (and whether it is one that fits int64).
func (v Value) Int() (int64, bool) {
	switch x := v.V.(type) {
	case uint8:
		return int64(x), true
	case int8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case int16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case int32:
		return int64(x), true
	case uint64:
		if x > math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	case int64:
		return x, true
	}
	return 0, false
}

// Float returns a float32 or float64 value as float64.
func (v Value) Float() (float64, bool) {
	switch x := v.V.(type) {
	case float32:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// Str returns a string value.
func (v Value) Str() (string, bool) { s, ok := v.V.(string); return s, ok }

// BoolValue returns a bool value.
func (v Value) BoolValue() (bool, bool) { b, ok := v.V.(bool); return b, ok }

// Ints returns an array of any integer element type as []int64.
func (v Value) Ints() ([]int64, bool) {
	if v.Type != TypeArray {
		return nil, false
	}
	var out []int64
	conv := func(n int, at func(i int) int64) []int64 {
		out = make([]int64, n)
		for i := range out {
			out[i] = at(i)
		}
		return out
	}
	switch a := v.V.(type) {
	case []uint8:
		return conv(len(a), func(i int) int64 { return int64(a[i]) }), true
	case []int8:
		return conv(len(a), func(i int) int64 { return int64(a[i]) }), true
	case []uint16:
		return conv(len(a), func(i int) int64 { return int64(a[i]) }), true
	case []int16:
		return conv(len(a), func(i int) int64 { return int64(a[i]) }), true
	case []uint32:
		return conv(len(a), func(i int) int64 { return int64(a[i]) }), true
	case []int32:
		return conv(len(a), func(i int) int64 { return int64(a[i]) }), true
	case []int64:
		return append([]int64(nil), a...), true
	case []uint64:
		for _, x := range a {
			if x > math.MaxInt64 {
				return nil, false
			}
		}
		return conv(len(a), func(i int) int64 { return int64(a[i]) }), true
	}
	return nil, false
}

// StringsValue returns an array of strings.
func (v Value) StringsValue() ([]string, bool) { s, ok := v.V.([]string); return s, ok }

// BoolsValue returns an array of bools.
func (v Value) BoolsValue() ([]bool, bool) { b, ok := v.V.([]bool); return b, ok }

// Len returns the number of elements of an array (0 otherwise).
func (v Value) Len() int {
	switch a := v.V.(type) {
	case []uint8:
		return len(a)
	case []int8:
		return len(a)
	case []uint16:
		return len(a)
	case []int16:
		return len(a)
	case []uint32:
		return len(a)
	case []int32:
		return len(a)
	case []float32:
		return len(a)
	case []bool:
		return len(a)
	case []string:
		return len(a)
	case []uint64:
		return len(a)
	case []int64:
		return len(a)
	case []float64:
		return len(a)
	case []Value:
		return len(a)
	}
	return 0
}

// TypeName describes the value's type, e.g. "uint32" or "array[string]".
func (v Value) TypeName() string {
	if v.Type == TypeArray {
		return fmt.Sprintf("array[%v]", v.Elem)
	}
	return v.Type.String()
}
