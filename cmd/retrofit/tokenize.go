package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/retrofit-llm/retrofit/loaders"
	"github.com/retrofit-llm/retrofit/tokenizer"
)

func tokenizeCommand() *cli.Command {
	return &cli.Command{
		Name:      "tokenize",
		Usage:     "encode text to token ids (or --decode ids to text) with a model's tokenizer",
		ArgsUsage: "PATH (a model directory, a GGUF file or a tokenizer.json)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "text", Usage: "text to encode (or ids to decode, separated by spaces or commas)"},
			&cli.StringFlag{Name: "file", Usage: "read the text from a file"},
			&cli.BoolFlag{Name: "decode", Usage: "decode ids back to text"},
			&cli.BoolFlag{Name: "json", Usage: `print {"ids": [...]} (or {"text": ...} with --decode)`},
		},
		Action: func(c *cli.Context) error {
			path, err := oneArg(c, "PATH")
			if err != nil {
				return err
			}
			tok, err := loadTokenizer(path)
			if err != nil {
				return err
			}
			if !c.IsSet("text") && !c.IsSet("file") {
				return fmt.Errorf("tokenize: give --text TEXT or --file FILE")
			}
			input := c.String("text")
			if f := c.String("file"); f != "" {
				if input != "" {
					return fmt.Errorf("tokenize: give --text or --file, not both")
				}
				b, err := os.ReadFile(f)
				if err != nil {
					return err
				}
				input = string(b)
			}
			if c.Bool("decode") {
				var ids []int
				for _, f := range strings.FieldsFunc(strings.Trim(input, "[] \n"), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }) {
					id, err := strconv.Atoi(f)
					if err != nil || id < 0 || id >= tok.Len() {
						return fmt.Errorf("tokenize --decode: %q is not a token id in [0, %d)", f, tok.Len())
					}
					ids = append(ids, id)
				}
				text := tok.Decode(ids)
				if c.Bool("json") {
					return json.NewEncoder(c.App.Writer).Encode(map[string]string{"text": text})
				}
				fmt.Fprintln(c.App.Writer, text)
				return nil
			}
			ids, err := tok.EncodeErr(input)
			if err != nil {
				return fmt.Errorf("tokenize: %w", err)
			}
			if c.Bool("json") {
				if ids == nil {
					ids = []int{}
				}
				return json.NewEncoder(c.App.Writer).Encode(map[string][]int{"ids": ids})
			}
			parts := make([]string, len(ids))
			for i, id := range ids {
				parts[i] = strconv.Itoa(id)
			}
			fmt.Fprintln(c.App.Writer, strings.Join(parts, " "))
			return nil
		},
	}
}

// loadTokenizer reads a tokenizer.json (optionally gzipped) or a model's tokenizer.
func loadTokenizer(path string) (*tokenizer.Tokenizer, error) {
	if st, err := os.Stat(path); err == nil && !st.IsDir() && (strings.HasSuffix(path, ".json") || strings.HasSuffix(path, ".json.gz")) {
		return tokenizer.LoadFile(path)
	}
	m, err := loaders.Load(path)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	return tokenizer.ForModel(m)
}
