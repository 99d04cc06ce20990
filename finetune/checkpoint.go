package finetune

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
)

// Checkpoint file format (OutDir/checkpoint.bin, written to a temporary file
// in the same directory and renamed over the old one):
//
//	8 bytes   magic "RFTCKPT1"
//	8 bytes   little-endian uint64 n, the header length
//	n bytes   JSON header (State)
//	then, for each entry of State.Params in order: its weights as
//	little-endian float32, then — when Moments — the AdamW first and second
//	moments, each the same length.
const ckptMagic = "RFTCKPT1"

// CheckpointName is the checkpoint's file name inside OutDir.
const CheckpointName = "checkpoint.bin"

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
	f, err := os.CreateTemp(filepath.Dir(path), ".checkpoint-*.tmp")
	if err != nil {
		return fmt.Errorf("finetune: checkpoint: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
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
	if err = f.Sync(); err != nil {
		return fmt.Errorf("finetune: checkpoint %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("finetune: checkpoint %s: %w", path, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("finetune: checkpoint: %w", err)
	}
	return nil
}

// LoadCheckpoint reads path into the net (which must have the same tensors)
// and returns the state.
func LoadCheckpoint(path string, n *Net) (State, error) {
	var st State
	f, err := os.Open(path)
	if err != nil {
		return st, fmt.Errorf("finetune: resume: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	magic := make([]byte, 8)
	var hl uint64
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != ckptMagic {
		return st, fmt.Errorf("finetune: resume %s: not a retrofit finetune checkpoint (magic %q)", path, magic)
	}
	if err := binary.Read(r, binary.LittleEndian, &hl); err != nil || hl > 1<<30 {
		return st, fmt.Errorf("finetune: resume %s: bad header length", path)
	}
	hdr := make([]byte, hl)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return st, fmt.Errorf("finetune: resume %s: header: %w", path, err)
	}
	if err := json.Unmarshal(hdr, &st); err != nil {
		return st, fmt.Errorf("finetune: resume %s: header: %w", path, err)
	}
	byName := map[string]*Param{}
	for _, p := range n.Params {
		byName[p.Name] = p
	}
	if len(st.Params) != len(n.Params) {
		return st, fmt.Errorf("finetune: resume %s: %d tensors, the model has %d", path, len(st.Params), len(n.Params))
	}
	buf := make([]byte, 1<<16)
	get := func(v []float32) error {
		for len(v) > 0 {
			k := min(len(v), len(buf)/4)
			if _, err := io.ReadFull(r, buf[:4*k]); err != nil {
				return err
			}
			for i := range v[:k] {
				v[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
			}
			v = v[k:]
		}
		return nil
	}
	for _, e := range st.Params {
		p := byName[e.Name]
		if p == nil || fmt.Sprint(p.Shape) != fmt.Sprint(e.Shape) {
			return st, fmt.Errorf("finetune: resume %s: tensor %q %v does not match the model", path, e.Name, e.Shape)
		}
		err := get(p.W)
		if err == nil && e.Moments {
			p.M, p.V = make([]float32, len(p.W)), make([]float32, len(p.W))
			if err = get(p.M); err == nil {
				err = get(p.V)
			}
		}
		if err != nil {
			return st, fmt.Errorf("finetune: resume %s: tensor %q: %w", path, e.Name, err)
		}
	}
	return st, nil
}
