// Command retrofit loads a pretrained Qwen-style checkpoint, rewrites its
// attention (CLA, MLKV, KVSharer, Depth-Attention, looped layers), uptrains it
// briefly on the CPU, exports GGUF or HF safetensors, and measures what the
// change bought: perplexity, KV-cache bytes per token and speed.
//
// The first Ctrl-C or SIGTERM cancels the command's context: long commands
// stop within about a second, remove their temporary files (finetune saves
// its checkpoint, eval prints its partial result) and exit with 130 (SIGINT)
// or 143 (SIGTERM). A second signal kills at once.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"
)

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// run executes one command line and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan os.Signal, 1)
	go func() {
		select {
		case s := <-sigs:
			signal.Stop(sigs) // the next signal has its default effect
			got <- s
			cancel()
		case <-ctx.Done():
		}
	}()
	defer signal.Stop(sigs)
	app := newApp()
	app.Writer, app.ErrWriter = stdout, stderr
	err := app.RunContext(ctx, flagsFirst(app, args))
	if ctx.Err() != nil {
		select {
		case s := <-got:
			fmt.Fprintf(stderr, "retrofit: interrupted by %v\n", s)
			if s == syscall.SIGTERM {
				return 128 + int(syscall.SIGTERM)
			}
			return 128 + int(syscall.SIGINT)
		default:
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "retrofit:", err)
		return 1
	}
	return 0
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
		// --opt layers=2,4,5 is one value; repeat a flag to give several.
		DisableSliceFlagSeparator: true,
		// Errors are printed once, by run.
		ExitErrHandler: func(*cli.Context, error) {},
	}
}
