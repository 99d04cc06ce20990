// Command hostile runs the retrofit binary on hostile inputs, as an
// attacker and as a careless user would, and prints what happened by kind:
// inputs tried, panics, unclear errors (an error must name the file, field
// or flag at fault, in one line, with no Go stack), inputs modified, and the
// worst peak RSS and wall time of any run. Every input file is hashed before
// and after its run.
//
//	go run ./bench/hostile [-v]
package main

import (
	"bytes"
	"flag"
	"fmt"
	"hash/maphash"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// hcase is one hostile run: args after "retrofit", run in the case's
// directory; want is a substring a clear error must contain (the file,
// field or flag at fault), or, with ok, a substring of a successful run's
// output.
type hcase struct {
	kind, name string
	args       []string
	want       string
	ok         bool
}

// result of one run.
type result struct {
	hcase
	code      int
	stderr    string
	rssKB     int64
	took      time.Duration
	panicked  bool
	unclear   bool
	clobbered []string
}

var verbose = flag.Bool("v", false, "print every case")

func main() {
	flag.Parse()
	root, err := os.Getwd()
	check(err)
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		fail("run from the repository root")
	}
	results, err := runAll(root, *verbose, 1)
	check(err)
	report(results)
}

// runAll builds retrofit from the repository at root, writes the hostile
// inputs to a temporary directory and runs every case, workers at a time
// (1 for the measured table).
func runAll(root string, verbose bool, workers int) ([]result, error) {
	work, err := os.MkdirTemp("", "retrofit-hostile-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	bin := filepath.Join(work, "retrofit")
	binPath = bin
	build := exec.Command("go", "build", "-o", bin, "./cmd/retrofit")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build: %v\n%s", err, out)
	}
	g := &gen{root: root, dir: filepath.Join(work, "cases"), testdata: filepath.Join(root, "testdata")}
	if err := os.MkdirAll(g.dir, 0o755); err != nil {
		return nil, err
	}
	cases := g.all()
	results := make([]result, len(cases))
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for w := 0; w < max(workers, 1); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r := runCase(bin, g.dir, cases[i])
				results[i] = r
				if verbose || r.panicked || r.unclear || len(r.clobbered) > 0 {
					mu.Lock()
					printResult(r)
					mu.Unlock()
				}
			}
		}()
	}
	for i := range cases {
		next <- i
	}
	close(next)
	wg.Wait()
	return results, nil
}

// printResult prints one case's line to stderr.
func printResult(r result) {
	flag := ""
	switch {
	case r.panicked:
		flag = "PANIC "
	case len(r.clobbered) > 0:
		flag = "CLOBBERED "
	case r.unclear:
		flag = "UNCLEAR "
	}
	fmt.Fprintf(os.Stderr, "%s%-10s %-40s exit %d %6.2fs %5d MB  %s\n", flag, r.kind, r.name, r.code, r.took.Seconds(), r.rssKB>>10, firstLine(r.stderr))
}

// runCase runs one case and judges it.
func runCase(bin, dir string, c hcase) result {
	before := hashInputs(dir, c.args)
	// GNU time reports the child's own peak RSS (a child started directly
	// from this process would inherit this process's high-water mark).
	f, err := os.CreateTemp(filepath.Dir(bin), "rss-")
	check(err)
	f.Close()
	rssFile := f.Name()
	defer os.Remove(rssFile)
	cmd := exec.Command("/usr/bin/time", append([]string{"-f", "%M", "-o", rssFile, bin}, c.args...)...)
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		// Without GNU time: the child's own rusage, which on Linux also
		// counts this (small) process's resident memory at the fork.
		cmd = exec.Command(bin, c.args...)
	}
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	check(cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var timedOut bool
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		timedOut = true
	}
	r := result{hcase: c, took: time.Since(start), stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
	r.rssKB = maxRSSKB(cmd.ProcessState)
	if b, err := os.ReadFile(rssFile); err == nil {
		f := strings.Fields(string(b))
		if len(f) > 0 {
			r.rssKB, _ = strconv.ParseInt(f[len(f)-1], 10, 64)
		}
	}
	all := stdout.String() + stderr.String()
	r.panicked = strings.Contains(all, "panic:") || strings.Contains(all, "goroutine ") || strings.Contains(all, "fatal error")
	if c.ok {
		r.unclear = r.code != 0 || !strings.Contains(all, c.want)
	} else {
		lines := strings.Split(strings.TrimSpace(stripProgress(r.stderr)), "\n")
		last := lines[len(lines)-1]
		r.unclear = timedOut || r.code == 0 || !strings.HasPrefix(last, "retrofit: ") || !strings.Contains(last, c.want) || len(last) > 600
	}
	after := hashInputs(dir, c.args)
	for p, h := range before {
		if after[p] != h {
			r.clobbered = append(r.clobbered, p)
		}
	}
	return r
}

// progressLine is what long commands print to stderr as they go.
var progressLine = regexp.MustCompile(`^\w+: \d+/\d+ \([0-9hms.]+\)$`)

// stripProgress drops the progress lines long commands print to stderr.
func stripProgress(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if !progressLine.MatchString(l) {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// hashSeed keys the content hashes compared before and after each run.
var hashSeed = maphash.MakeSeed()

// hashInputs hashes every regular file named by an argument, or under a
// directory named by one (following links), relative to dir.
func hashInputs(dir string, args []string) map[string]uint64 {
	out := map[string]uint64{}
	for _, a := range args {
		if !filepath.IsAbs(a) {
			a = filepath.Join(dir, a)
		}
		if _, err := os.Stat(a); err != nil {
			continue
		}
		filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			if b, err := os.ReadFile(p); err == nil {
				out[p] = maphash.Bytes(hashSeed, b)
			}
			return nil
		})
	}
	return out
}

// report prints the table by kind.
func report(rs []result) {
	type agg struct {
		n, panics, unclear, clobbered int
		rss                           int64
		took                          time.Duration
	}
	by := map[string]*agg{}
	var kinds []string
	tot := &agg{}
	for _, r := range rs {
		a := by[r.kind]
		if a == nil {
			a = &agg{}
			by[r.kind] = a
			kinds = append(kinds, r.kind)
		}
		for _, x := range []*agg{a, tot} {
			x.n++
			if r.panicked {
				x.panics++
			}
			if r.unclear {
				x.unclear++
			}
			if len(r.clobbered) > 0 {
				x.clobbered++
			}
			x.rss = max(x.rss, r.rssKB)
			x.took = max(x.took, r.took)
		}
	}
	sort.SliceStable(kinds, func(i, j int) bool { return kindOrder(kinds[i]) < kindOrder(kinds[j]) })
	fmt.Println("| hostile input kind | inputs | panics | unclear errors | inputs clobbered | worst peak RSS | worst time |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|")
	row := func(name string, a *agg) {
		fmt.Printf("| %s | %d | %d | %d | %d | %.0f MB | %.2f s |\n", name, a.n, a.panics, a.unclear, a.clobbered, float64(a.rss)/1024, a.took.Seconds())
	}
	for _, k := range kinds {
		row(kindTitle[k], by[k])
	}
	row("**all**", tot)
}

func firstLine(s string) string {
	s = strings.TrimSpace(stripProgress(s))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 140 {
		s = s[:140] + "…"
	}
	return s
}

func check(err error) {
	if err != nil {
		fail("%v", err)
	}
}

func fail(f string, a ...any) {
	fmt.Fprintf(os.Stderr, "hostile: "+f+"\n", a...)
	os.Exit(1)
}
