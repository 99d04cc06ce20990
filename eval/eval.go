// Package eval measures perplexity of an engine over a token stream, with
// non-overlapping or sliding context windows.
package eval

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/retrofit-llm/retrofit/engine"
	"github.com/retrofit-llm/retrofit/internal/numerics"
)

// Options tune Perplexity.
type Options struct {
	// Ctx is the window length in input tokens (default 512).
	Ctx int
	// Stride 0 runs non-overlapping windows; Stride s in (0, Ctx) slides the
	// window by s tokens and scores only the tokens not scored before, each
	// with up to Ctx tokens of context (Hugging Face's strided recipe).
	Stride int
	// MaxTokens, if positive, scores at most that many tokens.
	MaxTokens int
	// SecondHalf scores as llama.cpp's llama-perplexity does: the input is
	// cut into whole windows of Ctx tokens (a shorter tail is dropped), and
	// each window scores only the predictions of its second half that fall
	// inside it (rows Ctx/2 … Ctx-2 predict tokens Ctx/2+1 … Ctx-1).
	// MaxTokens then limits the input tokens; Stride must be 0.
	SecondHalf bool
	// Progress, if set, is called after each window with the tokens scored so
	// far and the total to score.
	Progress func(done, total int)
	// Context, if set, interrupts the run between windows.
	Context context.Context
}

// Result is a perplexity measurement.
type Result struct {
	PPL          float64 // exp(NLL)
	NLL          float64 // mean negative log-likelihood (nats) per scored token
	Tokens       int     // tokens scored
	TokensPerSec float64 // tokens run through the model per second of wall time
	// KVBytesPerToken is the fp16-equivalent KV cache of the engine's layout.
	KVBytesPerToken int64
	NLLs            []float32 // per scored token, in order (token 1, 2, …)
	// Interrupted reports that Context was cancelled: the result covers the
	// windows finished before.
	Interrupted bool
}

// Perplexity scores ids[1:] under e: every token is predicted from the
// tokens before it inside its window. Non-overlapping windows hold Ctx input
// tokens each and score all their next tokens, so window w reads
// ids[w·Ctx : (w+1)·Ctx] and scores ids[w·Ctx+1 : (w+1)·Ctx+1].
func Perplexity(e *engine.Engine, ids []int, opts Options) (Result, error) {
	if opts.Ctx == 0 {
		opts.Ctx = 512
	}
	if opts.Ctx < 1 || opts.Stride < 0 {
		return Result{}, fmt.Errorf("eval: context %d and stride %d: context must be positive, stride not negative", opts.Ctx, opts.Stride)
	}
	if opts.SecondHalf {
		return secondHalf(e, ids, opts)
	}
	stride := opts.Stride
	if stride == 0 || stride > opts.Ctx {
		stride = opts.Ctx
	}
	if opts.MaxTokens > 0 && len(ids) > opts.MaxTokens+1 {
		ids = ids[:opts.MaxTokens+1]
	}
	if len(ids) < 2 {
		return Result{}, fmt.Errorf("eval: %d tokens: need at least 2", len(ids))
	}
	ctx := opts.Context
	if ctx == nil {
		ctx = context.Background()
	}
	total := len(ids) - 1
	v := e.Config().VocabSize
	res := Result{KVBytesPerToken: e.KVBytesPerToken(), NLLs: make([]float32, 0, total)}
	cache := e.NewCache(opts.Ctx)
	fopts := &engine.ForwardOptions{}
	var sum float64
	var fed int
	startT := time.Now()
	scored := 0 // ids[1..scored] are scored
	for b := 0; scored < total; b += stride {
		if ctx.Err() != nil {
			res.Interrupted = true
			break
		}
		end := min(b+opts.Ctx, total) // inputs ids[b:end] predict ids[b+1:end+1]
		first := scored - b           // first input row whose target is new
		cache.Reset()
		fopts.LogitsFrom = first
		fopts.OnLogits = func(row0 int, logits []float32) {
			for i := row0; i < row0+len(logits)/v; i++ {
				x := numerics.NLL(logits[(i-row0)*v:(i-row0+1)*v], ids[b+i+1])
				res.NLLs = append(res.NLLs, float32(x))
				sum += x
			}
		}
		if _, err := e.Forward(ids[b:end], cache, fopts); err != nil {
			return res, fmt.Errorf("eval: window at token %d: %w", b, err)
		}
		fed += end - b
		scored = end
		if opts.Progress != nil {
			opts.Progress(scored, total)
		}
	}
	res.Tokens = len(res.NLLs)
	if res.Tokens > 0 {
		res.NLL = sum / float64(res.Tokens)
		res.PPL = math.Exp(res.NLL)
	}
	if s := time.Since(startT).Seconds(); s > 0 {
		res.TokensPerSec = float64(fed) / s
	}
	return res, nil
}

// secondHalf is Perplexity with Options.SecondHalf.
func secondHalf(e *engine.Engine, ids []int, opts Options) (Result, error) {
	n := opts.Ctx
	if opts.Stride != 0 || n < 4 {
		return Result{}, fmt.Errorf("eval: second-half scoring needs non-overlapping windows of at least 4 tokens (stride %d, context %d)", opts.Stride, n)
	}
	if opts.MaxTokens > 0 && len(ids) > opts.MaxTokens {
		ids = ids[:opts.MaxTokens]
	}
	windows := len(ids) / n
	if windows == 0 {
		return Result{}, fmt.Errorf("eval: %d tokens: fewer than one window of %d", len(ids), n)
	}
	ctx := opts.Context
	if ctx == nil {
		ctx = context.Background()
	}
	v := e.Config().VocabSize
	res := Result{KVBytesPerToken: e.KVBytesPerToken()}
	cache := e.NewCache(n)
	fopts := &engine.ForwardOptions{LogitsFrom: n / 2}
	var sum float64
	var fed int
	startT := time.Now()
	for w := 0; w < windows; w++ {
		if ctx.Err() != nil {
			res.Interrupted = true
			break
		}
		win := ids[w*n : (w+1)*n]
		fopts.OnLogits = func(row0 int, logits []float32) {
			for i := row0; i < row0+len(logits)/v && i < n-1; i++ {
				x := numerics.NLL(logits[(i-row0)*v:(i-row0+1)*v], win[i+1])
				res.NLLs = append(res.NLLs, float32(x))
				sum += x
			}
		}
		cache.Reset()
		if _, err := e.Forward(win, cache, fopts); err != nil {
			return res, fmt.Errorf("eval: window at token %d: %w", w*n, err)
		}
		fed += n
		if opts.Progress != nil {
			opts.Progress((w+1)*n, windows*n)
		}
	}
	res.Tokens = len(res.NLLs)
	if res.Tokens > 0 {
		res.NLL = sum / float64(res.Tokens)
		res.PPL = math.Exp(res.NLL)
	}
	if s := time.Since(startT).Seconds(); s > 0 {
		res.TokensPerSec = float64(fed) / s
	}
	return res, nil
}
