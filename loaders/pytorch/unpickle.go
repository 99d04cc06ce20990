package pytorch

import (
	"bytes"
	"fmt"
	"math/big"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/types"
	"github.com/retrofit-llm/retrofit/model"
)

// storageClass is a torch storage type named in data.pkl (torch.BFloat16Storage).
type storageClass struct {
	name  string
	dtype model.DType
	ok    bool // a dtype retrofit reads
}

// storageDTypes are the torch storage classes retrofit reads.
var storageDTypes = map[string]model.DType{
	"FloatStorage":    model.F32,
	"HalfStorage":     model.F16,
	"BFloat16Storage": model.BF16,
}

// storageRef is a persistent id ('storage', class, key, location, numel).
type storageRef struct {
	class storageClass
	key   string
	numel int64
}

// tensorRef is the result of torch._utils._rebuild_tensor_v2.
type tensorRef struct {
	storage storageRef
	offset  int64 // in elements
	shape   []int
	stride  []int64
}

// maxNameBytes bounds a tensor name (HF's are under 100 bytes).
const maxNameBytes = 1024

// brief formats a value from the pickle for an error message, cut to 100
// bytes so a hostile file cannot fill the message.
func brief(v any) string {
	s := fmt.Sprint(v)
	if len(s) > 100 {
		return fmt.Sprintf("%q… (%d bytes)", s[:100], len(s))
	}
	return s
}

// callFunc adapts a Go function to a pickle callable (the REDUCE opcode).
type callFunc func(args ...any) (any, error)

func (f callFunc) Call(args ...any) (any, error) { return f(args...) }

// namedTensor is one state-dict entry.
type namedTensor struct {
	name string
	ref  *tensorRef
}

// unpickle reads data.pkl, a torch state dict, into its tensors in order.
func unpickle(data []byte) (out []namedTensor, err error) {
	if err := scanPickle(data); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("malformed pickle: %s", brief(r))
		}
	}()
	u := pickle.NewUnpickler(bytes.NewReader(data))
	u.FindClass = findClass
	u.PersistentLoad = persistentLoad
	v, err := u.Load()
	if err != nil {
		return nil, fmt.Errorf("pickle: %w", err)
	}
	add := func(k, v any) error {
		name, ok := k.(string)
		if !ok {
			return fmt.Errorf("state dict key %s is %T, want a string", brief(k), k)
		}
		if len(name) > maxNameBytes {
			return fmt.Errorf("state dict key %.60q… is %d bytes, not a tensor name", name, len(name))
		}
		ref, ok := v.(*tensorRef)
		if !ok {
			return fmt.Errorf("state dict entry %q is %T, not a tensor", name, v)
		}
		out = append(out, namedTensor{name, ref})
		return nil
	}
	switch d := v.(type) {
	case *types.OrderedDict:
		for e := d.List.Front(); e != nil; e = e.Next() {
			ent := e.Value.(*types.OrderedDictEntry)
			if err := add(ent.Key, ent.Value); err != nil {
				return nil, err
			}
		}
	case *types.Dict:
		for _, ent := range *d {
			if err := add(ent.Key, ent.Value); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("top-level object is %T, want a state dict (an OrderedDict of tensors)", v)
	}
	return out, nil
}

// findClass resolves the globals a state dict may name; anything else is refused.
func findClass(module, name string) (any, error) {
	switch module + "." + name {
	case "torch._utils._rebuild_tensor_v2":
		return callFunc(rebuildTensor), nil
	case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
		return callFunc(func(args ...any) (any, error) {
			if len(args) < 1 {
				return nil, fmt.Errorf("_rebuild_parameter: no arguments")
			}
			return args[0], nil
		}), nil
	}
	if module == "torch" && len(name) > len("Storage") && name[len(name)-len("Storage"):] == "Storage" {
		dt, ok := storageDTypes[name]
		return storageClass{name: "torch." + name, dtype: dt, ok: ok}, nil
	}
	return nil, fmt.Errorf("pickle names %s.%s, which a plain tensor state dict does not use", brief(module), brief(name))
}

// persistentLoad resolves ('storage', class, key, location, numel).
func persistentLoad(pid any) (any, error) {
	t, ok := pid.(*types.Tuple)
	if !ok || t.Len() != 5 {
		return nil, fmt.Errorf("persistent id %s is not a ('storage', type, key, location, numel) tuple", brief(pid))
	}
	if s, _ := t.Get(0).(string); s != "storage" {
		return nil, fmt.Errorf("persistent id kind %s, want 'storage'", brief(t.Get(0)))
	}
	class, ok := t.Get(1).(storageClass)
	if !ok {
		return nil, fmt.Errorf("persistent id storage type %s is not a torch storage class", brief(t.Get(1)))
	}
	key, ok := t.Get(2).(string)
	if !ok {
		return nil, fmt.Errorf("persistent id key %s is not a string", brief(t.Get(2)))
	}
	numel, ok := toInt(t.Get(4))
	if !ok || numel < 0 || numel > 1<<58 {
		return nil, fmt.Errorf("storage %s: numel %s is not a non-negative integer", brief(key), brief(t.Get(4)))
	}
	return storageRef{class: class, key: key, numel: numel}, nil
}

// rebuildTensor is _rebuild_tensor_v2(storage, storage_offset, size, stride,
// requires_grad, backward_hooks[, metadata]).
func rebuildTensor(args ...any) (any, error) {
	if len(args) < 4 {
		return nil, fmt.Errorf("_rebuild_tensor_v2: %d arguments, want at least 4", len(args))
	}
	st, ok := args[0].(storageRef)
	if !ok {
		return nil, fmt.Errorf("_rebuild_tensor_v2: storage is %T", args[0])
	}
	off, ok := toInt(args[1])
	if !ok || off < 0 {
		return nil, fmt.Errorf("_rebuild_tensor_v2: storage offset %s is not a non-negative integer", brief(args[1]))
	}
	size, err := intTuple(args[2], "size")
	if err != nil {
		return nil, err
	}
	stride, err := intTuple(args[3], "stride")
	if err != nil {
		return nil, err
	}
	if len(size) != len(stride) {
		return nil, fmt.Errorf("_rebuild_tensor_v2: size %s and stride %s differ in rank", brief(size), brief(stride))
	}
	shape := make([]int, len(size))
	elems := int64(1)
	for i, d := range size {
		if d < 0 || (d > 0 && elems > (1<<58)/d) {
			return nil, fmt.Errorf("_rebuild_tensor_v2: size %s is negative or too large", brief(size))
		}
		elems *= d
		shape[i] = int(d)
	}
	return &tensorRef{storage: st, offset: off, shape: shape, stride: stride}, nil
}

func intTuple(v any, what string) ([]int64, error) {
	t, ok := v.(*types.Tuple)
	if !ok {
		return nil, fmt.Errorf("_rebuild_tensor_v2: %s is %T, want a tuple", what, v)
	}
	out := make([]int64, t.Len())
	for i := range out {
		n, ok := toInt(t.Get(i))
		if !ok {
			return nil, fmt.Errorf("_rebuild_tensor_v2: %s[%d] = %s is not an integer", what, i, brief(t.Get(i)))
		}
		out[i] = n
	}
	return out, nil
}

func toInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int64:
		return n, true
	case *big.Int:
		if n.IsInt64() {
			return n.Int64(), true
		}
	}
	return 0, false
}
