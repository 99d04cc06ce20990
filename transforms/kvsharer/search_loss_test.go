package kvsharer

import (
	"math"
	"reflect"
	"testing"

	"github.com/retrofit-llm/retrofit/engine/reftest"
	"github.com/retrofit-llm/retrofit/transforms"
)

// TestCalibNLLLayoutRefs: search=loss's calibration NLL of the original
// layout, of CLA2 and of the KVSharer map [0 1 2 2 1 5] — that one resumed at
// layer 3 from an accepted layout's saved run — equals the mean of
// layout-refs' independent per-token NLL over the same 511 targets.
func TestCalibNLLLayoutRefs(t *testing.T) {
	m := reftest.Model(t, "qwen3-micro")
	ids := reftest.Load(t, "qwen3-micro").I32["ids_docs_val"][:512]
	refs := reftest.LoadArrays(t, "layout-refs.safetensors")
	s, err := newSearch(m, [][]int{ids})
	if err != nil {
		t.Fatal(err)
	}
	if s.accepted == nil {
		t.Fatal("512-token samples should resume")
	}
	if err := s.accept([]int{0, 1, 2, 3, 1, 5}, 4); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ref  string
		kv   []int
		from int
	}{
		{"original", []int{0, 1, 2, 3, 4, 5}, 0},
		{"cla2", []int{0, 0, 2, 2, 4, 4}, 0},
		{"kvshare-map", []int{0, 1, 2, 2, 1, 5}, 3},
	} {
		nll := refs["qwen3-micro/"+tc.ref+"/nll"]
		if len(nll) < 511 {
			t.Fatalf("layout-refs: qwen3-micro/%s/nll has %d values", tc.ref, len(nll))
		}
		var want float64
		for _, x := range nll[:511] {
			want += float64(x)
		}
		want /= 511
		got, err := s.calibNLL(tc.kv, tc.from)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: calibration NLL %.6f, reference %.6f", tc.ref, got, want)
		if math.Abs(got-want) > 2e-5 {
			t.Errorf("%s (kv_source %v, resumed at %d): calibration NLL %.6f, reference %.6f", tc.ref, tc.kv, tc.from, got, want)
		}
	}
}

// TestLossSearch runs search=loss for two layers on qwen3-micro and checks
// each round against a search that measures every candidate from the
// embeddings (no resume): same candidates, same choice, for a stream budget
// that keeps every layer's input, one that keeps every second layer's
// (candidates resume below their first changed layer) and one that keeps
// none.
func TestLossSearch(t *testing.T) {
	m := reftest.Model(t, "qwen3-micro")
	all := reftest.Load(t, "qwen3-micro").I32["ids_docs_val"]
	var samples [][]int
	for i := 0; i < 2; i++ {
		samples = append(samples, all[i*40:i*40+32])
	}
	perLayer := int64(2 * 32 * m.Config.Hidden * 4)
	plain, err := newSearch(m, samples)
	if err != nil {
		t.Fatal(err)
	}
	plain.accepted = nil
	wantKV, wantTried := plainLossSearch(t, plain, 2)
	for _, tc := range []struct {
		budget int64
		every  int
	}{{streamBudget, 1}, {2 * perLayer, 2}, {perLayer - 1, 6}} {
		s, err := newSearchBudget(m, samples, tc.budget)
		if err != nil {
			t.Fatal(err)
		}
		if s.every != tc.every || (s.accepted == nil) != (tc.every == 6) {
			t.Fatalf("budget %d: checkpoint step %d (resume %v), want %d", tc.budget, s.every, s.accepted != nil, tc.every)
		}
		kv, replaced, tried, err := s.lossSearch(args{target: 2}, transforms.Env{})
		if err != nil {
			t.Fatal(err)
		}
		if replaced != 2 || !reflect.DeepEqual(kv, wantKV) || tried != wantTried {
			t.Errorf("budget %d: search=loss chose %v (%d layers) after %d candidates; measured from the embeddings: %v after %d",
				tc.budget, kv, replaced, tried, wantKV, wantTried)
		}
	}
}

// plainLossSearch is search=loss written out, every candidate measured from
// the embeddings.
func plainLossSearch(t *testing.T, plain *search, rounds int) ([]int, int) {
	cur, count := []int{0, 1, 2, 3, 4, 5}, 0
	for round := 0; round < rounds; round++ {
		var best []int
		bestNLL := math.Inf(1)
		for i := 1; i < 6; i++ {
			for j := 0; j < i && cur[i] == i; j++ {
				if cur[j] != j {
					continue
				}
				cand := transforms.ResolveKV(append(append([]int(nil), cur[:i]...), append([]int{j}, cur[i+1:]...)...))
				nll, err := plain.calibNLL(cand, 0)
				if err != nil {
					t.Fatal(err)
				}
				count++
				if nll < bestNLL {
					best, bestNLL = cand, nll
				}
			}
		}
		cur = best
	}
	return cur, count
}
