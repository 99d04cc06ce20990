package finetune

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/retrofit-llm/retrofit/model"
)

func tinyConfig(family string, kvHeads int) model.Config {
	c := model.Config{Family: family, VocabSize: 32, Hidden: 16, Intermediate: 24, Layers: 4, Heads: 4, KVHeads: kvHeads,
		HeadDim: 4, RMSEps: 1e-6, RopeTheta: 10000, BOS: -1, EOS: 31, PAD: -1}
	if family == "qwen3" {
		c.QKNorm, c.TiedEmbeddings = true, true
	} else {
		c.AttnBias = true
	}
	return c
}

func tinyLayouts() map[string]model.Layout {
	vanilla := model.DefaultLayout(4)
	cla := model.DefaultLayout(4)
	cla.KVSource = []int{0, 0, 2, 2}
	looped := model.DefaultLayout(4)
	looped.LayerMap = []int{0, 1, 0, 1}
	depth := model.DefaultLayout(4)
	depth.DepthMix = []bool{false, true, true, true}
	depth.DepthStride = 2
	depth.DepthWindow = 1
	claDepth := cla.Clone()
	claDepth.DepthMix = []bool{false, false, true, false}
	claDepth.DepthStride = 2
	warm := depth.Clone() // mid-anneal: the own score is raised, candidates still weigh
	warm.DepthSelfBias = 1.5
	return map[string]model.Layout{"vanilla": vanilla, "cla": cla, "looped": looped, "depth": depth, "cla+depth": claDepth, "depth-warm": warm}
}

// lossAt runs forward + loss and returns the mean loss.
func lossAt(n *Net, tp *Tape, ids, targets []int, teacher []float32, w, temp float64, B, T int) float64 {
	if err := n.Forward(tp, ids, B, T); err != nil {
		panic(err)
	}
	cnt := 0
	for _, y := range targets {
		if y >= 0 {
			cnt++
		}
	}
	st := tp.Loss(targets, teacher, w, temp, 1/float32(cnt))
	return st.Value(w)
}

// TestGradients compares every parameter tensor's gradient with a central
// difference of the loss along a random unit direction of that tensor.
func TestGradients(t *testing.T) {
	type tc struct {
		name, family string
		kvHeads      int
		layout       string
		kd           bool
	}
	var cases []tc
	for _, lay := range []string{"vanilla", "cla", "looped", "depth", "cla+depth", "depth-warm"} {
		cases = append(cases, tc{"qwen3/" + lay, "qwen3", 2, lay, false}, tc{"qwen2/" + lay, "qwen2", 2, lay, false})
	}
	cases = append(cases, tc{"mlkv/qwen3", "qwen3", 1, "cla", false}, tc{"kd/qwen3/depth", "qwen3", 2, "depth", true},
		tc{"kd/qwen2/cla", "qwen2", 2, "cla", true}, tc{"kd-T1/qwen3/looped", "qwen3", 2, "looped", true})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := RandomModel(tinyConfig(c.family, c.kvHeads), tinyLayouts()[c.layout], 7)
			if err != nil {
				t.Fatal(err)
			}
			n, err := NewNet(m)
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(1, 2))
			B, T := 2, 5
			ids, targets := make([]int, B*T), make([]int, B*T)
			for i := range ids {
				ids[i] = r.IntN(32)
				targets[i] = r.IntN(32)
			}
			targets[3] = -1
			var teacher []float32
			w, temp := 0.0, 1.0
			if c.kd {
				w, temp = 0.6, 2
				if c.layout == "looped" {
					temp = 1
				}
				teacher = make([]float32, B*T*32)
				for i := range teacher {
					teacher[i] = float32(2 * r.NormFloat64())
				}
			}
			tp := &Tape{}
			n.ZeroGrad()
			lossAt(n, tp, ids, targets, teacher, w, temp, B, T)
			n.Backward(tp, ids)
			const eps = 1e-2
			for _, p := range n.Params {
				u := make([]float64, len(p.W))
				var norm float64
				for i := range u {
					u[i] = r.NormFloat64()
					norm += u[i] * u[i]
				}
				norm = math.Sqrt(norm)
				var analytic float64
				for i := range u {
					u[i] /= norm
					analytic += float64(p.G[i]) * u[i]
				}
				orig := append([]float32(nil), p.W...)
				set := func(s float64) {
					for i := range p.W {
						p.W[i] = float32(float64(orig[i]) + s*u[i])
					}
				}
				set(eps)
				lp := lossAt(n, tp, ids, targets, teacher, w, temp, B, T)
				set(-eps)
				lm := lossAt(n, tp, ids, targets, teacher, w, temp, B, T)
				copy(p.W, orig)
				numeric := (lp - lm) / (2 * eps)
				diff := math.Abs(numeric - analytic)
				if diff > 2e-3*math.Max(math.Abs(numeric), 0.05) {
					t.Errorf("%s: analytic %.6g numeric %.6g (diff %.2g)", p.Name, analytic, numeric, diff)
				}
			}
		})
	}
}
