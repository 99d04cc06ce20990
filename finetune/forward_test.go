package finetune

import (
	"math"
	"testing"

	"github.com/retrofit-llm/retrofit/engine"
	"github.com/retrofit-llm/retrofit/internal/testutil"
	"github.com/retrofit-llm/retrofit/loaders"
	_ "github.com/retrofit-llm/retrofit/loaders/safetensors"
	"github.com/retrofit-llm/retrofit/model"
)

// TestForwardMatchesEngine checks the training forward's per-token NLL
// against the inference engine on the micro fixtures, under several layouts
// (the layouts are applied to the stock weights; layers that stop storing
// K/V just ignore their projections in the engine, so they are dropped here).
func TestForwardMatchesEngine(t *testing.T) {
	for _, name := range []string{"qwen3-micro", "qwen2-micro"} {
		path := testutil.Fixture(t, name)
		for lname, mk := range map[string]func(n int) model.Layout{
			"default": model.DefaultLayout,
			"cla": func(n int) model.Layout {
				l := model.DefaultLayout(n)
				for i := 1; i < n; i += 2 {
					l.KVSource[i] = i - 1
				}
				return l
			},
			"depth": func(n int) model.Layout {
				l := model.DefaultLayout(n)
				l.DepthStride = n / 2
				for i := 1; i < n; i++ {
					l.DepthMix[i] = true
				}
				return l
			},
			"looped": func(n int) model.Layout {
				l := model.DefaultLayout(n)
				for i := range l.LayerMap {
					l.LayerMap[i] = i % 2
				}
				return l
			},
		} {
			t.Run(name+"/"+lname, func(t *testing.T) {
				m, err := loaders.Load(path)
				if err != nil {
					t.Fatal(err)
				}
				m.Layout = mk(m.Config.Layers)
				want := model.ExpectedShapes(m.Config, m.Layout)
				var keep []*model.Tensor
				for _, tt := range m.Tensors {
					if _, ok := want[tt.Name]; ok {
						keep = append(keep, tt)
					}
				}
				m.Tensors = keep
				e, err := engine.New(m)
				if err != nil {
					t.Fatal(err)
				}
				n, err := NewNet(m)
				if err != nil {
					t.Fatal(err)
				}
				B, T := 2, 40
				ids := make([]int, B*T)
				for i := range ids {
					ids[i] = (i*7919 + 11) % m.Config.VocabSize
				}
				tp := &Tape{}
				if err := n.Forward(tp, ids, B, T); err != nil {
					t.Fatal(err)
				}
				V := m.Config.VocabSize
				var worst float64
				for b := 0; b < B; b++ {
					lg, err := e.Forward(ids[b*T:(b+1)*T], e.NewCache(T), nil)
					if err != nil {
						t.Fatal(err)
					}
					for i := 0; i < T-1; i++ {
						y := ids[b*T+i+1]
						a := rowNLL(tp.Logits()[(b*T+i)*V:(b*T+i+1)*V], y)
						w := rowNLL(lg[i*V:(i+1)*V], y)
						worst = max(worst, math.Abs(a-w))
					}
				}
				if worst > 2e-4 {
					t.Errorf("max |NLL − engine NLL| = %.3g", worst)
				}
				t.Logf("max |NLL − engine NLL| = %.3g", worst)
			})
		}
	}
}

func rowNLL(z []float32, y int) float64 {
	m := z[0]
	for _, v := range z {
		m = max(m, v)
	}
	var s float64
	for _, v := range z {
		s += math.Exp(float64(v - m))
	}
	return float64(m) + math.Log(s) - float64(z[y])
}
