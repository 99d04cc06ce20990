package engine

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/retrofit-llm/retrofit/model"
)

// qwen3Shaped builds a random fp32 model with Qwen3-0.6B's shapes
// (28 layers, hidden 1024, 16/8 heads of 128, MLP 3072, vocab 151936, tied).
func qwen3Shaped(b *testing.B) *model.Model {
	c := model.Config{Family: "qwen3", Architecture: "Qwen3ForCausalLM", VocabSize: 151936, Hidden: 1024,
		Intermediate: 3072, Layers: 28, Heads: 16, KVHeads: 8, HeadDim: 128, RMSEps: 1e-6, RopeTheta: 1e6,
		TiedEmbeddings: true, QKNorm: true, MaxPositions: 40960, BOS: -1, EOS: 151645, PAD: -1}
	m := &model.Model{Path: "random-qwen3-0.6b", Config: c, Layout: model.DefaultLayout(c.Layers)}
	rng := rand.New(rand.NewPCG(1, 2))
	for name, shape := range model.ExpectedShapes(c, m.Layout) {
		v := make([]float32, model.Elements(shape))
		if len(shape) == 1 {
			for i := range v {
				v[i] = 1
			}
		} else {
			for i := range v {
				v[i] = float32(rng.NormFloat64() * 0.02)
			}
		}
		m.SetTensor(model.FromFloat32(name, shape, v))
	}
	return m
}

var bigEngine *Engine

func qwen3ShapedEngine(b *testing.B) *Engine {
	if bigEngine == nil {
		e, err := New(qwen3Shaped(b))
		if err != nil {
			b.Fatal(err)
		}
		bigEngine = e
	}
	return bigEngine
}

// flopsPerToken counts the matmul FLOPs of one token at context length ctx
// (projections, MLP, attention over ctx keys; head only when withHead).
func flopsPerToken(c model.Config, l model.Layout, ctx int, withHead bool) float64 {
	qd, kvd := c.Heads*c.HeadDim, c.KVHeads*c.HeadDim
	var f float64
	for i := 0; i < c.Layers; i++ {
		w := qd + qd + 3*c.Intermediate
		if l.StoresKV(i) {
			w += 2 * kvd
		}
		f += 2*float64(w*c.Hidden) + 4*float64(qd*ctx)
	}
	if withHead {
		f += 2 * float64(c.VocabSize*c.Hidden)
	}
	return f
}

func benchIDs(n, vocab int) []int {
	rng := rand.New(rand.NewPCG(3, 4))
	ids := make([]int, n)
	for i := range ids {
		ids[i] = rng.IntN(vocab)
	}
	return ids
}

func benchPrefill(b *testing.B, e *Engine, n int) {
	ids := benchIDs(n, e.Config().VocabSize)
	cache := e.NewCache(n)
	opts := &ForwardOptions{LastOnly: true}
	b.ResetTimer()
	for range b.N {
		cache.Reset()
		if _, err := e.Forward(ids, cache, opts); err != nil {
			b.Fatal(err)
		}
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(n)/sec, "tok/s")
	b.ReportMetric(float64(n)*flopsPerToken(e.cfg, e.layout, n/2, false)/sec/1e9, "GFLOP/s")
}

// benchDecode decodes n tokens one at a time after a prefill of ctx tokens.
func benchDecode(b *testing.B, e *Engine, ctx, n int) {
	ids := benchIDs(ctx+n, e.Config().VocabSize)
	cache := e.NewCache(ctx + n)
	if err := cache.ensure(ctx + n); err != nil { // no growth inside the timed loop
		b.Fatal(err)
	}
	opts := &ForwardOptions{LastOnly: true}
	if _, err := e.Forward(ids[:ctx], cache, opts); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		cache.Truncate(ctx)
		for i := ctx; i < ctx+n; i++ {
			l, err := e.Forward(ids[i:i+1], cache, opts)
			if err != nil {
				b.Fatal(err)
			}
			opts.Logits = l
		}
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(n)/sec, "tok/s")
	b.ReportMetric(float64(n)*flopsPerToken(e.cfg, e.layout, ctx+n/2, true)/sec/1e9, "GFLOP/s")
	b.ReportMetric(float64(e.KVBytesPerToken()), "KVB/tok(fp16)")
	b.ReportMetric(float64(cache.Bytes())/1e6, "cacheMB(fp32)")
}

func BenchmarkMicroPrefill512(b *testing.B) {
	benchPrefill(b, microEngine(b, "qwen3-micro"), 512)
}

func BenchmarkMicroDecode128(b *testing.B) {
	benchDecode(b, microEngine(b, "qwen3-micro"), 1, 128)
}

func BenchmarkQwen3ShapedPrefill(b *testing.B) {
	for _, n := range []int{128, 512} {
		b.Run(fmt.Sprint(n), func(b *testing.B) { benchPrefill(b, qwen3ShapedEngine(b), n) })
	}
}

func BenchmarkQwen3ShapedDecode(b *testing.B) {
	benchDecode(b, qwen3ShapedEngine(b), 16, 32)
}

// BenchmarkLongContextDecode decodes with 2,048 tokens of cache under the
// vanilla layout, CLA2 (odd layers read the layer before) and an MLKV-like
// layout with 4 KV layers.
func BenchmarkLongContextDecode(b *testing.B) {
	base := qwen3ShapedEngine(b)
	n := base.cfg.Layers
	cla := model.DefaultLayout(n)
	for l := 1; l < n; l += 2 {
		cla.KVSource[l] = l - 1
	}
	mlkv := model.DefaultLayout(n)
	kvLayers := []int{0}
	for i := 0; i < 3; i++ {
		kvLayers = append(kvLayers, (i+1)*n/4)
	}
	for l := range mlkv.KVSource {
		for _, k := range kvLayers {
			if k <= l {
				mlkv.KVSource[l] = k
			}
		}
	}
	for _, tt := range []struct {
		name   string
		layout model.Layout
	}{{"vanilla", model.DefaultLayout(n)}, {"cla2", cla}, {"mlkv4", mlkv}} {
		b.Run(tt.name, func(b *testing.B) {
			e, err := base.WithLayout(tt.layout)
			if err != nil {
				b.Fatal(err)
			}
			benchDecode(b, e, 2048, 16)
		})
	}
}

// BenchmarkMicroLongDecode decodes qwen3-micro with 2,048 tokens of cache.
func BenchmarkMicroLongDecode(b *testing.B) {
	benchDecode(b, microEngine(b, "qwen3-micro"), 2048, 64)
}

// BenchmarkDecodeAttention is one decode step's attention of one layer over
// 4,096 cached positions (random keys and values), per cache type, in the
// Qwen3-0.6B shape (16 query heads, 8 KV heads of 128) and qwen3-micro's
// (8 and 2 of 32): the part of long-context decode that grows with context.
// Each op attends the next of the model's layers (4 of the 0.6B shape, whose
// caches exceed the L3 cache as its 28 do; micro's 6), so the rows come
// from where a real decode finds them.
func BenchmarkDecodeAttention(b *testing.B) {
	const T = 4096
	for _, sh := range []struct {
		name                    string
		heads, kv, hdim, layers int
	}{{"0.6b", 16, 8, 128, 4}, {"micro", 8, 2, 32, 6}} {
		for _, ck := range []CacheKind{CacheF32, CacheF16, CacheQ8_0} {
			cfg := model.Config{Heads: sh.heads, KVHeads: sh.kv, HeadDim: sh.hdim, Layers: sh.layers}
			e := &Engine{cfg: cfg, layout: model.DefaultLayout(sh.layers), opts: Options{Cache: ck}}
			cache := e.NewCache(T)
			if err := cache.ensure(T); err != nil {
				b.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(5, 6))
			kvd := sh.kv * sh.hdim
			k, v := make([]float32, kvd), make([]float32, kvd)
			for l := 0; l < sh.layers; l++ {
				for t := 0; t < T; t++ {
					for i := range k {
						k[i], v[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
					}
					cache.put(l, t, k, v)
				}
			}
			cache.n = T
			e.s.q = make([]float32, sh.heads*sh.hdim)
			for i := range e.s.q {
				e.s.q[i] = float32(rng.NormFloat64())
			}
			e.s.attn = make([]float32, sh.heads*sh.hdim)
			b.Run(fmt.Sprintf("%s/%v", sh.name, cache.Type()), func(b *testing.B) {
				for i := range b.N {
					e.attend(cache, i%sh.layers, 1, T-1)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e3, "µs/layer")
			})
		}
	}
}
