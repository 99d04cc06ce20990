// Command retrofit loads a pretrained Qwen-style checkpoint, rewrites its
// attention (CLA, MLKV, KVSharer, Depth-Attention, looped layers), uptrains it
// briefly on the CPU, exports GGUF or HF safetensors, and measures what the
// change bought: perplexity, KV-cache bytes per token and speed.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app := newApp()
	if err := app.RunContext(ctx, flagsFirst(app, os.Args)); err != nil {
		fmt.Fprintln(os.Stderr, "retrofit:", err)
		os.Exit(1)
	}
}

func newApp() *cli.App {
	return &cli.App{
		Name:  "retrofit",
		Usage: "model surgery on pretrained Qwen-style decoder LLMs",
		Commands: []*cli.Command{
			inspectCommand(),
			convertCommand(),
			finetuneCommand(),
			evalCommand(),
			generateCommand(),
			tokenizeCommand(),
			exportCommand(),
		},
		HideHelpCommand: true,
	}
}
