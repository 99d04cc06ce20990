package pytorch

import "testing"

// FuzzUnpickle checks that a corrupt data.pkl gives an error, never a panic
// or a huge allocation, and that accepted tensors have consistent shapes.
const onePickle = "\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01(X\x01\x00\x00\x00actorch._utils\n_rebuild_tensor_v2\n" +
	"((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x04tQK\x00K\x02K\x02\x86K\x02K\x01\x86\x89h\x00)RtRu."

// TestUnpickleSeed checks the hand-written seed: {"a": 2x2 float tensor}.
func TestUnpickleSeed(t *testing.T) {
	refs, err := unpickle([]byte(onePickle))
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 1 || refs[0].name != "a" || len(refs[0].ref.shape) != 2 || refs[0].ref.shape[0] != 2 ||
		refs[0].ref.storage.numel != 4 || refs[0].ref.storage.class.name != "torch.FloatStorage" || refs[0].ref.stride[1] != 1 {
		t.Fatalf("got %+v", refs)
	}
}

func FuzzUnpickle(f *testing.F) {
	f.Add([]byte(onePickle))
	f.Add([]byte("\x80\x02}q\x00."))
	f.Add([]byte("\x80\x04\x95\x0b\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x01a\x94K\x01s."))
	f.Add([]byte("(lp0\nI1\naI2\na."))
	f.Fuzz(func(t *testing.T, data []byte) {
		refs, err := unpickle(data)
		if err != nil {
			return
		}
		for _, r := range refs {
			if len(r.ref.shape) != len(r.ref.stride) || r.ref.offset < 0 {
				t.Fatalf("%s: shape %v stride %v offset %d", r.name, r.ref.shape, r.ref.stride, r.ref.offset)
			}
		}
	})
}
