package main

import (
	"fmt"
	"math"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/retrofit-llm/retrofit/engine"
	"github.com/retrofit-llm/retrofit/loaders"
	"github.com/retrofit-llm/retrofit/model"
	"github.com/retrofit-llm/retrofit/tokenizer"
)

func generateCommand() *cli.Command {
	return &cli.Command{
		Name:      "generate",
		Usage:     "continue a prompt, streaming tokens as they decode (greedy unless --temperature)",
		ArgsUsage: "MODEL",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "prompt", Usage: "text to continue", Required: true},
			&cli.IntFlag{Name: "max-tokens", Value: 128, Usage: "most tokens to generate"},
			&cli.Float64Flag{Name: "temperature", Usage: "sampling temperature (0 = greedy)"},
			&cli.Float64Flag{Name: "top-p", Value: 1, Usage: "nucleus sampling mass"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "sampling seed"},
			&cli.BoolFlag{Name: "stats", Value: true, Usage: "print prefill/decode speed and KV-cache bytes to stderr"},
		}, engineFlags(true)...),
		Action: func(c *cli.Context) error {
			path, err := oneArg(c, "MODEL")
			if err != nil {
				return err
			}
			if t, p := c.Float64("temperature"), c.Float64("top-p"); t < 0 || p <= 0 {
				return fmt.Errorf("generate: --temperature %g must be ≥ 0 and --top-p %g > 0", t, p)
			}
			m, err := loaders.Load(path)
			if err != nil {
				return err
			}
			defer m.Close()
			tok, err := tokenizer.ForModel(m)
			if err != nil {
				return err
			}
			opts, err := engineOptions(c, true)
			if err != nil {
				return err
			}
			e, err := engine.NewWith(m, opts)
			if err != nil {
				return err
			}
			prompt, err := encodeDocuments(c.Context, tok, m, c.String("prompt"), "", 0)
			if err != nil {
				return fmt.Errorf("generate: --prompt: %w", err)
			}
			if len(prompt) == 0 {
				return fmt.Errorf("generate: the prompt encodes to no tokens")
			}
			maxNew, err := generationBudget(c, m.Config.MaxPositions, len(prompt))
			if err != nil {
				return err
			}
			var eos []int
			for _, id := range []int{m.Config.EOS, tok.EOS()} {
				if id >= 0 {
					eos = append(eos, id)
				}
			}
			if id, ok := tok.TokenID("<|endoftext|>"); ok {
				eos = append(eos, id)
			}
			inner := engine.Sampler(engine.Greedy())
			if c.Float64("temperature") > 0 {
				inner = engine.NewSampler(c.Float64("temperature"), c.Float64("top-p"), c.Uint64("seed"))
			}
			sampler := &finiteSampler{inner: inner}
			w := c.App.Writer
			fmt.Fprint(w, c.String("prompt"))
			// Decode incrementally so multi-byte characters split across tokens print whole.
			var out []int
			printed := ""
			start := time.Now()
			var first time.Time
			ids, err := e.Generate(c.Context, prompt, maxNew, eos, sampler, func(id int) bool {
				if first.IsZero() {
					first = time.Now()
				}
				if sampler.bad {
					return false
				}
				out = append(out, id)
				if tok.IsSpecial(id) {
					return true
				}
				text := tok.Decode(out)
				if len(text) > len(printed) && text[:len(printed)] == printed {
					fmt.Fprint(w, text[len(printed):])
					printed = text
				}
				return true
			})
			fmt.Fprintln(w)
			if err != nil && c.Context.Err() == nil {
				return err
			}
			if sampler.bad {
				return fmt.Errorf("generate: the logits of token %d are NaN or infinite: the model's weights hold non-finite values", len(out))
			}
			if c.Bool("stats") && len(ids) > 0 {
				end := time.Now()
				prefill := first.Sub(start).Seconds()
				decode := end.Sub(first).Seconds()
				fmt.Fprintf(c.App.ErrWriter, "prompt %d tokens in %.3fs (%.0f tok/s); generated %d tokens, %.0f tok/s decode; KV cache %d bytes/token (fp16); %s mode, %v cache\n",
					len(prompt), prefill, float64(len(prompt))/prefill, len(ids), float64(len(ids)-1)/max(decode, 1e-9), m.KVBytesPerToken(), opts.Mode, opts.CacheType())
			}
			return nil
		},
	}
}

// generationBudget is --max-tokens, checked: positive, and capped so prompt
// and output fit the model's context (max_position_embeddings; a note on
// stderr says when the cap applies).
func generationBudget(c *cli.Context, ctxLen, promptLen int) (int, error) {
	n := c.Int("max-tokens")
	if n <= 0 {
		return 0, fmt.Errorf("generate: --max-tokens %d must be positive", n)
	}
	if ctxLen <= 0 {
		ctxLen = model.MaxPositions
	}
	if promptLen >= ctxLen {
		return 0, fmt.Errorf("generate: the prompt is %d tokens, the model's context (max_position_embeddings) %d", promptLen, ctxLen)
	}
	if left := ctxLen - promptLen; n > left {
		fmt.Fprintf(c.App.ErrWriter, "generate: --max-tokens %d capped at %d, what the model's context of %d leaves after the prompt\n", n, left, ctxLen)
		n = left
	}
	return n, nil
}

// finiteSampler refuses to pick a token from logits holding NaN or Inf
// (non-finite weights): it sets bad, and generate stops with an error.
type finiteSampler struct {
	inner engine.Sampler
	bad   bool
}

func (s *finiteSampler) Sample(logits []float32) int {
	for _, v := range logits {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			s.bad = true
			return 0
		}
	}
	return s.inner.Sample(logits)
}
