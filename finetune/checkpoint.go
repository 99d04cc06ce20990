package finetune

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"slices"

	"github.com/retrofit-llm/retrofit/internal/safefile"
)

// Checkpoint file format (OutDir/checkpoint.bin, written to a temporary file
// in the same directory and renamed over the old one):
//
//	8 bytes   magic "RFTCKPT2"
//	8 bytes   little-endian uint64 n, the header length
//	n bytes   JSON header (State)
//	then, for each entry of State.Params in order: its weights as
//	little-endian float32, then — when Moments — the AdamW first and second
//	moments, each the same length
//	4 bytes   little-endian CRC-32C of everything before it
//
// The reader checks the file's length against the header before reading a
// tensor, every field of the state, that every value is finite, and the
// checksum; a damaged file is refused with its name and what is wrong.
// Version-1 files ("RFTCKPT1", no checksum) are still read.
const (
	ckptMagic   = "RFTCKPT2"
	ckptMagicV1 = "RFTCKPT1"
)

// CheckpointName is the checkpoint's file name inside OutDir.
const CheckpointName = "checkpoint.bin"

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// State is a checkpoint's header: everything but the tensors.
type State struct {
	Step     int          `json:"step"`       // optimizer steps done
	Tokens   int64        `json:"tokens"`     // training tokens consumed
	AdamStep int          `json:"adam_step"`  // AdamW bias-correction step
	Seed     uint64       `json:"seed"`       // data-order seed
	Epoch    int          `json:"data_epoch"` // sampler state
	Pos      int          `json:"data_pos"`
	Windows  int          `json:"data_windows"` // training windows (a check on resume)
	History  []Point      `json:"history"`
	Params   []ParamEntry `json:"params"`
	Elapsed  float64      `json:"elapsed_s"`
}

// ParamEntry names one stored tensor.
type ParamEntry struct {
	Name    string `json:"name"`
	Shape   []int  `json:"shape"`
	Moments bool   `json:"moments"`
}

// Point is one logged step for the plot and the metrics.
type Point struct {
	Step    int     `json:"step"`
	Tokens  int64   `json:"tokens"`
	Loss    float64 `json:"loss"`
	CE      float64 `json:"ce"`
	KD      float64 `json:"kd,omitempty"`
	LH      float64 `json:"layer,omitempty"`
	LR      float64 `json:"lr"`
	Norm    float64 `json:"grad_norm"`
	EvalNLL float64 `json:"eval_nll,omitempty"`
	EvalPPL float64 `json:"eval_ppl,omitempty"`
	TokPerS float64 `json:"tok_per_s"`
}

// SaveCheckpoint writes the net and the state atomically to path.
func SaveCheckpoint(path string, n *Net, st State) (err error) {
	st.Params = st.Params[:0]
	for _, p := range n.Params {
		st.Params = append(st.Params, ParamEntry{Name: p.Name, Shape: p.Shape, Moments: p.M != nil})
	}
	hdr, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("finetune: checkpoint %s: %w", path, err)
	}
	f, err := safefile.Create(path)
	if err != nil {
		return fmt.Errorf("finetune: checkpoint: %w", err)
	}
	defer func() {
		if err != nil {
			f.Abort()
		}
	}()
	crc := crc32.New(crcTable)
	w := bufio.NewWriterSize(io.MultiWriter(f, crc), 1<<20)
	w.WriteString(ckptMagic)
	binary.Write(w, binary.LittleEndian, uint64(len(hdr)))
	w.Write(hdr)
	buf := make([]byte, 0, 1<<16)
	put := func(v []float32) error {
		for len(v) > 0 {
			k := min(len(v), 1<<14)
			buf = buf[:0]
			for _, x := range v[:k] {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(x))
			}
			if _, err := w.Write(buf); err != nil {
				return err
			}
			v = v[k:]
		}
		return nil
	}
	for _, p := range n.Params {
		if err = put(p.W); err == nil && p.M != nil {
			if err = put(p.M); err == nil {
				err = put(p.V)
			}
		}
		if err != nil {
			return fmt.Errorf("finetune: checkpoint %s: %w", path, err)
		}
	}
	if err = w.Flush(); err != nil {
		return fmt.Errorf("finetune: checkpoint %s: %w", path, err)
	}
	if _, err = f.Write(binary.LittleEndian.AppendUint32(nil, crc.Sum32())); err != nil {
		return fmt.Errorf("finetune: checkpoint %s: %w", path, err)
	}
	if err = f.Commit(); err != nil {
		return fmt.Errorf("finetune: checkpoint %s: %w", path, err)
	}
	return nil
}

// LoadCheckpoint reads path into the net (which must have the same tensors)
// and returns the state. Nothing of a refused file is kept in the net
// beyond what a later successful load overwrites.
func LoadCheckpoint(path string, n *Net) (State, error) {
	st, err := loadCheckpoint(path, n)
	if err != nil {
		return State{}, fmt.Errorf("finetune: resume %s: %w", path, err)
	}
	return st, nil
}

func loadCheckpoint(path string, n *Net) (State, error) {
	f, err := os.Open(path)
	if err != nil {
		return State{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return State{}, err
	}
	return readCheckpoint(f, fi.Size(), n)
}

// readCheckpoint reads a checkpoint of size bytes from ra into the net.
func readCheckpoint(ra io.ReaderAt, size int64, n *Net) (State, error) {
	var st State
	crc := crc32.New(crcTable)
	r := io.TeeReader(bufio.NewReaderSize(io.NewSectionReader(ra, 0, size), int(min(size, 1<<20))), crc)
	var head [16]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return st, fmt.Errorf("not a retrofit finetune checkpoint (%d bytes)", size)
	}
	magic := string(head[:8])
	if magic != ckptMagic && magic != ckptMagicV1 {
		return st, fmt.Errorf("not a retrofit finetune checkpoint (magic %q)", head[:8])
	}
	hl := binary.LittleEndian.Uint64(head[8:])
	if hl > 1<<30 || int64(hl) > size-16 {
		return st, fmt.Errorf("header length %d does not fit the file (%d bytes)", hl, size)
	}
	hdr := make([]byte, hl)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return st, fmt.Errorf("header: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(hdr))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return st, fmt.Errorf("header: %w", err)
	}
	params, err := checkState(&st, n)
	if err != nil {
		return st, err
	}
	want := 16 + int64(hl)
	for i, e := range st.Params {
		k := int64(1)
		if e.Moments {
			k = 3
		}
		want += 4 * k * int64(len(params[i].W))
	}
	if magic == ckptMagic {
		want += 4
	}
	if size != want {
		return st, fmt.Errorf("%d bytes, but its header describes %d (truncated, trailing data, or a wrong moments flag)", size, want)
	}
	buf := make([]byte, min(1<<16, max(size, 64)))
	get := func(v []float32) error {
		for len(v) > 0 {
			k := min(len(v), len(buf)/4)
			if _, err := io.ReadFull(r, buf[:4*k]); err != nil {
				return err
			}
			for i := range v[:k] {
				x := math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
				if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
					return fmt.Errorf("value %v at element %d", x, i)
				}
				v[i] = x
			}
			v = v[k:]
		}
		return nil
	}
	for i, e := range st.Params {
		p := params[i]
		err := get(p.W)
		if err == nil && e.Moments {
			if p.M == nil {
				p.M, p.V = make([]float32, len(p.W)), make([]float32, len(p.W))
			}
			if err = get(p.M); err == nil {
				err = get(p.V)
			}
		}
		if err != nil {
			return st, fmt.Errorf("tensor %q: %w", e.Name, err)
		}
	}
	if magic == ckptMagic {
		sum := crc.Sum32()
		var tail [4]byte
		if _, err := ra.ReadAt(tail[:], size-4); err != nil {
			return st, fmt.Errorf("checksum: %w", err)
		}
		if got := binary.LittleEndian.Uint32(tail[:]); got != sum {
			return st, fmt.Errorf("checksum %08x, the contents give %08x: the file is damaged", got, sum)
		}
	}
	return st, nil
}

// checkState validates every restored field and matches the stored
// tensors to the net's parameters (same names, shapes, each once).
func checkState(st *State, n *Net) ([]*Param, error) {
	switch {
	case st.Step < 0 || st.AdamStep < 0 || st.Tokens < 0:
		return nil, fmt.Errorf("field step %d, adam_step %d or tokens %d is negative", st.Step, st.AdamStep, st.Tokens)
	case st.Windows < 0 || st.Epoch < 0 || st.Pos < 0 || st.Pos > st.Windows:
		return nil, fmt.Errorf("fields data_epoch %d, data_pos %d, data_windows %d: want 0 ≤ data_pos ≤ data_windows", st.Epoch, st.Pos, st.Windows)
	case math.IsNaN(st.Elapsed) || st.Elapsed < 0:
		return nil, fmt.Errorf("field elapsed_s %v is negative", st.Elapsed)
	case len(st.History) > st.Step+1:
		return nil, fmt.Errorf("field history has %d points for %d steps", len(st.History), st.Step)
	}
	for i, p := range st.History {
		if p.Step < 0 || p.Step > st.Step {
			return nil, fmt.Errorf("field history[%d].step %d outside [0, %d]", i, p.Step, st.Step)
		}
	}
	if len(st.Params) != len(n.Params) {
		return nil, fmt.Errorf("%d tensors, the model has %d", len(st.Params), len(n.Params))
	}
	byName := map[string]*Param{}
	for _, p := range n.Params {
		byName[p.Name] = p
	}
	out := make([]*Param, len(st.Params))
	for i, e := range st.Params {
		p := byName[e.Name]
		if p == nil || !slices.Equal(p.Shape, e.Shape) {
			return nil, fmt.Errorf("tensor %q %v does not match the model", e.Name, e.Shape)
		}
		delete(byName, e.Name)
		out[i] = p
	}
	return out, nil
}
