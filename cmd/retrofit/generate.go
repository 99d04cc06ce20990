package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/retrofit-llm/retrofit/engine"
	"github.com/retrofit-llm/retrofit/loaders"
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
			if c.Int("max-tokens") <= 0 {
				return fmt.Errorf("generate: --max-tokens %d must be positive", c.Int("max-tokens"))
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
			prompt := tok.Encode(c.String("prompt"))
			if len(prompt) == 0 {
				return fmt.Errorf("generate: the prompt encodes to no tokens")
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
			sampler := engine.Sampler(engine.Greedy())
			if c.Float64("temperature") > 0 {
				sampler = engine.NewSampler(c.Float64("temperature"), c.Float64("top-p"), c.Uint64("seed"))
			}
			w := c.App.Writer
			fmt.Fprint(w, c.String("prompt"))
			// Decode incrementally so multi-byte characters split across tokens print whole.
			var out []int
			printed := ""
			start := time.Now()
			var first time.Time
			ids, err := e.Generate(c.Context, prompt, c.Int("max-tokens"), eos, sampler, func(id int) bool {
				if first.IsZero() {
					first = time.Now()
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
