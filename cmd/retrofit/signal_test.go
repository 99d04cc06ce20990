package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/retrofit-llm/retrofit/internal/testutil"
)

// signalLimit is how long a command may take to exit after a signal. The
// commands stop within about a second; the slack covers a loaded machine.
const signalLimit = 3 * time.Second

// started is the retrofit command running as a child process.
type started struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	lines  chan string // stderr, line by line
}

// start runs the test binary as retrofit with args, in dir.
func start(t *testing.T, dir string, args ...string) *started {
	t.Helper()
	s := &started{lines: make(chan string, 1024)}
	s.cmd = exec.Command(os.Args[0], args...)
	s.cmd.Dir = dir
	s.cmd.Env = append(os.Environ(), "RETROFIT_AS_CLI=1")
	s.cmd.Stdout = &s.stdout
	errPipe, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(errPipe)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		io.Copy(io.Discard, errPipe)
		close(s.lines)
	}()
	t.Cleanup(func() { s.cmd.Process.Kill() })
	return s
}

// waitFor reads stderr until a line contains want.
func (s *started) waitFor(t *testing.T, want string) {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case line, ok := <-s.lines:
			if !ok {
				t.Fatalf("exited before printing %q", want)
			}
			if strings.Contains(line, want) {
				return
			}
		case <-timeout:
			t.Fatalf("no %q after 60 s", want)
		}
	}
}

// signal sends sig and returns the exit code and how long the exit took.
func (s *started) signal(t *testing.T, sig syscall.Signal) (int, time.Duration) {
	t.Helper()
	at := time.Now()
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	err := s.cmd.Wait()
	took := time.Since(at)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	for range s.lines {
	}
	return s.cmd.ProcessState.ExitCode(), took
}

// tempFiles lists the temporary files (".*.tmp-*") under dir.
func tempFiles(dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".tmp-") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// bigCheckpoint is a 304 MB Qwen3-shaped checkpoint (sparse) whose export
// takes seconds.
func bigCheckpoint(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "big")
	testutil.SyntheticCheckpoint(t, dir, testutil.Qwen3Shape(32768, 1024, 4096, 8, 8, 4), false)
	return dir
}

// TestSignalExport: SIGTERM during an export ends it within the limit with
// status 143, no output and no temporary file; a SIGKILLed export's
// temporary file is removed by the next export to the same target.
func TestSignalExport(t *testing.T) {
	src := bigCheckpoint(t)
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		args []string
		sig  syscall.Signal
		code int
	}{
		{"gguf SIGTERM", []string{"export", src, "--format", "gguf", "--dtype", "f32", "-o", "out.gguf"}, syscall.SIGTERM, 143},
		{"safetensors SIGINT", []string{"export", src, "--format", "safetensors", "--dtype", "f32", "-o", "hf"}, syscall.SIGINT, 130},
		{"convert SIGTERM", []string{"convert", src, "--to", "cla", "--format", "gguf", "--dtype", "f32", "-o", "cla.gguf"}, syscall.SIGTERM, 143},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := start(t, dir, c.args...)
			s.waitFor(t, "export: ")
			code, took := s.signal(t, c.sig)
			t.Logf("exit %d %v after the signal", code, took)
			if code != c.code || took > signalLimit {
				t.Errorf("exit %d after %v, want %d within %v", code, took, c.code, signalLimit)
			}
			ents, _ := os.ReadDir(dir)
			if len(ents) != 0 {
				t.Errorf("left %v", ents)
			}
		})
	}
	t.Run("SIGKILL then rerun", func(t *testing.T) {
		s := start(t, dir, "export", src, "--format", "gguf", "--dtype", "f32", "-o", "out.gguf")
		s.waitFor(t, "export: ")
		s.signal(t, syscall.SIGKILL)
		stale := tempFiles(dir)
		if len(stale) != 1 {
			t.Fatalf("after SIGKILL: temporary files %v, want one", stale)
		}
		small := testutil.Fixture(t, "qwen3-micro")
		rerun := exec.Command(os.Args[0], "export", small, "--format", "gguf", "-o", filepath.Join(dir, "out.gguf"))
		rerun.Env = append(os.Environ(), "RETROFIT_AS_CLI=1")
		out, err := rerun.CombinedOutput()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if left := tempFiles(dir); len(left) != 0 {
			t.Errorf("the next export left %v", left)
		}
	})
}

// TestSignalEval: eval stops between windows, prints its partial result
// and exits 143.
func TestSignalEval(t *testing.T) {
	s := start(t, t.TempDir(), "eval", testutil.Fixture(t, "qwen3-micro"), "--text", filepath.Join(testutil.Root(t), "testdata", "docs-val.txt"), "--ctx", "64")
	s.waitFor(t, "eval: ")
	code, took := s.signal(t, syscall.SIGTERM)
	t.Logf("exit %d %v after the signal", code, took)
	if code != 143 || took > signalLimit {
		t.Errorf("exit %d after %v, want 143 within %v", code, took, signalLimit)
	}
	if !strings.Contains(s.stdout.String(), "interrupted: partial result") {
		t.Errorf("stdout %q", s.stdout.String())
	}
}

// TestSignalFinetune: finetune saves its checkpoint (no temporary file
// left) and exits 130 on SIGINT.
func TestSignalFinetune(t *testing.T) {
	dir := t.TempDir()
	text, err := os.ReadFile(filepath.Join(testutil.Root(t), "testdata", "docs-val.txt"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "train.txt"), text[:20000], 0o644)
	os.WriteFile(filepath.Join(dir, "val.txt"), text[20000:22000], 0o644)
	s := start(t, dir, "finetune", testutil.Fixture(t, "qwen3-micro"), "--data", "train.txt", "--eval", "val.txt",
		"--steps", "100000", "--ctx", "16", "--batch", "1", "--out", "ft")
	s.waitFor(t, "step 1/")
	code, took := s.signal(t, syscall.SIGINT)
	t.Logf("exit %d %v after the signal", code, took)
	if code != 130 || took > signalLimit {
		t.Errorf("exit %d after %v, want 130 within %v", code, took, signalLimit)
	}
	if _, err := os.Stat(filepath.Join(dir, "ft", "checkpoint.bin")); err != nil {
		t.Error(err)
	}
	if left := tempFiles(dir); len(left) != 0 {
		t.Errorf("left %v", left)
	}
}

// TestSignalKVSharer: the KVSharer search stops between candidates on
// SIGTERM, writes nothing and exits 143.
func TestSignalKVSharer(t *testing.T) {
	dir := t.TempDir()
	s := start(t, dir, "convert", testutil.Fixture(t, "qwen3-micro"), "--to", "kvsharer", "--opt", "threshold=1", "--opt", "share=1/2",
		"--calib", filepath.Join(testutil.Root(t), "testdata", "docs-val.txt"), "-o", "kvs")
	s.waitFor(t, "kvsharer: 30 samples")
	code, took := s.signal(t, syscall.SIGTERM)
	t.Logf("exit %d %v after the signal", code, took)
	if code != 143 || took > signalLimit {
		t.Errorf("exit %d after %v, want 143 within %v", code, took, signalLimit)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left %v", ents)
	}
}
