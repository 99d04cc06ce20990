package finetune

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// timingOut is an encoder whose regex runs out of time on one document.
type timingOut struct{}

func (timingOut) Encode(s string) []int { ids, _ := timingOut{}.EncodeErr(s); return ids }

func (timingOut) EncodeErr(s string) ([]int, error) {
	if strings.Contains(s, "xxxx") {
		return []int{1}, errors.New("the tokenizer's Split regex exceeded its time limit")
	}
	return []int{1, 2}, nil
}

// TestTokenizeReportsEncoderErrors: a document the tokenizer cannot encode
// in time fails the run instead of training on a truncated encoding.
func TestTokenizeReportsEncoderErrors(t *testing.T) {
	p := filepath.Join(t.TempDir(), "d.txt")
	os.WriteFile(p, []byte("fine"+DocSeparator+"xxxxxxxx"+DocSeparator+"fine"), 0o644)
	if _, err := Tokenize([]string{p}, timingOut{}, 0, 2); err == nil || !strings.Contains(err.Error(), "document 1: the tokenizer's Split regex exceeded its time limit") {
		t.Errorf("error %v", err)
	}
}
