//go:build unix

package export

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/retrofit-llm/retrofit/internal/testutil"
	"github.com/retrofit-llm/retrofit/model"
)

// deadPID returns the id of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("cannot start a process:", err)
	}
	if syscall.Kill(cmd.Process.Pid, 0) == nil {
		t.Skip("pid reused")
	}
	return cmd.Process.Pid
}

// TestExportRemovesStaleTempFiles: temporary files and directories of a
// killed export (a dead PID in the name) are removed by the next export to
// that target; those of a live process and of other targets are kept.
func TestExportRemovesStaleTempFiles(t *testing.T) {
	m := loadST(t, testutil.Fixture(t, "qwen3-micro"))
	dir := t.TempDir()
	dead := strconv.Itoa(deadPID(t))
	live := strconv.Itoa(os.Getppid())
	stale := []string{".out.gguf.tmp-" + dead + "-123", ".hf.tmp-" + dead + "-9"}
	keep := []string{".out.gguf.tmp-" + live + "-5", ".other.gguf.tmp-" + dead + "-1", ".out.gguf.tmp-x"}
	for _, n := range append(stale, keep...) {
		os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600)
	}
	os.Mkdir(filepath.Join(dir, ".hf.tmp-"+dead+"-10"), 0o755)
	os.WriteFile(filepath.Join(dir, ".hf.tmp-"+dead+"-10", "model.safetensors"), []byte("partial"), 0o600)
	stale = append(stale, ".hf.tmp-"+dead+"-10")
	if err := GGUF(m, filepath.Join(dir, "out.gguf"), GGUFOptions{DType: model.Q8_0}); err != nil {
		t.Fatal(err)
	}
	if err := SafeTensors(m, filepath.Join(dir, "hf"), SafeTensorsOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, n := range stale {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			t.Errorf("stale %s kept", n)
		}
	}
	for _, n := range keep {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s removed: %v", n, err)
		}
	}
}

// TestExportModes: outputs are 0644 and directories 0755 minus the umask,
// also when they replace a file of another mode.
func TestExportModes(t *testing.T) {
	m := loadST(t, testutil.Fixture(t, "qwen3-micro"))
	for _, mask := range []int{0o022, 0o027} {
		old := syscall.Umask(mask)
		dir := t.TempDir()
		g := filepath.Join(dir, "out.gguf")
		os.WriteFile(g, nil, 0o600)
		if err := GGUF(m, g, GGUFOptions{DType: model.Q8_0}); err != nil {
			t.Fatal(err)
		}
		hf := filepath.Join(dir, "hf")
		if err := SafeTensors(m, hf, SafeTensorsOptions{}); err != nil {
			t.Fatal(err)
		}
		syscall.Umask(old)
		want := os.FileMode(0o644 &^ mask)
		check := func(p string, want os.FileMode) {
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != want {
				t.Errorf("umask %03o: %s mode %v, want %v", mask, p, st.Mode().Perm(), want)
			}
		}
		check(g, want)
		check(hf, os.FileMode(0o755&^mask))
		ents, _ := os.ReadDir(hf)
		for _, e := range ents {
			check(filepath.Join(hf, e.Name()), want)
		}
	}
}
