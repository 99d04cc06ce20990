package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/retrofit-llm/retrofit/engine"
	"github.com/retrofit-llm/retrofit/eval"
	"github.com/retrofit-llm/retrofit/internal/progress"
	"github.com/retrofit-llm/retrofit/loaders"
	"github.com/retrofit-llm/retrofit/tokenizer"
)

func evalCommand() *cli.Command {
	return &cli.Command{
		Name:      "eval",
		Usage:     "perplexity of a model over a text file (or token ids), with speed and KV-cache bytes per token",
		ArgsUsage: "MODEL",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "text", Usage: "text file to score"},
			&cli.StringFlag{Name: "ids", Usage: "JSON array of token ids to score instead of text"},
			&cli.IntFlag{Name: "ctx", Value: 512, Usage: "window length in tokens"},
			&cli.IntFlag{Name: "stride", Usage: "sliding windows advancing by N ≤ --ctx tokens (default: non-overlapping windows)"},
			&cli.IntFlag{Name: "max-tokens", Usage: "score at most N tokens of the input"},
			&cli.BoolFlag{Name: "second-half", Usage: "score as llama-perplexity does: whole --ctx windows, each scoring its second half"},
			&cli.StringFlag{Name: "doc-sep", Value: documentSeparator, Usage: "split --text into documents joined by <|endoftext|> (\"\" to encode the file as one text)"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object"},
		}, engineFlags(false)...),
		Action: func(c *cli.Context) error {
			path, err := oneArg(c, "MODEL")
			if err != nil {
				return err
			}
			if (c.String("text") == "") == (c.String("ids") == "") {
				return fmt.Errorf("eval: give exactly one of --text FILE or --ids FILE")
			}
			if err := checkEvalFlags(c); err != nil {
				return err
			}
			m, err := loaders.Load(path)
			if err != nil {
				return err
			}
			defer m.Close()
			var ids []int
			if f := c.String("ids"); f != "" {
				if ids, err = readIDs(f, m.Config.VocabSize); err != nil {
					return err
				}
			} else {
				tok, err := tokenizer.ForModel(m)
				if err != nil {
					return err
				}
				text, err := os.ReadFile(c.String("text"))
				if err != nil {
					return err
				}
				if ids, err = encodeDocuments(c.Context, tok, m, string(text), c.String("doc-sep"), c.Int("max-tokens")); err != nil {
					return err
				}
			}
			if n := c.Int("max-tokens"); n > 0 && n < len(ids) {
				ids = ids[:n]
			}
			opts, err := engineOptions(c, false)
			if err != nil {
				return err
			}
			e, err := engine.NewWith(m, opts)
			if err != nil {
				return err
			}
			bar := progress.New(os.Stderr, "eval", len(ids))
			res, err := eval.Perplexity(e, ids, eval.Options{
				Ctx: c.Int("ctx"), Stride: c.Int("stride"), SecondHalf: c.Bool("second-half"), Progress: bar.Func(), Context: c.Context,
			})
			bar.Done()
			if err != nil {
				return err
			}
			if res.Tokens > 0 && (math.IsNaN(res.NLL) || math.IsInf(res.NLL, 0)) {
				return fmt.Errorf("eval: the mean NLL is %v: the model's logits are not finite (NaN or Inf in its weights)", res.NLL)
			}
			interrupted := res.Interrupted
			if c.Bool("json") {
				out := map[string]any{
					"ppl": res.PPL, "nll": res.NLL, "tokens": res.Tokens,
					"tokens_per_s": res.TokensPerSec, "kv_bytes_per_token": res.KVBytesPerToken,
				}
				if interrupted {
					out["interrupted"] = true
				}
				return json.NewEncoder(c.App.Writer).Encode(out)
			}
			if interrupted {
				fmt.Fprintln(c.App.Writer, "interrupted: partial result")
			}
			fmt.Fprintf(c.App.Writer, "ppl                 %.4f\n", res.PPL)
			fmt.Fprintf(c.App.Writer, "mean nll            %.6f\n", res.NLL)
			fmt.Fprintf(c.App.Writer, "tokens scored       %d\n", res.Tokens)
			fmt.Fprintf(c.App.Writer, "speed               %.0f tok/s\n", res.TokensPerSec)
			fmt.Fprintf(c.App.Writer, "KV cache            %d bytes/token (fp16)\n", res.KVBytesPerToken)
			return nil
		},
	}
}

// checkEvalFlags refuses window settings that would be silently changed.
func checkEvalFlags(c *cli.Context) error {
	ctx, stride := c.Int("ctx"), c.Int("stride")
	if ctx < 2 {
		return fmt.Errorf("eval: --ctx %d: a window needs at least 2 tokens", ctx)
	}
	if c.IsSet("stride") && (stride < 1 || stride > ctx) {
		return fmt.Errorf("eval: --stride %d must be in [1, --ctx %d] (windows would skip tokens)", stride, ctx)
	}
	if c.IsSet("max-tokens") && c.Int("max-tokens") < 1 {
		return fmt.Errorf("eval: --max-tokens %d must be positive", c.Int("max-tokens"))
	}
	if c.IsSet("doc-sep") && c.String("ids") != "" {
		return fmt.Errorf("eval: --doc-sep applies to --text, not --ids")
	}
	return nil
}
