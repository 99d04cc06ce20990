package export

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/retrofit-llm/retrofit/internal/safefile"
	"github.com/retrofit-llm/retrofit/model"
)

// The Python files transformers imports for a transformed model
// (trust_remote_code=True). The configuration template names its base family
// through baseTypeMarker, replaced when written.
//
//go:embed hf/configuration_retrofit.py hf/modeling_retrofit.py
var remoteCode embed.FS

const baseTypeMarker = "__BASE_MODEL_TYPE__"

// RemoteCodeFiles are the files WriteRemoteCode writes beside the weights.
var RemoteCodeFiles = []string{"configuration_retrofit.py", "modeling_retrofit.py"}

// AutoMap is config.json's "auto_map" for a transformed model: the classes
// AutoConfig and AutoModelForCausalLM load from the remote-code files.
var AutoMap = map[string]string{
	"AutoConfig":           "configuration_retrofit.RetrofitConfig",
	"AutoModel":            "modeling_retrofit.RetrofitModel",
	"AutoModelForCausalLM": "modeling_retrofit.RetrofitForCausalLM",
}

// NeedsRemoteCode reports whether m must be exported with remote code: its
// layout is not the identity or transforms were applied. An untransformed
// model exports as a stock Qwen2/Qwen3 checkpoint.
func NeedsRemoteCode(m *model.Model) bool {
	return !m.Layout.IsDefault() || len(m.Provenance) > 0
}

// WriteRemoteCode makes the HF directory dir, already written by SafeTensors,
// loadable with AutoModelForCausalLM.from_pretrained(dir,
// trust_remote_code=True) when m is transformed: it writes
// configuration_retrofit.py and modeling_retrofit.py and adds "auto_map" to
// dir/config.json (PatchAutoMap). model_type stays the base family (qwen2 or
// qwen3), so retrofit and other readers see the same config. For an
// untransformed model it does nothing.
func WriteRemoteCode(dir string, m *model.Model) error {
	if !NeedsRemoteCode(m) {
		return nil
	}
	family := m.Config.Family
	if family != "qwen2" && family != "qwen3" {
		return fmt.Errorf("export %s: remote code: model family %q is not qwen2 or qwen3", dir, family)
	}
	for _, name := range RemoteCodeFiles {
		src, err := remoteCode.ReadFile("hf/" + name)
		if err != nil {
			return fmt.Errorf("export %s: remote code %s: %w", dir, name, err)
		}
		src = bytes.ReplaceAll(src, []byte(baseTypeMarker), []byte(family))
		if err := writeFileAtomic(filepath.Join(dir, name), src); err != nil {
			return err
		}
	}
	return PatchAutoMap(dir)
}

// PatchAutoMap adds AutoMap as "auto_map" to dir/config.json, keeping every
// other field. The config must be a qwen2 or qwen3 one.
func PatchAutoMap(dir string) error {
	path := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("export %s: %w", path, err)
	}
	out, err := withAutoMap(data)
	if err != nil {
		return fmt.Errorf("export %s: %w", path, err)
	}
	var head struct {
		ModelType any `json:"model_type"`
	}
	json.Unmarshal(data, &head) // withAutoMap has checked it is a JSON object
	if mt, _ := head.ModelType.(string); mt != "qwen2" && mt != "qwen3" {
		return fmt.Errorf("export %s: field \"model_type\" = %v, want qwen2 or qwen3", path, head.ModelType)
	}
	return writeFileAtomic(path, out)
}

// HasRemoteCode reports whether the HF directory dir holds retrofit's
// remote-code files.
func HasRemoteCode(dir string) bool {
	for _, name := range RemoteCodeFiles {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return false
		}
	}
	return true
}

// writeFileAtomic writes data to path through a temporary file renamed into place.
func writeFileAtomic(path string, data []byte) error {
	if err := safefile.WriteFile(path, data); err != nil {
		return fmt.Errorf("export %s: %w", path, err)
	}
	return nil
}

// remoteCodeSource returns the rendered text of one remote-code file (used by
// the safetensors exporter and the tests).
func remoteCodeSource(name, family string) (string, error) {
	src, err := remoteCode.ReadFile("hf/" + name)
	if err != nil {
		return "", err
	}
	return strings.ReplaceAll(string(src), baseTypeMarker, family), nil
}
