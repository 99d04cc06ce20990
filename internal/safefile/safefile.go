// Package safefile owns how retrofit writes output files: under a temporary
// name beside the target (".NAME.tmp-PID-RAND"), with mode 0644 (0755 for
// directories) minus the umask, renamed into place only when complete. The
// temporary files of a killed run are recognised by their dead PID and
// removed by the next run into the same target, and a target that is one of
// the inputs (same file, compared by identity) is refused.
package safefile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// FileMode and DirMode are the modes outputs are created with; the umask applies.
const (
	FileMode os.FileMode = 0o644
	DirMode  os.FileMode = 0o755
)

// File is an output file written under a temporary name beside its target
// and renamed into place by Commit. Abort (or a failed Commit) removes it.
type File struct {
	*os.File
	target string
	done   bool
}

// tmpPrefix is the start of the temporary names of target's base name.
func tmpPrefix(base string) string { return "." + base + ".tmp-" }

// Create removes the stale temporary files of target and opens a new one.
func Create(target string) (*File, error) {
	RemoveStale(target)
	dir, base := filepath.Split(target)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, tmpPrefix(base)+strconv.Itoa(os.Getpid())+"-*")
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(FileMode &^ umask()); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &File{File: f, target: target}, nil
}

// Target is the path the file is renamed to by Commit.
func (a *File) Target() string { return a.target }

// Commit flushes, closes and renames the file onto its target.
func (a *File) Commit() error {
	if a.done {
		return nil
	}
	a.done = true
	err := a.File.Sync()
	if cerr := a.File.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(a.File.Name(), a.target)
	}
	if err != nil {
		os.Remove(a.File.Name())
	}
	return err
}

// Abort removes the temporary file; it is a no-op after Commit.
func (a *File) Abort() {
	if a.done {
		return
	}
	a.done = true
	a.File.Close()
	os.Remove(a.File.Name())
}

// WriteFile writes data to path through a temporary file renamed into place.
func WriteFile(path string, data []byte) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Abort()
		return err
	}
	return f.Commit()
}

// MkdirTemp removes the stale temporary directories of target and creates
// a new, empty one beside it (mode 0755 minus the umask), to be renamed onto
// target when complete.
func MkdirTemp(target string) (string, error) {
	RemoveStale(target)
	dir, base := filepath.Split(filepath.Clean(target))
	if dir == "" {
		dir = "."
	}
	d, err := os.MkdirTemp(dir, tmpPrefix(base)+strconv.Itoa(os.Getpid())+"-*")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(d, DirMode&^umask()); err != nil {
		os.Remove(d)
		return "", err
	}
	return d, nil
}

// Stale lists the temporary files and directories of target left by runs
// whose process no longer exists.
func Stale(target string) []string {
	dir, base := filepath.Split(filepath.Clean(target))
	if dir == "" {
		dir = "."
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	prefix := tmpPrefix(base)
	var out []string
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		pidStr, _, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if !ok || err != nil || pid <= 0 || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		out = append(out, filepath.Join(dir, e.Name()))
	}
	return out
}

// RemoveStale removes what Stale lists.
func RemoveStale(target string) {
	for _, p := range Stale(target) {
		os.RemoveAll(p)
	}
}

// CheckNotInput refuses an output path that is one of the inputs: the same
// file or directory (by identity, so links and other spellings of the path
// are caught). A missing output is never an input.
func CheckNotInput(output string, inputs []string) error {
	out, err := os.Stat(output)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, in := range inputs {
		if st, err := os.Stat(in); err == nil && os.SameFile(st, out) {
			if in == output {
				return fmt.Errorf("%s is an input of this command; write the output elsewhere (inputs are never modified)", output)
			}
			return fmt.Errorf("%s is an input of this command (%s); write the output elsewhere (inputs are never modified)", output, in)
		}
	}
	return nil
}
